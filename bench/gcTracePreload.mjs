// Loaded into a bench server by bench/gcTrace.ts (--import): writes to stdout, between V8's own
// trace lines, what V8's trace does not say: the phases' edges (the driver's `{ gcTrace: phase }`
// asks: warm-up, idle, window, after) and, with each, ArrayBuffer bytes, RSS and the spaces; the
// same every 250 ms in the window and after each mark-compact. stdout is a file here and V8
// flushes each of its lines, so the lines keep their order with V8's: bench/gcTraceRead.ts
// places each GC in a phase by that order. Times are on V8's trace clock (ms since the isolate
// began: performance.now() less V8's start), so both read alike.
import { writeSync } from 'node:fs';
import { PerformanceObserver, constants, performance } from 'node:perf_hooks';
import { getHeapSpaceStatistics } from 'node:v8';

const MiB = 2 ** 20;
function state() {
  const m = process.memoryUsage();
  const spaces = getHeapSpaceStatistics();
  const space = (name) => spaces.find((s) => s.space_name === name);
  const young = space('new_space');
  const old = space('old_space');
  return `arrayBuffers ${(m.arrayBuffers / MiB).toFixed(1)} MiB, external ${(m.external / MiB).toFixed(1)} MiB, rss ${(m.rss / MiB).toFixed(1)} MiB, heapUsed ${(m.heapUsed / MiB).toFixed(1)} MiB, new_space size ${(young.space_size / MiB).toFixed(1)} MiB (2 semi-spaces), old_space used/size ${(old.space_used_size / MiB).toFixed(1)}/${(old.space_size / MiB).toFixed(1)} MiB`;
}
const say = (line) => writeSync(1, `@@ ${Math.round(performance.now() - performance.nodeTiming.v8Start)} ms ${line}\n`);
// In the window, the state every 250 ms too: the line before an incremental marking's
// "Start (…)" is what the heap and ArrayBuffers were at most 250 ms before it.
let ticker;
process.on('message', (ask) => {
  const phase = typeof ask === 'object' && ask !== null ? ask.gcTrace : undefined;
  if (typeof phase !== 'string') return;
  say(`PHASE ${phase}: ${state()}`);
  // The driver waits for this before it sends the phase's load: no request of it comes before the marker.
  process.send?.({ gcTraceAt: phase });
  clearInterval(ticker);
  if (phase === 'window') ticker = setInterval(() => say(`state: ${state()}`), 250);
});
new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) {
    if (entry.detail?.kind === constants.NODE_PERFORMANCE_GC_MAJOR) say(`after mark-compact (${entry.duration.toFixed(1)} ms): ${state()}`);
  }
}).observe({ entryTypes: ['gc'] });
