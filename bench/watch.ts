/**
 * What a bench server's own process saw during a window: how late its event loop ran
 * (perf_hooks.monitorEventLoopDelay, sampled every millisecond) and its garbage collector's
 * pauses by kind (PerformanceObserver 'gc' entries). A client's p99 on a shared machine mostly
 * measures the machine; these are measured inside the server, so they move far less with the
 * load. Nothing runs until the first `start()` (servers not asked pay nothing).
 */
import { GCProfiler } from 'node:v8';
import { constants, type EventLoopUtilization, type IntervalHistogram, monitorEventLoopDelay, PerformanceObserver, performance } from 'node:perf_hooks';

/** GC pauses of one kind in the window: how many, their sum and the longest, in ms. */
export interface Pauses {
  count: number;
  totalMs: number;
  maxMs: number;
}

/** What `watched()` reports (all times in ms). */
export interface Watched {
  /** How late the loop ran a 1 ms timer: percentiles and the worst. */
  loop: { p50: number; p99: number; max: number; mean: number };
  /** Share of the window the loop was busy (not waiting for I/O), 0–1. */
  busy: number;
  /** Scavenges (young generation). */
  scavenge: Pauses;
  /** Mark-compact (old generation; the final pause of an incremental marking included). */
  markCompact: Pauses;
  /** Incremental marking steps and weak callbacks. */
  other: Pauses;
  /**
   * Bytes scavenges moved into the old generation (its growth across each, large objects
   * included), and what the young generation still held after them, on average: what the
   * server keeps past a scavenge, in bytes, which no machine load changes (v8.GCProfiler).
   */
  promotedBytes: number;
  survivedBytes: number;
  /**
   * Bytes the old generation grew by between GCs (large objects included): what was allocated
   * there directly, not promoted. A long-lived Map or Set that is written and deleted from often
   * allocates each new table of its rehashes there (V8 keeps a table in its Map's generation).
   */
  oldAllocatedBytes: number;
}

const pauses = (): Pauses => ({ count: 0, totalMs: 0, maxMs: 0 });

let histogram: IntervalHistogram | undefined;
let utilization: EventLoopUtilization | undefined;
let gc = { scavenge: pauses(), markCompact: pauses(), other: pauses() };
let profiler: GCProfiler | undefined;

type SpaceStats = { spaceName: string; spaceUsedSize: number }[];
const used = (spaces: SpaceStats, name: string) => spaces.find((s) => s.spaceName === name)?.spaceUsedSize ?? 0;
const old = (spaces: SpaceStats) => used(spaces, 'old_space') + used(spaces, 'large_object_space');

function add(p: Pauses, ms: number): void {
  p.count++;
  p.totalMs += ms;
  if (ms > p.maxMs) p.maxMs = ms;
}

/** Starts (or restarts) the window. */
export function start(): void {
  if (!histogram) {
    histogram = monitorEventLoopDelay({ resolution: 1 });
    new PerformanceObserver((list) => {
      for (const entry of list.getEntries()) {
        const kind = (entry as unknown as { detail?: { kind?: number } }).detail?.kind;
        add(kind === constants.NODE_PERFORMANCE_GC_MINOR ? gc.scavenge : kind === constants.NODE_PERFORMANCE_GC_MAJOR ? gc.markCompact : gc.other, entry.duration);
      }
    }).observe({ entryTypes: ['gc'] });
  }
  histogram.disable();
  histogram.reset();
  histogram.enable();
  gc = { scavenge: pauses(), markCompact: pauses(), other: pauses() };
  profiler?.stop();
  profiler = new GCProfiler();
  profiler.start();
  utilization = performance.eventLoopUtilization();
}

/** What the window saw since `start()`. */
export function watched(): Watched {
  if (!histogram || !utilization || !profiler) throw new Error('watched() before start()');
  type Stats = { gcType: string; beforeGC: { heapSpaceStatistics: SpaceStats }; afterGC: { heapSpaceStatistics: SpaceStats } };
  const all = (profiler.stop() as unknown as { statistics: Stats[] }).statistics ?? [];
  const scavenges = all.filter((s) => s.gcType === 'Scavenge');
  profiler = undefined;
  let oldAllocatedBytes = 0;
  for (let i = 1; i < all.length; i++) oldAllocatedBytes += Math.max(0, old(all[i]!.beforeGC.heapSpaceStatistics) - old(all[i - 1]!.afterGC.heapSpaceStatistics));
  let promotedBytes = 0;
  let survivedBytes = 0;
  for (const s of scavenges) {
    promotedBytes += Math.max(0, old(s.afterGC.heapSpaceStatistics) - old(s.beforeGC.heapSpaceStatistics));
    survivedBytes += used(s.afterGC.heapSpaceStatistics, 'new_space');
  }
  const ms = (ns: number) => Math.round(ns / 1e4) / 100;
  const loop = { p50: ms(histogram.percentile(50)), p99: ms(histogram.percentile(99)), max: ms(histogram.max), mean: ms(histogram.mean) };
  const round = (p: Pauses): Pauses => ({ count: p.count, totalMs: Math.round(p.totalMs * 100) / 100, maxMs: Math.round(p.maxMs * 100) / 100 });
  return {
    loop,
    busy: Math.round(performance.eventLoopUtilization(utilization).utilization * 1000) / 1000,
    scavenge: round(gc.scavenge),
    markCompact: round(gc.markCompact),
    other: round(gc.other),
    promotedBytes,
    oldAllocatedBytes,
    survivedBytes: scavenges.length ? Math.round(survivedBytes / scavenges.length) : 0,
  };
}
