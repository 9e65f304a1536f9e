/**
 * Callback throughput: encrypted WeCom text → echo passive reply, over HTTP on loopback.
 * Runs the bare-Koa floor and wxbot in turn, each in its own process, with the same load
 * (autocannon, pre-built distinct messages so dedup never short-circuits), and prints
 * requests/s, p99 and the ratio wxbot / floor. Run: `npm run bench`.
 */
import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import autocannon from 'autocannon';
import { WeChatPeer } from '@wxbot/testing';
import { BENCH } from './config.ts';

const DURATION_S = Number(process.env.BENCH_SECONDS ?? 8);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 32);
const MESSAGES = Number(process.env.BENCH_MESSAGES ?? 120_000);

interface Result {
  name: string;
  rps: number;
  p99: number;
  errors: number;
  /** Server CPU (user + system) per request, µs. */
  cpuPerRequest: number;
}

function prebuild(): { path: string; body: string }[] {
  const peer = new WeChatPeer({ url: 'http://unused', kind: 'wecomApp', token: BENCH.token, encodingAESKey: BENCH.encodingAESKey, receiveId: BENCH.corpId });
  const list: { path: string; body: string }[] = [];
  for (let i = 0; i < MESSAGES; i++) {
    const { query, body } = peer.buildCallback(peer.message('text', { Content: `你好 wxbot ${i}` }, { msgId: String(7_000_000_000_000_000_000n + BigInt(i)), from: `user${i % 500}` }));
    list.push({ path: `/wecom/callback?${query}`, body });
  }
  return list;
}

interface Server {
  port: number;
  /** CPU µs the server used since the last call. */
  cpu(): Promise<number>;
  stop(): void;
}

async function startServer(mode: string): Promise<Server> {
  const child = spawn(process.execPath, ['--conditions=@wxbot/source', '--import', 'tsx', resolve(import.meta.dirname, 'servers.ts'), mode], { stdio: ['ignore', 'pipe', 'inherit'] });
  const cpuReports: ((micros: number) => void)[] = [];
  const port = await new Promise<number>((ok, fail) => {
    child.stdout.on('data', (chunk: Buffer) => {
      const text = String(chunk);
      const match = /PORT (\d+)/.exec(text);
      if (match) ok(Number(match[1]));
      const cpu = /CPU (\d+)/.exec(text);
      if (cpu) cpuReports.shift()?.(Number(cpu[1]));
    });
    child.on('exit', (code) => fail(new Error(`${mode} server exited with ${code}`)));
  });
  return {
    port,
    cpu: () => new Promise((ok) => (cpuReports.push(ok), child.kill('SIGUSR2'))),
    stop: () => child.kill('SIGKILL'),
  };
}

async function load(name: string, port: number, requests: { path: string; body: string }[], seconds: number): Promise<Omit<Result, 'cpuPerRequest'> & { count: number }> {
  let next = 0;
  const result = await autocannon({
    url: `http://127.0.0.1:${port}`,
    connections: CONNECTIONS,
    duration: seconds,
    requests: [
      {
        method: 'POST',
        headers: { 'content-type': 'text/xml' },
        setupRequest: (req) => {
          const r = requests[next++ % requests.length]!;
          return { ...req, path: r.path, body: r.body };
        },
      },
    ],
  });
  if (next > requests.length) console.warn(`${name}: ${next} requests outran ${requests.length} distinct messages; raise BENCH_MESSAGES`);
  return { name, rps: result.requests.average, p99: result.latency.p99, errors: result.errors + result.non2xx, count: result.requests.total };
}

async function measure(mode: string, requests: { path: string; body: string }[]): Promise<Result> {
  const server = await startServer(mode);
  try {
    await load(`${mode} warm-up`, server.port, requests.slice(0, 20_000), 2);
    await server.cpu();
    const { count, ...result } = await load(mode, server.port, requests.slice(20_000), DURATION_S);
    return { ...result, cpuPerRequest: (await server.cpu()) / count };
  } finally {
    server.stop();
  }
}

const requests = prebuild();
const floor = await measure('floor', requests);
const wxbot = await measure('wxbot', requests);
console.log('\nencrypted WeCom text → echo passive reply, loopback, %d connections, %ds', CONNECTIONS, DURATION_S);
console.table([floor, wxbot].map((r) => ({ server: r.name, 'req/s': Math.round(r.rps), 'p99 ms': r.p99, 'server CPU µs/req': Math.round(r.cpuPerRequest), errors: r.errors })));
console.log(`ratio wxbot/floor: ${(wxbot.rps / floor.rps).toFixed(2)} req/s (goal ≥ 0.80); ${(floor.cpuPerRequest / wxbot.cpuPerRequest).toFixed(2)} by server CPU per request`);
