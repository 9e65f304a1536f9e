/**
 * What makes a server's latency tail, compared between two servers (or two checkouts of one:
 * `server@dir`, see run.ts) at the same fixed rate, one at a time, order swapped every pair,
 * every request a new message: from inside each server's process (watch.ts) the event loop's
 * delay (p99 and worst, ms) and GC pauses by kind (scavenges and mark-compacts: count, sum,
 * longest), the bytes scavenges promoted a request, those allocated in the old generation
 * directly (Map tables rehashed, large objects) and the young generation's survivors
 * (bytes: independent of the machine's load), with CPU µs a request, the server's own p99 (served.ts:
 * node:http's request to its response's finish) and the client's p99. The in-process figures move far less
 * with a shared machine's load than the client's p99; medians of the pairs are printed.
 *
 *   npx tsx --conditions=@wxbot/source bench/tail.ts wxbot wxbot@/path/to/other/checkout [plain|safe] [rate]
 *   BENCH_PAIRS=4 BENCH_SECONDS=10 …
 */
import type { CryptoMode } from './config.ts';
import { load, median, startServer } from './run.ts';
import { newMessages } from './traffic.ts';
import type { Served } from './served.ts';
import type { Watched } from './watch.ts';

const [a = 'wxbot', b = 'koa', mode = 'safe', rateArg = '1000'] = process.argv.slice(2) as [string, string, CryptoMode, string];
const rate = Number(rateArg);
const PAIRS = Number(process.env.BENCH_PAIRS ?? 4);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);

interface Run extends Watched {
  served: Served;
  cpu: number;
  p99: number;
  /** Bytes promoted by scavenges a request. */
  promoted: number;
  /** Bytes allocated in the old generation directly a request (watch.ts). */
  oldAllocated: number;
}
const runs: Record<string, Run[]> = { [a]: [], [b]: [] };
for (let pair = 0; pair < PAIRS; pair++) {
  for (const name of pair % 2 ? [b, a] : [a, b]) {
    const server = await startServer(name, mode);
    try {
      // Warm-up long enough for the dedup table (100 000 marks) to be a fair part full.
      await load(server.port, newMessages(mode, 5000), { amount: 5000, connections: 16 });
      const traffic = newMessages(mode, Math.ceil(rate * SECONDS * 1.2));
      await server.cpu();
      server.watch();
      const result = await load(server.port, traffic, { seconds: SECONDS, connections: 32, rate });
      if (result.errors) throw new Error(`${name}: ${result.errors} errors`);
      const cpu = (await server.cpu()) / result.count;
      const watched = await server.watched();
      const run = { ...watched, cpu, p99: result.p99, promoted: watched.promotedBytes / result.count, oldAllocated: watched.oldAllocatedBytes / result.count };
      runs[name]!.push(run);
      console.error(
        `${name}: CPU ${Math.round(cpu)} µs/req, busy ${run.busy}, loop p99 ${run.loop.p99} max ${run.loop.max} ms, scavenges ${run.scavenge.count} (${run.scavenge.totalMs} ms, max ${run.scavenge.maxMs}), mark-compacts ${run.markCompact.count} (${run.markCompact.totalMs} ms, max ${run.markCompact.maxMs}), promoted ${Math.round(run.promoted)} B/req, old-gen allocated ${Math.round(run.oldAllocated)} B/req, young survivors ${Math.round(run.survivedBytes / 1024)} KB, server p99 ${run.served.p99} ms, client p99 ${run.p99} ms`,
      );
    } finally {
      server.stop();
    }
  }
}
const m = (name: string, f: (r: Run) => number) => median(runs[name]!.map(f));
console.table(
  [a, b].map((name) => ({
    server: name,
    'CPU µs/req': Math.round(m(name, (r) => r.cpu)),
    busy: m(name, (r) => r.busy),
    'loop p50 ms': m(name, (r) => r.loop.p50),
    'loop p99 ms': m(name, (r) => r.loop.p99),
    'loop max ms': m(name, (r) => r.loop.max),
    'scavenge ms/s': Math.round((m(name, (r) => r.scavenge.totalMs) / SECONDS) * 10) / 10,
    'scavenge max ms': m(name, (r) => r.scavenge.maxMs),
    'mark-compacts': m(name, (r) => r.markCompact.count),
    'mark-compact max ms': m(name, (r) => r.markCompact.maxMs),
    'promoted B/req': Math.round(m(name, (r) => r.promoted)),
    'old alloc B/req': Math.round(m(name, (r) => r.oldAllocated)),
    'survivors KB': Math.round(m(name, (r) => r.survivedBytes) / 1024),
    'server p99 ms': m(name, (r) => r.served.p99),
    'client p99 ms': m(name, (r) => r.p99),
  })),
);
console.log(`${mode} at ${rate} req/s, ${PAIRS} pairs × ${SECONDS} s, medians`);
