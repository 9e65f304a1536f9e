/**
 * What a server keeps past young-generation GC under a real load, by the function that
 * allocated it: one server (or `server@dir`, another checkout's) at a fixed rate, every request
 * a new message, V8's sampling heap profiler running inside it during the window with what
 * scavenges freed left out (bench/survived.ts). Bytes a request, most first; the objects a
 * mark-compact freed later count (they were promoted), as does what the server still held at
 * the end. Beside it, from the same window, the bytes scavenges promoted a request (watch.ts).
 * Sampling slows the server down: its own CPU and latency figures are not the server's.
 *
 *   npx tsx --conditions=@wxbot/source bench/promoted.ts wxbot [plain|safe] [rate]
 *   BENCH_SECONDS=10 BENCH_SAMPLING=512 BENCH_CALLERS=1 TOP=40 …
 */
import type { CryptoMode } from './config.ts';
import { load, startServer } from './run.ts';
import { newMessages } from './traffic.ts';

const [name = 'wxbot', mode = 'safe', rateArg = '3000'] = process.argv.slice(2) as [string, CryptoMode, string];
const rate = Number(rateArg);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const server = await startServer(name, mode);
try {
  await load(server.port, newMessages(mode, 5000), { amount: 5000, connections: 16 }); // warm-up, as tail.ts
  const traffic = newMessages(mode, Math.ceil(rate * SECONDS * 1.2));
  server.watch();
  server.sample(Number(process.env.BENCH_SAMPLING ?? 512));
  const result = await load(server.port, traffic, { seconds: SECONDS, connections: 32, rate });
  if (result.errors) throw new Error(`${name}: ${result.errors} errors`);
  const survivors = await server.sampled(Boolean(process.env.BENCH_CALLERS));
  const watched = await server.watched();
  let total = 0;
  for (const s of survivors) total += s.bytes;
  console.log(
    `${name} ${mode} at ${rate} req/s, ${result.count} requests: ${(total / result.count).toFixed(0)} B a request outlived a scavenge (sampled); scavenges promoted ${(watched.promotedBytes / result.count).toFixed(0)} B a request; ${watched.scavenge.count} scavenges, ${watched.markCompact.count} mark-compacts`,
  );
  for (const s of survivors.slice(0, Number(process.env.TOP ?? 30))) console.log(`${(s.bytes / result.count).toFixed(1).padStart(8)} B  ${s.where}`);
} finally {
  server.stop();
}
