/**
 * In a bench server's process (servers.ts, asked over IPC): which functions allocated what
 * outlived a young-generation GC during a window, from V8's sampling heap profiler with the
 * objects scavenges freed left out (those a mark-compact freed later kept in): what the server
 * promoted (or allocated in the old generation at once), or was still holding at the end, by
 * allocating function, under a real load.
 * bench/promoted.ts drives it; bench/alloc.ts's BENCH_LIVE counts only what is still alive
 * after a whole pass, which misses what lives a few seconds (timers, queues, buffers).
 */
import { Session } from 'node:inspector/promises';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

let session: Session | undefined;

/** Starts sampling (`interval`: mean bytes between samples). */
export async function start(interval: number): Promise<void> {
  session ??= new Session();
  session.connect();
  await session.post('HeapProfiler.startSampling', { samplingInterval: interval, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: false });
}

/** One allocating function (with its caller) and the sampled bytes that outlived a scavenge. */
export interface Survivor {
  where: string;
  bytes: number;
}

/** Stops sampling; the functions by bytes, most first, their callers when `callers`. */
export async function stop(callers: boolean): Promise<Survivor[]> {
  if (!session) throw new Error('stop() before start()');
  // The young generation's dead objects still count until a scavenge frees them: up to a
  // semi-space of them (~1 KB a request at 3 000 req/s). Two scavenges now leave what is alive.
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as (options: { type: 'minor' | 'major' }) => void;
  gc({ type: 'minor' });
  gc({ type: 'minor' });
  const { profile } = await session.post('HeapProfiler.stopSampling');
  session.disconnect();
  type Node = (typeof profile)['head'];
  const label = (f: Node['callFrame']) =>
    `${f.functionName || '(anonymous)'} ${f.url.replace(/^.*\/(node_modules|packages|plugins|bench)\//, '$1/')}:${f.lineNumber + 1}:${f.columnNumber + 1}`;
  const bytes = new Map<string, number>();
  const walk = (node: Node, caller: string): void => {
    const here = label(node.callFrame);
    const key = callers ? `${here} ← ${caller}` : here;
    bytes.set(key, (bytes.get(key) ?? 0) + node.selfSize);
    for (const child of node.children) walk(child, here);
  };
  walk(profile.head, '');
  return [...bytes].map(([where, b]) => ({ where, bytes: b })).sort((a, b) => b.bytes - a.bytes);
}
