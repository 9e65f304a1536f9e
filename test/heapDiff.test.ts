import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { gone, type HeapSnapshot } from '../bench/heapDiff.ts';

// bench/held.ts's comparison of two heap snapshots of one process, on real snapshots (of a
// worker: its heap is small, so they are quick): objects let go between them are found by kind
// and by the live object and property that held them; objects kept are not.
const WORKER = `
const { parentPort } = require('node:worker_threads');
class HeldForAWhile { constructor(n) { this.n = n; } }
class KeptThroughout {}
globalThis.registry = { waiting: new Map(), kept: new KeptThroughout() };
parentPort.on('message', (step) => {
  if (step === 'hold') for (let n = 0; n < 7; n++) registry.waiting.set(n, new HeldForAWhile(n));
  if (step === 'let go') registry.waiting = new Map();
  parentPort.postMessage(step);
});
`;

describe('gone(a, b)', () => {
  it('lists the objects of a that b no longer has, by kind and by the property that held them', async () => {
    const worker = new Worker(WORKER, { eval: true });
    const step = (name: string) =>
      new Promise<void>((resolve) => {
        worker.once('message', () => resolve());
        worker.postMessage(name);
      });
    const snapshot = async () => {
      let text = '';
      for await (const chunk of await worker.getHeapSnapshot()) text += chunk;
      return JSON.parse(text) as HeapSnapshot;
    };
    try {
      await step('start');
      await snapshot(); // the first snapshot makes V8 keep objects' ids across the next ones
      await step('hold');
      const a = await snapshot();
      await step('let go');
      const diff = gone(a, await snapshot());
      const held = diff.byKind.find((r) => r.what === 'object:HeldForAWhile');
      expect(held?.count).toBe(7);
      expect(diff.byKind.find((r) => r.what === 'object:KeptThroughout')).toBeUndefined();
      // The old Map is the one root, held by the registry's property; the seven objects are below it.
      const root = diff.byHolder.find((r) => r.what.startsWith('object:Map <- '));
      expect(root?.what).toBe('object:Map <- object:Object.waiting');
      expect(root?.count).toBe(1);
      expect(root?.bytes).toBeGreaterThanOrEqual(held?.bytes ?? Number.POSITIVE_INFINITY);
      expect(diff.byHolder.some((r) => r.what.startsWith('object:HeldForAWhile <- '))).toBe(false);
    } finally {
      await worker.terminate();
    }
  });
});
