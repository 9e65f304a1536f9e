import { describe, expect, it } from 'vitest';
import { readTrace } from '../bench/gcTraceRead.ts';

// bench/gcTrace.ts's reader of a kept trace: V8's --trace-gc-nvp / --trace-gc-verbose /
// --trace-incremental-marking lines of two isolates (the server's, 0xa, and tsx's loader
// worker, 0xb) and the preload's `@@` lines, as a server's stdout has them (nvp lines cut to
// the fields the reader uses).
const MAIN = '[100:0xa]';
const WORKER = '[100:0xb]';
const gc = (isolate: string, ms: number, kind: string, survived: number, promoted: number, newSpaceKB: number, oldKB: number, externalKB: number) => [
  `${isolate} ${String(ms).padStart(8)} ms: pause=1.0 mutator=5.0 gc=${kind} reduce_memory=0 total_size_before=20000000 total_size_after=19000000 promoted=${promoted} new_space_survived=${survived}`,
  `${isolate} New space,              used:      0 KB, available:  100 KB, committed:  ${newSpaceKB * 2} KB`,
  `${isolate} Old space,              used:  ${oldKB} KB, available:     60 KB, committed:  31968 KB`,
  `${isolate} Code space,             used:     1000 KB, available:      0 KB, committed:    256 KB`,
  `${isolate} Large object space,     used:   500 KB, available:      0 KB, committed:   4800 KB`,
  `${isolate} External memory reported:     ${externalKB} KB`,
];
const state = 'arrayBuffers 1.0 MiB, new_space size 32.0 MiB (2 semi-spaces)';
const trace = [
  ...gc(MAIN, 50, 's', 2048, 1024, 1024, 5000, 100),
  ...gc(WORKER, 60, 's', 1024, 0, 512, 3000, 0),
  `@@ 1000 ms PHASE warm-up: ${state}`,
  ...gc(MAIN, 1100, 's', 4096, 2048, 2048, 9000, 200),
  ...gc(MAIN, 1200, 'mc', 0, 0, 4096, 20000, 10240),
  `@@ 1300 ms PHASE idle: ${state}`,
  ...gc(WORKER, 5000, 'mc', 0, 0, 512, 3000, 0),
  `${WORKER}     5000 ms: [IncrementalMarking] Start (memory reducer): (size/limit/slack) v8: 3MB / 10MB / 7MB global: 3MB / 10MB / 7MB`,
  `@@ 16000 ms PHASE window: ${state}`,
  // Its time is before the marker's (the preload's clock is V8's, near enough), its place after it: in the window.
  ...gc(MAIN, 15999, 's', 40960, 1024, 512, 20001, 20480),
  `@@ 16250 ms state: arrayBuffers 30.0 MiB, ${state}`,
  ...gc(MAIN, 16300, 's', 51200, 3072, 1024, 20002, 40960),
  `${MAIN}    16400 ms: [IncrementalMarking] Start (task): (size/limit/slack) v8: 29MB / 59MB / 30MB global: 29MB / 59MB / 30MB`,
  `${MAIN}    16400 ms: [IncrementalMarking] Start marking`,
  ...gc(MAIN, 16500, 'mc', 0, 0, 1024, 20000, 40960),
  ...gc(WORKER, 16600, 'mc', 0, 0, 512, 3000, 0),
  `@@ 16700 ms after mark-compact (1.0 ms): ${state}`,
  `@@ 26000 ms PHASE after: ${state}`,
  '@@ 0 ms RESULT {"count":45000,"rps":4500,"errors":0}',
].join('\n');

describe('readTrace (bench/gcTrace.ts)', () => {
  const read = readTrace(trace);
  const row = (phase: string) => read.rows.find((r) => r.phase === phase)!;

  it("counts the server's isolate only: the loader worker's mark-compacts and marking starts are left out", () => {
    expect(read.rows.map((r) => [r.phase, r.markCompacts])).toEqual([
      ['start', 0],
      ['warm-up', 1],
      ['idle', 0],
      ['window', 1],
      ['after', 0],
    ]);
    expect(row('idle').reasons).toEqual([]);
    expect(row('window').reasons).toEqual(['task']);
  });

  it('places each GC in the phase whose marker came before it in the file, whatever its time', () => {
    expect(read.phases).toEqual([
      { name: 'start', ms: 0 },
      { name: 'warm-up', ms: 1000 },
      { name: 'idle', ms: 1300 },
      { name: 'window', ms: 16000 },
      { name: 'after', ms: 26000 },
    ]);
    expect(row('start').scavenges).toBe(1);
    expect(row('window').scavenges).toBe(2);
    expect(row('idle').scavenges).toBe(0);
  });

  it('sums what the scavenges of a phase kept and promoted, and lists the capacities the new space went through', () => {
    expect(row('window')).toMatchObject({ survived: 40960 + 51200, promoted: 1024 + 3072, capacities: [512, 1024] });
    expect(row('warm-up')).toMatchObject({ survived: 4096, promoted: 2048, capacities: [2048, 4096] });
  });

  it('gives a marking start the last GC before it, the external memory grown since the last mark-compact and the preload line before it', () => {
    const start = read.events.find((e) => e.type === 'marking');
    expect(start).toMatchObject({ phase: 'window', reason: 'task', externalSinceMarkCompactKB: 40960 - 10240 });
    if (start?.type !== 'marking') throw new Error('no marking start');
    expect(start.lastGc).toMatchObject({ ms: 16300, capacityKB: 1024, oldKB: 20002 + 1000 + 500, externalKB: 40960 });
    expect(start.lastState?.text).toBe(`state: arrayBuffers 30.0 MiB, ${state}`);
  });

  it("reads the driver's result line", () => {
    expect(read.result).toEqual({ count: 45000, rps: 4500, errors: 0 });
  });

  it('refuses a trace without phase markers (a trace of another tool)', () => {
    expect(() => readTrace(gc(MAIN, 50, 's', 0, 0, 1024, 5000, 0).join('\n'))).toThrow(/no phase markers/);
  });
});
