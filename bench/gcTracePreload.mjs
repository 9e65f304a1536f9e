// Loaded into a bench server by bench/gcTrace.ts (--import): writes to stdout, between V8's own
// --trace-gc lines, the window's edges (the driver's 'watch' / 'watched' asks) and, after each
// mark-compact, what V8's trace does not print: ArrayBuffer bytes and the young generation's
// capacity. stdout is a file here, so the lines keep their order with V8's.
import { PerformanceObserver, constants } from 'node:perf_hooks';
import { getHeapSpaceStatistics } from 'node:v8';
import { writeSync } from 'node:fs';

const MiB = 2 ** 20;
function state() {
  const m = process.memoryUsage();
  const spaces = getHeapSpaceStatistics();
  const space = (name) => spaces.find((s) => s.space_name === name);
  const young = space('new_space');
  const old = space('old_space');
  return `arrayBuffers ${(m.arrayBuffers / MiB).toFixed(1)} MiB, external ${(m.external / MiB).toFixed(1)} MiB, rss ${(m.rss / MiB).toFixed(1)} MiB, heapUsed ${(m.heapUsed / MiB).toFixed(1)} MiB, new_space size ${(young.space_size / MiB).toFixed(1)} MiB, old_space used/size ${(old.space_used_size / MiB).toFixed(1)}/${(old.space_size / MiB).toFixed(1)} MiB`;
}
const say = (line) => writeSync(1, `@@ ${Math.round(process.uptime() * 1000)} ms ${line}\n`);
// Inside the window, the state every 250 ms too: the line before an incremental marking's
// "Start (…)" is what the heap and ArrayBuffers were at most 250 ms before it.
let ticker;
process.on('message', (ask) => {
  if (ask === 'watch') {
    say(`WINDOW START: ${state()}`);
    ticker = setInterval(() => say(`state: ${state()}`), 250);
  }
  if (ask === 'watched') {
    clearInterval(ticker);
    say(`WINDOW END: ${state()}`);
  }
  if (ask === 'mark') say(`MARK: ${state()}`);
});
new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) {
    if (entry.detail?.kind === constants.NODE_PERFORMANCE_GC_MAJOR) say(`after mark-compact (${entry.duration.toFixed(1)} ms): ${state()}`);
  }
}).observe({ entryTypes: ['gc'] });
