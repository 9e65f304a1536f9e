/**
 * What a server holds for a while under a steady load and then lets go (requests in flight,
 * requests held past their answer, queues and timers), by kind and by what held it: heap
 * snapshots of one server (`name` or `name@checkout`) during a fixed-rate window, a few seconds
 * apart, each compared with the next (bench/heapDiff.ts: the objects of one that the next no
 * longer has). The first snapshot, taken before the load, makes V8 keep objects' ids from then
 * on. A snapshot is taken when the server reads the ask, between two of its I/O callbacks, and
 * stalls it for seconds (the load's timeout is long enough). The objects alive mid-request are
 * not seen; those that outlive a request are: what every scavenge copies. Counts, not times.
 *
 *   npx tsx --conditions=@wxbot/source bench/held.ts wxbot [safe|plain] [rate]
 *   BENCH_SNAPSHOTS=3 BENCH_CONNECTIONS=32 TOP=20 BENCH_SNAPSHOT_DIR=/tmp …
 *
 * It found each keep-alive connection holding its last callback request (bench/README.md,
 * "Requests held past their answer").
 */
import { readFileSync, rmSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import type { CryptoMode } from './config.ts';
import { gone, type HeapSnapshot, type Row } from './heapDiff.ts';
import { load, startServer } from './run.ts';
import { newMessages } from './traffic.ts';

const [name = 'wxbot', mode = 'safe', rateArg = '3000'] = process.argv.slice(2) as [string, CryptoMode, string];
const RATE = Number(rateArg);
const SNAPSHOTS = Number(process.env.BENCH_SNAPSHOTS ?? 3);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 32);
const TOP = Number(process.env.TOP ?? 20);
const DIR = process.env.BENCH_SNAPSHOT_DIR ?? '/tmp';
const APART_MS = 2500;

const server = await startServer(name, mode);
const files: string[] = [];
const snapshot = async (n: number) => {
  const file = `${DIR}/held-${process.pid}-${n}.heapsnapshot`;
  files.push(file);
  await server.snapshot(file);
  return file;
};
try {
  await snapshot(0);
  await load(server.port, newMessages(mode, 5000), { amount: 5000, connections: 16 }); // warm-up, as latency.ts
  // Long enough for the snapshots' stalls (~2–8 s each here): the connections stay open throughout.
  const seconds = SNAPSHOTS * 12 + 5;
  const window = load(server.port, newMessages(mode, RATE * seconds), { seconds, connections: CONNECTIONS, rate: RATE, timeout: 120 });
  const taken: string[] = [];
  for (let n = 1; n <= SNAPSHOTS; n++) {
    await sleep(APART_MS);
    taken.push(await snapshot(n));
  }
  const result = await window;
  console.log(`${name} ${mode}: ${result.count} requests at ≤ ${RATE} req/s over ${CONNECTIONS} connections, ${result.errors} errors`);
  const table = (rows: Row[]) => console.table(rows.slice(0, TOP).map((r) => ({ what: r.what, count: r.count, bytes: r.bytes })));
  for (let n = 0; n + 1 < taken.length; n++) {
    const read = (file: string) => JSON.parse(readFileSync(file, 'utf8')) as HeapSnapshot;
    const diff = gone(read(taken[n] as string), read(taken[n + 1] as string));
    console.log(`snapshot ${n + 1} → ${n + 2}: ${diff.count} objects, ${(diff.bytes / 1024).toFixed(1)} KB gone; by kind, then by what held them (bytes reachable among the gone)`);
    table(diff.byKind);
    table(diff.byHolder);
  }
} finally {
  server.stop();
  for (const file of files) rmSync(file, { force: true });
}
