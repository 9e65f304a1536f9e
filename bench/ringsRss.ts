/**
 * What the default bot's off-heap rings cost in memory the system gives the process: each
 * target (servers.ts `wxbot`, or `wxbot@<checkout>`, as in run.ts) started fresh in turn, ROUNDS
 * times, and after FEW and then MANY new messages its resident memory (VmRSS of
 * /proc/<pid>/status) and ArrayBuffer bytes after a full GC (external memory as V8 counts it).
 * The answers' ring and the hand-off's history allocate their 64 MiB budgets at once at the
 * first message: V8 counts all of it, the system only the pages written.
 *
 *   npx tsx bench/ringsRss.ts wxbot@/work/wt/base wxbot
 *   BENCH_ROUNDS=3 BENCH_FEW=10 BENCH_MANY=5000 BENCH_MODE=safe …
 */
import { readFileSync } from 'node:fs';
import type { CryptoMode } from './config.ts';
import { load, median, startServer } from './run.ts';
import { newMessages } from './traffic.ts';

const targets = process.argv.slice(2);
const MODE = (process.env.BENCH_MODE ?? 'safe') as CryptoMode;
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const FEW = Number(process.env.BENCH_FEW ?? 10);
const MANY = Number(process.env.BENCH_MANY ?? 5000);

const MiB = 2 ** 20;
/** A process's resident memory in bytes, as the system counts it. */
function rssOf(pid: number): number {
  const kB = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
  return Number(kB) * 1024;
}

const rows: Record<string, string | number>[] = [];
const byTarget = new Map<string, number[][]>();
for (let round = 0; round < ROUNDS; round++) {
  for (const name of targets) {
    const server = await startServer(name, MODE, ['--expose-gc']);
    try {
      const idle = await server.heap();
      const atStart = rssOf(server.pid);
      await load(server.port, newMessages(MODE, FEW), { amount: FEW, connections: 1 });
      const few = await server.heap();
      const atFew = rssOf(server.pid);
      await load(server.port, newMessages(MODE, MANY), { amount: MANY, connections: 16 });
      const many = await server.heap();
      const atMany = rssOf(server.pid);
      const figures = [atStart, atFew, atMany, idle.arrayBuffers, few.arrayBuffers, many.arrayBuffers].map((b) => b / MiB);
      byTarget.set(name, [...(byTarget.get(name) ?? []), figures]);
      const f = figures.map((x) => x.toFixed(1));
      rows.push({ round, target: name, 'RSS MiB start / few / many': `${f[0]} / ${f[1]} / ${f[2]}`, 'ArrayBuffers MiB start / few / many': `${f[3]} / ${f[4]} / ${f[5]}` });
    } finally {
      server.stop();
    }
  }
}
console.table(rows);
for (const [name, runs] of byTarget) {
  const m = (i: number) => median(runs.map((r) => r[i]!)).toFixed(1);
  console.log(
    `${name} (${MODE}, medians of ${runs.length}): RSS ${m(0)} MiB at start, ${m(1)} after ${FEW} messages, ${m(2)} after ${FEW + MANY}; ArrayBuffers ${m(3)} / ${m(4)} / ${m(5)} MiB`,
  );
}
