/**
 * Latency under a fixed load: the floor (bare Koa) is first driven as hard as it goes to find
 * its maximum, then the floor and the default bot are each sent half that rate, one after the
 * other (order swapped every round), every request a new message; the p99 of both is printed
 * (goal: wxbot's ≤ the floor's), with their medians and each round's difference. Not side by side:
 * two servers at half the floor's maximum each, plus two load generators, are the whole of a small
 * machine (on 2 cores the floor's p99 went to 1.2–1.5 s that way, measured), and that measures the
 * overload, not the servers.
 * Each window comes after the same second at the rate and BENCH_IDLE idle seconds: a Node
 * server's first seconds after an idle differ from its steady state (at the first scavenge after
 * an idle V8 gives back the young generation's pages, faulted in again at ~25–40 µs a page on a
 * VM), so a server measured straight after a load and one measured after sitting idle are not
 * comparable (until 2026-12-02 the floor was measured straight after its maximum run in two
 * rounds of three, while the bot had sat ~15 s idle).
 * A second table has, per server and round, what its own process saw in the fixed-rate window
 * (watch.ts): CPU µs a request, how busy its loop was, the loop's delay (p50/p99/max ms) and GC
 * pauses by kind (scavenges, mark-compacts: count, sum and longest ms) and the bytes scavenges
 * promoted a request, which move far less
 * with the machine's load than the client's p99.
 * It also has each server's own latency (served.ts, the same hook in every server process): from
 * node:http handing the request over to the response's `finish`, p50/p99/max ms, and how many
 * requests it timed (`server n`, beside the client's `n`: the server's also has the last request
 * of each connection, in flight when the client stopped counting). It leaves out what the
 * client's latency also holds: the load generator's own pauses, the kernel's queues, the wait for
 * a busy loop before the request is parsed. The server-side p99s get the same lines as the
 * client's: their medians, each round's wxbot − floor difference and in how many rounds wxbot ≤ floor.
 *
 *   npx tsx bench/latency.ts            # safe mode
 *   BENCH_MODE=plain npx tsx bench/latency.ts
 *   BENCH_WARMUP=100000 …                # servers that have run a while (see WARMUP)
 *   BENCH_IDLE=0 …                       # each window straight after a second at the rate
 *   BENCH_BOT=wxbot@/path/to/checkout …  # another version of the bot
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { CryptoMode } from './config.ts';
import { type BenchServer, load, median, startServer } from './run.ts';
import { newMessages } from './traffic.ts';
import * as driver from './watch.ts';

const MODE = (process.env.BENCH_MODE ?? 'safe') as CryptoMode;
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
/**
 * New messages each server gets before the windows: 5000 warm the JIT; a fresh wxbot's heap is
 * still growing then (dedup marks, histories), and V8 keeps a young heap's limits tight, so it
 * runs mark-compacts a long-running bot does not. More (BENCH_WARMUP=100000) measures nearer
 * a bot that has run a while.
 */
const WARMUP = Number(process.env.BENCH_WARMUP ?? 5000);
/**
 * Seconds each server sits idle before its window, after a second at the rate (not measured): 15
 * is about what the bot sat while the floor was measured before the two were equalised; 0 measures
 * both in their steady state.
 */
const IDLE = Number(process.env.BENCH_IDLE ?? 15);
/** The bot measured: `wxbot`, or `wxbot@<checkout>` to measure another version (see run.ts). */
const BOT = process.env.BENCH_BOT ?? 'wxbot';

/** A full GC of this process (the driver), twice: what the previous windows left goes. */
function collectGarbage(): void {
  setFlagsFromString('--expose_gc');
  const gc = runInNewContext('gc') as () => void;
  gc();
  gc();
}

const rows = [];
const inside: Record<string, string | number>[] = [];
for (let round = 0; round < ROUNDS; round++) {
  const floor = await startServer('koa', MODE);
  const wxbot = await startServer(BOT, MODE);
  try {
    // Warm-up: each message sent once (by time, fast servers ran out and sent repeats).
    await load(floor.port, newMessages(MODE, WARMUP), { amount: WARMUP, connections: 16 });
    await load(wxbot.port, newMessages(MODE, WARMUP), { amount: WARMUP, connections: 16 });
    const max = await load(floor.port, newMessages(MODE, 25_000 * 5), { seconds: 5, connections: 32 });
    const rate = Math.max(1, Math.round(max.rps / 2));
    const count = Math.ceil(rate * SECONDS * 1.2);
    const atRate = async (server: BenchServer) => {
      const traffic = newMessages(MODE, count);
      // The same before every window: a second at the rate, then IDLE seconds of nothing.
      await load(server.port, newMessages(MODE, Math.ceil(rate * 1.2)), { seconds: 1, connections: 32, rate });
      await sleep(IDLE * 1000);
      // The driver's own garbage collector is part of every p99 it measures (autocannon runs in
      // this process, beside the prebuilt messages: a mark-compact here held responses 8-24 ms,
      // as long as the servers' own pauses). Collected whole before the window, the heap holds
      // little but this window's messages, and no mark-compact falls inside it.
      collectGarbage();
      await server.cpu();
      server.watch();
      driver.start();
      const result = await load(server.port, traffic, { seconds: SECONDS, connections: 32, rate });
      const d = driver.watched();
      const cpu = (await server.cpu()) / result.count;
      const w = await server.watched();
      const pauses = (p: { count: number; totalMs: number; maxMs: number }) => `${p.count} / ${Math.round(p.totalMs)} / ${p.maxMs.toFixed(1)}`;
      const served = w.served;
      inside.push({
        round,
        server: server.name,
        'p99 ms': result.p99,
        'server p50/p99/max ms': `${served.p50.toFixed(2)} / ${served.p99.toFixed(2)} / ${served.max.toFixed(2)}`,
        'n / server n': `${result.count} / ${served.count}`,
        'CPU µs/req': Math.round(cpu),
        busy: w.busy,
        'loop p50/p99/max ms': `${w.loop.p50} / ${w.loop.p99} / ${w.loop.max}`,
        'scavenge n/sum/max ms': pauses(w.scavenge),
        'mark-compact n/sum/max ms': pauses(w.markCompact),
        'promoted B/req': Math.round(w.promotedBytes / result.count),
        'driver loop p99/max, GC max ms': `${d.loop.p99} / ${d.loop.max}, ${Math.max(d.scavenge.maxMs, d.markCompact.maxMs).toFixed(1)}`,
      });
      return { ...result, served };
    };
    const f = round % 2 === 0 ? await atRate(floor) : undefined;
    const w = await atRate(wxbot);
    const f2 = f ?? (await atRate(floor));
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
      'floor server p99 ms': f2.served.p99,
      'wxbot server p99 ms': w.served.p99,
    });
  } finally {
    floor.stop();
    wxbot.stop();
  }
}
console.table(rows);
console.table(inside);
console.log(
  `${MODE}: median p99 at half the floor's max: wxbot ${median(rows.map((r) => r['wxbot p99 ms']))} ms, floor ${median(rows.map((r) => r['floor p99 ms']))} ms (goal: wxbot ≤ floor)`,
);
// Each round's two windows share a round's VM speed and floor maximum, so their difference moves
// less than either p99 across rounds (which swing by ±5 ms on a shared 2-core VM).
const differences = rows.map((r) => r['wxbot p99 ms'] - r['floor p99 ms']);
const signed = (d: number) => (d > 0 ? `+${d}` : `${d}`);
console.log(
  `${MODE}: wxbot − floor p99 a round: ${differences.map(signed).join(' / ')} ms (median ${median(differences)}); wxbot ≤ floor in ${differences.filter((d) => d <= 0).length} of ${rows.length} rounds`,
);
// The same from inside the servers (served.ts): the load generator's pauses, the kernel's queues
// and a request's wait for the loop before node:http parses it are not in these.
const hundredths = (ms: number) => Math.round(ms * 100) / 100;
console.log(
  `${MODE}: median server-side p99: wxbot ${hundredths(median(rows.map((r) => r['wxbot server p99 ms'])))} ms, floor ${hundredths(median(rows.map((r) => r['floor server p99 ms'])))} ms`,
);
const serverDifferences = rows.map((r) => hundredths(r['wxbot server p99 ms'] - r['floor server p99 ms']));
console.log(
  `${MODE}: wxbot − floor server-side p99 a round: ${serverDifferences.map(signed).join(' / ')} ms (median ${hundredths(median(serverDifferences))}); wxbot ≤ floor in ${serverDifferences.filter((d) => d <= 0).length} of ${rows.length} rounds`,
);
