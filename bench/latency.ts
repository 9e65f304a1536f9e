/**
 * Latency under a fixed load: the floor (bare Koa) is first driven as hard as it goes to find
 * its maximum, then the floor and the default bot are each sent half that rate, side by side,
 * every request a new message; the p99 of both is printed (goal: wxbot's ≤ the floor's).
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
    await load(floor.port, newMessages(MODE, 5000), { seconds: 2, connections: 16 });
    await load(wxbot.port, newMessages(MODE, 5000), { seconds: 2, connections: 16 });
    const max = await load(floor.port, newMessages(MODE, 40_000), { seconds: 5, connections: 32 });
    const rate = Math.max(1, Math.round(max.rps / 2));
    const count = rate * SECONDS * 2;
    const [f, w] = await Promise.all([
      load(floor.port, newMessages(MODE, count), { seconds: SECONDS, connections: 32, rate }),
      load(wxbot.port, newMessages(MODE, count), { seconds: SECONDS, connections: 32, rate }),
    ]);
    rows.push({ 'floor max req/s': Math.round(max.rps), 'rate req/s': rate, 'floor p99 ms': f.p99, 'wxbot p99 ms': w.p99, 'floor p50 ms': f.p50, 'wxbot p50 ms': w.p50 });
  } finally {
    floor.stop();
    wxbot.stop();
  }
}
console.table(rows);
console.log(`${MODE}: median p99 at half the floor's max: wxbot ${median(rows.map((r) => r['wxbot p99 ms']))} ms, floor ${median(rows.map((r) => r['floor p99 ms']))} ms (goal: wxbot ≤ floor)`);
