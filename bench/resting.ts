/**
 * What a server carries at rest, and what that costs its garbage collector under load. Each
 * target of BENCH_SERVERS (servers.ts names, `wxbot@dir` for another checkout) is started
 * fresh, alone, in turn (order reversed every round), and measured:
 * - at rest: start-up ms (fork to listening) and the CPU ms of it in the server process (from
 *   servers.ts's own start: the framework's imports and the bot's start, not Node's or tsx's), the JS heap after a full GC, the CPU a full GC
 *   takes (fullGc.ts: shortest and median of 30), the scripts V8 parsed (modules, Node's own
 *   included) and their source bytes, then the first callback's ms;
 * - in a window: WARMUP new messages, an idle pause (as each server of latency.ts waits while
 *   the other is measured: V8's memory reducer shrinks the heap's limits meanwhile), then
 *   SECONDS at RATE req/s of new messages, with the mark-compacts and scavenges inside the
 *   server (count / sum / longest ms) and its CPU µs a request.
 * Then the packages with the most parsed source, per target (first round).
 *
 *   BENCH_SERVERS=wxbot@/work/wt/base,wxbot npx tsx bench/resting.ts
 *   BENCH_MODE=plain BENCH_RATE=4000 BENCH_IDLE_MS=0 …
 */
import { resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { CryptoMode } from './config.ts';
import { load, median, startServer } from './run.ts';
import type { Scripts } from './scripts.ts';
import { newMessages } from './traffic.ts';

const SERVERS = (process.env.BENCH_SERVERS ?? 'koa,wxbot').split(',');
const MODE = (process.env.BENCH_MODE ?? 'safe') as CryptoMode;
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const WARMUP = Number(process.env.BENCH_WARMUP ?? 5000);
const IDLE_MS = Number(process.env.BENCH_IDLE_MS ?? 15_000);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
/** Low enough for every target on a small shared machine: the window counts GC work, not capacity. */
const RATE = Number(process.env.BENCH_RATE ?? 2000);
const PRELOADS = ['scripts.ts', 'fullGc.ts'].flatMap((file) => ['--import', resolve(import.meta.dirname, file)]);

const MiB = (bytes: number) => bytes / 2 ** 20;
const pauses = (p: { count: number; totalMs: number; maxMs: number }) => `${p.count} / ${Math.round(p.totalMs)} / ${p.maxMs.toFixed(1)}`;

interface Row {
  round: number;
  server: string;
  'start-up ms': number;
  'start-up CPU ms': number;
  'heap MiB': number;
  'full GC CPU min/median ms': string;
  scripts: number;
  'script source MiB': number;
  'first callback ms': number;
  'mark-compact n/sum/max ms': string;
  'scavenge n/sum/max ms': string;
  'CPU µs/req': number;
  'heap after MiB': number;
}
const rows: Row[] = [];
const firstScripts = new Map<string, Scripts>();

for (let round = 0; round < ROUNDS; round++) {
  for (const name of round % 2 === 0 ? SERVERS : [...SERVERS].reverse()) {
    const started = performance.now();
    const server = await startServer(name, MODE, ['--expose-gc', ...PRELOADS]);
    try {
      const startupMs = performance.now() - started;
      // servers.ts counts CPU from its own start: what the first ask returns is its start-up's.
      const startupCpuMs = (await server.cpu()) / 1000;
      const heap = await server.heap();
      const gc = await server.fullGc();
      const scripts = await server.scripts();
      if (!firstScripts.has(name)) firstScripts.set(name, scripts);
      // One callback, alone: what the first request pays for anything loaded on first use.
      const [first] = newMessages(MODE, 1);
      const sent = performance.now();
      const answer = await fetch(`http://127.0.0.1:${server.port}${first!.path}`, { method: 'POST', headers: { 'content-type': 'text/xml' }, body: first!.body });
      await answer.text();
      const firstMs = performance.now() - sent;
      if (!answer.ok) throw new Error(`${name}: the first callback got ${answer.status}`);

      await load(server.port, newMessages(MODE, WARMUP), { amount: WARMUP, connections: 16 });
      await sleep(IDLE_MS);
      await server.cpu();
      server.watch();
      const result = await load(server.port, newMessages(MODE, Math.ceil(RATE * SECONDS * 1.2)), { seconds: SECONDS, connections: 32, rate: RATE });
      if (result.errors) throw new Error(`${name}: ${result.errors} errors in the window`);
      const cpu = (await server.cpu()) / result.count;
      const w = await server.watched();
      const after = await server.heap();
      rows.push({
        round,
        server: name,
        'start-up ms': Math.round(startupMs),
        'start-up CPU ms': Math.round(startupCpuMs),
        'heap MiB': Number(MiB(heap.heapUsed).toFixed(2)),
        'full GC CPU min/median ms': `${gc.minMs.toFixed(2)} / ${gc.medianMs.toFixed(2)}`,
        scripts: scripts.count,
        'script source MiB': Number(MiB(scripts.bytes).toFixed(2)),
        'first callback ms': Math.round(firstMs),
        'mark-compact n/sum/max ms': pauses(w.markCompact),
        'scavenge n/sum/max ms': pauses(w.scavenge),
        'CPU µs/req': Math.round(cpu),
        'heap after MiB': Number(MiB(after.heapUsed).toFixed(2)),
      });
      console.error(rows.at(-1));
    } finally {
      server.stop();
    }
  }
}

console.table(rows);
for (const name of SERVERS) {
  const mine = rows.filter((r) => r.server === name);
  const med = (key: 'start-up ms' | 'start-up CPU ms' | 'heap MiB' | 'scripts' | 'first callback ms' | 'CPU µs/req') => median(mine.map((r) => r[key]));
  console.log(
    `${name}: median heap at rest ${med('heap MiB')} MiB, full GC ${median(mine.map((r) => Number(r['full GC CPU min/median ms'].split(' / ')[1])))} ms (median of medians), ${med('scripts')} scripts, start-up ${med('start-up ms')} ms (${med('start-up CPU ms')} ms CPU), first callback ${med('first callback ms')} ms, ` +
      `${med('CPU µs/req')} µs CPU a request in the window; mark-compacts per window ${mine.map((r) => r['mark-compact n/sum/max ms']).join(', ')} (n / sum / max ms)`,
  );
}

// The packages with the most parsed source, side by side (first round).
const packages = new Set([...firstScripts.values()].flatMap((s) => Object.keys(s.byPackage)));
const bySource = [...packages]
  .map((pkg) => ({ pkg, most: Math.max(...[...firstScripts.values()].map((s) => s.byPackage[pkg]?.bytes ?? 0)) }))
  .sort((a, b) => b.most - a.most)
  .slice(0, Number(process.env.BENCH_TOP ?? 20));
console.table(
  bySource.map(({ pkg }) => ({
    package: pkg,
    ...Object.fromEntries(
      [...firstScripts].map(([name, s]) => [`${name} KiB (scripts)`, s.byPackage[pkg] ? `${Math.round(s.byPackage[pkg].bytes / 1024)} (${s.byPackage[pkg].count})` : '-']),
    ),
  })),
);
