/**
 * Latency under a fixed load: the floor (bare Koa) is first driven as hard as it goes to find
 * its maximum, then the floor and the default bot are each sent half that rate, one after the
 * other (order swapped every round), every request a new message; the p99 of both is printed
 * (goal: wxbot's ≤ the floor's). Not side by side: two servers at half the floor's maximum
 * each, plus two load generators, are the whole of a small machine (on 2 cores the floor's
 * p99 went to 1.2–1.5 s that way, measured), and that measures the overload, not the servers.
 *
 *   npx tsx bench/latency.ts            # safe mode
 *   BENCH_MODE=plain npx tsx bench/latency.ts
 */
import type { CryptoMode } from './config.ts';
import { load, median, startServer } from './run.ts';
import { newMessages } from './traffic.ts';

const MODE = (process.env.BENCH_MODE ?? 'safe') as CryptoMode;
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);

const rows = [];
for (let round = 0; round < ROUNDS; round++) {
  const floor = await startServer('koa', MODE);
  const wxbot = await startServer('wxbot', MODE);
  try {
    // Warm-up: each of the 5000 sent once (by time, fast servers ran out and sent repeats).
    await load(floor.port, newMessages(MODE, 5000), { amount: 5000, connections: 16 });
    await load(wxbot.port, newMessages(MODE, 5000), { amount: 5000, connections: 16 });
    const max = await load(floor.port, newMessages(MODE, 25_000 * 5), { seconds: 5, connections: 32 });
    const rate = Math.max(1, Math.round(max.rps / 2));
    const count = Math.ceil(rate * SECONDS * 1.2);
    const atRate = (port: number) => load(port, newMessages(MODE, count), { seconds: SECONDS, connections: 32, rate });
    const f = round % 2 === 0 ? await atRate(floor.port) : undefined;
    const w = await atRate(wxbot.port);
    const f2 = f ?? (await atRate(floor.port));
    if (f2.errors || w.errors) throw new Error(`errors at the fixed rate: floor ${f2.errors}, wxbot ${w.errors}`);
    rows.push({
      'floor max req/s': Math.round(max.rps),
      'rate req/s': rate,
      'floor got req/s': Math.round(f2.rps),
      'wxbot got req/s': Math.round(w.rps),
      'floor p99 ms': f2.p99,
      'wxbot p99 ms': w.p99,
      'floor p50 ms': f2.p50,
      'wxbot p50 ms': w.p50,
    });
  } finally {
    floor.stop();
    wxbot.stop();
  }
}
console.table(rows);
console.log(
  `${MODE}: median p99 at half the floor's max: wxbot ${median(rows.map((r) => r['wxbot p99 ms']))} ms, floor ${median(rows.map((r) => r['floor p99 ms']))} ms (goal: wxbot ≤ floor)`,
);
