/**
 * What the bot's HTTP callback server (packages/core/src/server.ts `createHttpServer`) costs a
 * callback POST, node:http's own work included, counted by valgrind (callgrind), for checkouts
 * side by side: one process runs the checkout's server around a handler that answers at once
 * (no pipeline, no crypto: the HTTP layer only) and a client on one keep-alive connection
 * sending the same small POST one at a time; requests N1 + 1 to N2 are counted. Two windows per
 * checkout, each in a process of its own: `warm` (nothing before the window) and `after-gc` (a
 * full GC just before it, as bench/instructions.ts's windows have: what a mark-compact leaves
 * the next requests, e.g. optimized code it threw away, bench/gcDeopts.ts). A count, not a time.
 *
 *   npx tsx --conditions=@wxbot/source bench/serverInstructions.ts /work/wt/base .
 *
 * BENCH_SERVER=bot: the checkout's default bot instead (bot.start, as bench/servers.ts's `wxbot`,
 * safe mode), given new signed messages (bench/inProcess.ts's prepareCallbacks): the whole bot
 * over HTTP. BENCH_COUNTS="N1 N2" (default "2000 8000"). Needs valgrind on the PATH (~1 min a run
 * with the stub, several with the bot).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import type { Server } from 'node:http';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { stringify } from 'node:querystring';
import { pathToFileURL } from 'node:url';
import { cachedDataVersionTag, getHeapCodeStatistics } from 'node:v8';
import pino from 'pino';
import { callgrindWindow, countedNode, windowInstructions } from './callgrindWindow.ts';
import { defaultBotEnv } from './config.ts';
import { coreModule, prepareCallbacks } from './inProcess.ts';

const WINDOWS = ['warm', 'after-gc'] as const;
type Window = (typeof WINDOWS)[number];

if (process.argv[2] === '--run') {
  const [dir, window, n1, n2] = process.argv.slice(3) as [string, Window, string, string];
  await run(dir, window, Number(n1), Number(n2));
} else {
  const [n1, n2] = (process.env.BENCH_COUNTS ?? '2000 8000').split(' ').map(Number) as [number, number];
  const dirs = process.argv.slice(2);
  const work = mkdtempSync(join(tmpdir(), 'wxbot-server-'));
  try {
    for (const dir of dirs.length > 0 ? dirs : ['.']) {
      for (const window of WINDOWS) {
        // One thread, as bench/instructions.ts: V8's compiler and collector run where the work sets them.
        const node = countedNode(import.meta.filename, [resolve(dir), window, n1, n2]);
        const dump = callgrindWindow(node, work, `${dir} ${window}`);
        const { total, compile } = windowInstructions(dump);
        rmSync(dump);
        const n = (x: number) => Math.round(x).toLocaleString('en');
        console.log(
          `${dir} ${window}: ${n((total - compile) / (n2 - n1))} instructions a request without TurboFan's compiles (${n(total / (n2 - n1))} with; requests ${n1 + 1}–${n2}, server and client)`,
        );
      }
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** The measured process: `n2` callback POSTs to `dir`'s server, callgrind counting from request `n1 + 1`. */
async function run(dir: string, window: Window, n1: number, n2: number): Promise<void> {
  const { port, requests } = process.env.BENCH_SERVER === 'bot' ? await bot(dir, n2) : await stub(dir);
  const socket = connect(port, '127.0.0.1');
  socket.setNoDelay(true);
  await new Promise((ok) => socket.once('connect', ok));
  // The answer is one small chunk on loopback.
  const answered = () => new Promise<Buffer>((ok) => socket.once('data', ok));
  for (let i = 0; i < n2; i++) {
    if (i === n1) {
      if (window === 'after-gc') (globalThis as { gc?: () => void }).gc?.();
      cachedDataVersionTag(); // callgrind zeroes here
    }
    const done = answered();
    socket.write(requests[i % requests.length]!);
    const answer = await done;
    if (i === 0 && !answer.toString('latin1').startsWith('HTTP/1.1 200 ')) throw new Error(`${dir}: ${answer.toString('latin1')}`);
  }
  getHeapCodeStatistics(); // callgrind dumps here
  socket.destroy();
  process.exit(0); // the bot's timers and connections: nothing after the window is measured
}

/** A callback POST as its bytes. */
function post(path: string, body: string): Buffer {
  return Buffer.from(`POST ${path} HTTP/1.1\r\nHost: bench\r\nContent-Type: text/xml\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
}

/** `dir`'s createHttpServer around a handler that answers at once; the same small POST each time. */
async function stub(dir: string): Promise<{ port: number; requests: Buffer[] }> {
  const { createHttpServer } = (await import(join(dir, 'packages/core/src/server.ts'))) as {
    createHttpServer: (handler: unknown) => Server;
  };
  const channel = { name: 'wx', path: '/wx', verify: () => '' };
  const handler = { channels: [channel], log: pino({ level: 'silent' }), handleCallback: async () => 'success' };
  const server = createHttpServer(handler);
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const body = '<xml><ToUserName><![CDATA[gh]]></ToUserName><Encrypt><![CDATA[abc]]></Encrypt></xml>';
  const path = '/wx?signature=s&timestamp=1&nonce=2&openid=o&encrypt_type=aes&msg_signature=m';
  return { port: (server.address() as { port: number }).port, requests: [post(path, body)] };
}

/** `dir`'s default bot started as servers.ts's `wxbot` (safe); `count` new signed messages. */
async function bot(dir: string, count: number): Promise<{ port: number; requests: Buffer[] }> {
  const prepared = await prepareCallbacks('safe', count);
  Object.assign(process.env, defaultBotEnv('safe'));
  const { createBot, resolveConfig } = (await import(coreModule(dir, 'index.ts'))) as typeof import('../packages/core/src/index.ts');
  const config = await resolveConfig(((await import(pathToFileURL(join(dir, 'bot.config.ts')).href)) as typeof import('../bot.config.ts')).default);
  const { port } = await createBot(config).start({ port: 0, host: '127.0.0.1' });
  return { port, requests: prepared.callbacks.map(({ query, body }) => post(`/wx?${stringify(query)}`, body)) };
}
