/**
 * Preloaded into a bench server (`--import bench/fullGc.ts`, with --expose-gc) by
 * bench/resting.ts: answers the IPC ask 'fullGc' with `{ fullGc }`, the CPU one full
 * mark-compact of the server's heap takes as it is: BENCH_GC_REPEATS forced collections, their
 * shortest and median CPU ms (the process's, so the GC's helper threads count too; CPU rather
 * than wall-clock time, which a busy machine stretches by whatever else runs). Marking work
 * grows with what is live, so a heap that holds less pays less in every mark-compact V8
 * starts under load.
 */
const REPEATS = Number(process.env.BENCH_GC_REPEATS ?? 30);

/** A full GC's CPU ms over REPEATS runs. */
export interface FullGc {
  minMs: number;
  medianMs: number;
}

process.on('message', (ask) => {
  if (ask !== 'fullGc') return;
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('fullGc needs --expose-gc');
  const times: number[] = [];
  for (let i = 0; i < REPEATS; i++) {
    const started = process.cpuUsage();
    gc();
    const used = process.cpuUsage(started);
    times.push((used.user + used.system) / 1000);
  }
  times.sort((a, b) => a - b);
  process.send?.({ fullGc: { minMs: times[0]!, medianMs: times[times.length >> 1]! } satisfies FullGc });
});
