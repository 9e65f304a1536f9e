/**
 * Callback throughput on real traffic: every request a new message (new MsgId, new nonce,
 * correctly signed, encrypted in safe mode), an Official Account text answered with a passive
 * text, over HTTP on loopback. Servers (see servers.ts): bare node:http, bare Koa, co-wechat,
 * node-webot and the default wxbot bot with every feature on, each in its own process,
 * in rounds (each server once per round, fresh process, fresh messages); the table shows the
 * median of the rounds and the ratios are taken in the same run.
 *
 *   npm run bench                          # both modes, 3 rounds
 *   BENCH_MODES=safe BENCH_ROUNDS=5 npm run bench
 *   BENCH_SERVERS=koa,wxbot npm run bench  # a subset
 *
 * Two numbers per server: requests/s (on a small machine the load generator shares the cores,
 * so this caps fast servers), and server CPU per request (what a server costs, independent of
 * the load generator). Ratios are given for both.
 */
import { WeChatPeer } from '@wxbot/testing';
import { BENCH, type CryptoMode } from './config.ts';
import { load, median, startServer } from './run.ts';
import { newMessages } from './traffic.ts';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 6);
const WARMUP_SECONDS = Number(process.env.BENCH_WARMUP_SECONDS ?? 2);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 32);
const MESSAGES = Number(process.env.BENCH_MESSAGES ?? 60_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const MODES = (process.env.BENCH_MODES ?? 'plain,safe').split(',') as CryptoMode[];
const SERVERS = (process.env.BENCH_SERVERS ?? 'http,koa,co-wechat,node-webot,wxbot').split(',');

interface Sample {
  rps: number;
  p99: number;
  cpu: number;
  errors: number;
}

async function measure(server: string, mode: CryptoMode): Promise<Sample> {
  const s = await startServer(server, mode);
  try {
    await checkAnswer(server, mode, s.port);
    await load(s.port, newMessages(mode, Math.min(MESSAGES, 20_000)), { seconds: WARMUP_SECONDS, connections: CONNECTIONS });
    const messages = newMessages(mode, MESSAGES);
    await s.cpu();
    const r = await load(s.port, messages, { seconds: SECONDS, connections: CONNECTIONS });
    return { rps: r.rps, p99: r.p99, cpu: (await s.cpu()) / r.count, errors: r.errors };
  } finally {
    s.stop();
  }
}

/** Every server must give a correct, verifiable passive text, or its figures mean nothing. */
async function checkAnswer(server: string, mode: CryptoMode, port: number): Promise<void> {
  const peer = new WeChatPeer({ url: `http://127.0.0.1:${port}/wx`, kind: 'officialAccount', mode, token: BENCH.token, encodingAESKey: BENCH.encodingAESKey, receiveId: BENCH.appId, accountId: BENCH.accountId });
  const { status, reply } = await peer.text('hello bench', { from: 'o_check' });
  if (status !== 200 || reply?.['MsgType'] !== 'text' || reply['ToUserName'] !== 'o_check' || !reply['Content']) {
    throw new Error(`${server} (${mode}) did not answer a correct passive text: ${status} ${JSON.stringify(reply)}`);
  }
}

for (const mode of MODES) {
  const samples = new Map<string, Sample[]>(SERVERS.map((s) => [s, []]));
  for (let round = 0; round < ROUNDS; round++) {
    for (const server of SERVERS) samples.get(server)!.push(await measure(server, mode));
  }
  const rows = SERVERS.map((server) => {
    const list = samples.get(server)!;
    return { server, rps: median(list.map((s) => s.rps)), p99: median(list.map((s) => s.p99)), cpu: median(list.map((s) => s.cpu)), errors: list.reduce((n, s) => n + s.errors, 0), all: list.map((s) => Math.round(s.rps)).join(' ') };
  });
  const koa = rows.find((r) => r.server === 'koa');
  console.log(`\n${mode} mode: Official Account text → passive text, every request a new message; loopback, ${CONNECTIONS} connections, ${SECONDS} s × ${ROUNDS} rounds (medians)`);
  console.table(
    rows.map((r) => ({
      server: r.server,
      'req/s': Math.round(r.rps),
      'req/s per round': r.all,
      'p99 ms': r.p99,
      'CPU µs/req': Math.round(r.cpu),
      ...(koa && { '× koa (req/s)': (r.rps / koa.rps).toFixed(2), '× koa (CPU)': (koa.cpu / r.cpu).toFixed(2) }),
      errors: r.errors,
    })),
  );
  const wxbot = rows.find((r) => r.server === 'wxbot');
  const co = rows.find((r) => r.server === 'co-wechat');
  if (wxbot && koa) console.log(`${mode}: wxbot / bare Koa = ${(wxbot.rps / koa.rps).toFixed(2)} by req/s, ${(koa.cpu / wxbot.cpu).toFixed(2)} by CPU per request (goal ≥ 0.80)`);
  if (wxbot && co) console.log(`${mode}: wxbot / co-wechat = ${(wxbot.rps / co.rps).toFixed(2)} by req/s, ${(co.cpu / wxbot.cpu).toFixed(2)} by CPU per request (goal > 1)`);
}
