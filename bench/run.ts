/**
 * Shared by the benches: start one server of servers.ts in its own process, load it with
 * autocannon from a list of prebuilt callbacks, read its CPU time, stop it.
 */
import { fork, type Serializable, spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import autocannon from 'autocannon';
import type { CryptoMode } from './config.ts';
import type { Callback } from './traffic.ts';
import type { FullGc } from './fullGc.ts';
import type { Scripts } from './scripts.ts';
import type { Served } from './served.ts';
import type { Survivor } from './survived.ts';
import type { Watched } from './watch.ts';

/** Node flags of the server processes (tsx until the packages run compiled). */
const NODE_ARGS = (process.env.BENCH_NODE_ARGS ?? '--conditions=@wxbot/source --import tsx').split(' ').filter(Boolean);

/**
 * Preloaded into every server, this checkout's whatever the server's (`server@dir` too): the
 * server-side latency of a watched window's requests (served.ts). Outside a window it records
 * nothing (~0.7k instructions a request for node:http's publishes; ~3.2k in a window: servedInstructions.ts).
 */
const SERVED = ['--import', resolve(import.meta.dirname, 'served.ts')];

/**
 * CPUs the server processes are confined to (a `taskset` list, e.g. `1`), all their threads, once
 * they listen; unset, the OS places them. With the load generator confined to the others
 * (`taskset -c 0 npx tsx … bench/latency.ts`), a server and the generator no longer take turns
 * on the same vCPU, the first source of a p99 that is outside the server (bench/README.md,
 * session 14).
 */
const SERVER_CPUS = process.env.BENCH_SERVER_CPUS;

/** What a server's memory holds after a full GC, in bytes. */
export interface HeapBytes {
  heapUsed: number;
  arrayBuffers: number;
}

export interface BenchServer {
  readonly name: string;
  readonly port: number;
  /** The server process's id (its /proc/PID/stat: page faults, bench/faults.ts). */
  readonly pid: number;
  /** CPU µs (user + system) the server used since the last call. */
  cpu(): Promise<number>;
  /**
   * Bytes in use after a full GC (needs --expose-gc): the JS heap, and ArrayBuffers outside it
   * (where the dedup's marks and answers and the hand-off's history are kept).
   */
  heap(): Promise<HeapBytes>;
  /** Starts a window of the server's event-loop delay and GC pauses (see watch.ts). */
  watch(): void;
  /**
   * What the server's loop and GC did since `watch()`, and `served`: how long the server took
   * over each request of the window, from node:http's request to its response's finish (served.ts).
   */
  watched(): Promise<Watched & { served: Served }>;
  /** Starts sampling what outlives scavenges, one sample every `interval` bytes (survived.ts). */
  sample(interval: number): void;
  /** What outlived scavenges since `sample()`, by allocating function (and caller, with `callers`). */
  sampled(callers: boolean): Promise<Survivor[]>;
  /** Writes a heap snapshot of the server to `file` (stalls it for seconds); resolves once written. */
  snapshot(file: string): Promise<string>;
  /** The scripts the server has parsed (needs `--import <bench/scripts.ts>` among its Node args). */
  scripts(): Promise<Scripts>;
  /** How long a full GC of the server's heap takes (needs `--expose-gc --import <bench/fullGc.ts>`). */
  fullGc(): Promise<FullGc>;
  stop(): void;
}

/**
 * `name` is a server of servers.ts, or `server@dir`: that server as another checkout at `dir`
 * has it (its own bench/servers.ts, packages and dist), to compare two versions side by side
 * in the same run (e.g. `BENCH_SERVERS=koa,wxbot,wxbot@/tmp/base`).
 */
export async function startServer(name: string, mode: CryptoMode, extraNodeArgs: string[] = []): Promise<BenchServer> {
  const at = name.indexOf('@');
  const [server, dir] = at < 0 ? [name, resolve(import.meta.dirname, '..')] : [name.slice(0, at), resolve(name.slice(at + 1))];
  const child = fork(resolve(dir, 'bench', 'servers.ts'), [server, mode], { execArgv: [...NODE_ARGS, ...SERVED, ...extraNodeArgs], stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
  // Answers come back in the order asked, each under its own field: a queue of waiters a field.
  const waiting = new Map<string, ((answer: never) => void)[]>();
  const ask = <T>(field: string, message: Serializable) =>
    new Promise<T>((ok) => {
      let queue = waiting.get(field);
      if (!queue) waiting.set(field, (queue = []));
      queue.push(ok as (answer: never) => void);
      child.send(message);
    });
  const port = await new Promise<number>((ok, fail) => {
    child.on('message', (m: Record<string, unknown>) => {
      if (typeof m['port'] === 'number') ok(m['port']);
      for (const [field, queue] of waiting) if (m[field] !== undefined) queue.shift()?.(m[field] as never);
    });
    child.on('exit', (code) => fail(new Error(`${name} server exited with ${code}`)));
  });
  if (SERVER_CPUS) {
    const pinned = spawnSync('taskset', ['--all-tasks', '--cpu-list', '--pid', SERVER_CPUS, String(child.pid)], { encoding: 'utf8' });
    if (pinned.status !== 0) throw new Error(`taskset ${SERVER_CPUS} of ${name} failed: ${pinned.stderr}`);
  }
  return {
    name,
    port,
    pid: child.pid!,
    cpu: () => ask<number>('cpu', 'cpu'),
    heap: () => ask<HeapBytes>('heap', 'heap'),
    watch: () => child.send('watch'),
    watched: async () => {
      const [watched, served] = await Promise.all([ask<Watched>('watched', 'watched'), ask<Served>('served', 'served')]);
      return { ...watched, served };
    },
    sample: (interval) => child.send({ sample: interval }),
    sampled: (callers) => ask<Survivor[]>('survivors', { sampled: callers }),
    snapshot: (file) => ask<string>('snapshot', { snapshot: file }),
    scripts: () => ask<Scripts>('scripts', 'scripts'),
    fullGc: () => ask<FullGc>('fullGc', 'fullGc'),
    stop: () => child.kill('SIGKILL'),
  };
}

export interface LoadResult {
  rps: number;
  /**
   * Requests a second from the first request built to the last: `rps` is the mean of whole
   * seconds' counts, and a load of an `amount` ends on the next whole second after its last answer.
   */
  rate: number;
  p50: number;
  p99: number;
  errors: number;
  count: number;
  /** Messages `more` built during the load (its process busy building them meanwhile). */
  built: number;
}

export interface LoadOptions {
  /** How long to send; or `amount`, how many requests. */
  seconds?: number;
  amount?: number;
  connections: number;
  /** Requests per second over all connections (unset: as fast as the server answers). */
  rate?: number;
  /** Seconds before a request counts as timed out (autocannon's default: 10). */
  timeout?: number;
  /**
   * Builds new messages when `callbacks` run out, instead of sending them again: repeats are
   * answered from dedup's cache, which flatters a bot (see `LoadResult.built`).
   */
  more?: (count: number) => readonly Callback[];
}

/** Sends `callbacks` in order (one each) for `seconds`; builds more or warns when they run out. */
export async function load(port: number, callbacks: readonly Callback[], options: LoadOptions): Promise<LoadResult> {
  let list = callbacks;
  let built = 0;
  let next = 0;
  const started = performance.now();
  let lastBuilt = started;
  const result = await autocannon({
    url: `http://127.0.0.1:${port}`,
    connections: options.connections,
    ...(options.amount !== undefined ? { amount: options.amount } : { duration: options.seconds }),
    ...(options.rate !== undefined && { overallRate: options.rate }),
    ...(options.timeout !== undefined && { timeout: options.timeout }),
    requests: [
      {
        method: 'POST',
        headers: { 'content-type': 'text/xml' },
        setupRequest: (req) => {
          if (next === list.length && options.more) {
            // Copied once: the caller's list stays as it was.
            const extended = list === callbacks ? [...callbacks] : (list as Callback[]);
            const more = options.more(256); // a short stall of this process (~10 ms in safe mode)
            for (const callback of more) extended.push(callback);
            built += more.length;
            list = extended;
          }
          const r = list[next++ % list.length]!;
          lastBuilt = performance.now();
          return { ...req, path: r.path, body: r.body };
        },
      },
    ],
  });
  if (next > list.length) console.warn(`${next} requests outran ${list.length} new messages: some were repeats; raise BENCH_MESSAGES`);
  return {
    rps: result.requests.average,
    rate: (next * 1000) / (lastBuilt - started),
    p50: result.latency.p50,
    p99: result.latency.p99,
    errors: result.errors + result.non2xx + result.timeouts,
    count: result.requests.total,
    built,
  };
}

/** The median of a list of numbers. */
export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}
