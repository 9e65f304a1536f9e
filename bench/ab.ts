/**
 * Two versions of a server compared by CPU per request at the same fixed rate, one at a time
 * (order swapped every pair), every request a new message: `server@dir` runs that checkout's
 * own bench/servers.ts (see run.ts). On a shared small machine this is steadier than req/s
 * side by side: each runs alone below its maximum, and the process's CPU time is counted.
 *
 *   npm run build   # in both checkouts, for compiled dist: BENCH_NODE_ARGS="--import tsx"
 *   npx tsx --conditions=@wxbot/source bench/ab.ts wxbot wxbot@/path/to/other/checkout [plain|safe] [rate]
 */
import type { CryptoMode } from './config.ts';
import { load, median, startServer } from './run.ts';
import { newMessages } from './traffic.ts';

const [a = 'wxbot', b = 'koa', mode = 'plain', rateArg = '2000'] = process.argv.slice(2) as [string, string, CryptoMode, string];
const rate = Number(rateArg);
const PAIRS = Number(process.env.BENCH_PAIRS ?? 4);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 3);

const cpu: Record<string, number[]> = { [a]: [], [b]: [] };
for (let pair = 0; pair < PAIRS; pair++) {
  for (const name of pair % 2 ? [b, a] : [a, b]) {
    const server = await startServer(name, mode);
    try {
      await load(server.port, newMessages(mode, 4000), { amount: 4000, connections: 16 }); // warm-up
      const traffic = newMessages(mode, Math.ceil(rate * SECONDS * 1.2));
      await server.cpu();
      const result = await load(server.port, traffic, { seconds: SECONDS, connections: 16, rate });
      if (result.errors) throw new Error(`${name}: ${result.errors} errors`);
      cpu[name]!.push((await server.cpu()) / result.count);
    } finally {
      server.stop();
    }
  }
}
const [ma, mb] = [median(cpu[a]!), median(cpu[b]!)];
for (const name of [a, b]) console.log(`${name}: CPU µs/request ${cpu[name]!.map(Math.round).join(' ')} (median ${Math.round(median(cpu[name]!))})`);
console.log(`${mode} at ${rate} req/s, ${PAIRS} pairs × ${SECONDS} s: ${a} / ${b} = ${(ma / mb).toFixed(2)} by CPU per request`);
