/**
 * The servers the callback benches compare, each run in its own process
 * (`servers.ts <server> <plain|safe>`), all answering an Official Account text with a passive
 * text reply (encrypted in safe mode):
 * - `http`: bare `node:http` that only verifies, (de)crypts, parses and answers (the floor);
 * - `koa`: the same handler in a bare Koa app (the baseline of the 0.8 goal);
 * - `co-wechat`: the Koa middleware users pick instead of a framework, echoing;
 * - `node-webot`: node-webot's `wechat` connect middleware on `node:http`, echoing;
 * - `wxbot`: the default bot (bot.config.ts: agent console, keyword rules + FAQ, echo,
 *   metrics, info logs), all features on, logs written to stdout (here /dev/null);
 * - for attribution only (bench/probe.ts): `wxbot-echo`, `wxbot-echo-silent`, `wxbot-silent`
 *   and `wxbot-only` (see below).
 * The parent talks over IPC: the child sends `{ port }` once it listens, `{ cpu }` (user +
 * system µs since the last ask) when asked with 'cpu', `{ heap }` (JS heap and ArrayBuffer bytes after a GC) for 'heap';
 * 'watch' starts a window of event-loop delay and GC pauses (watch.ts), 'watched' answers
 * `{ watched }`, what the window saw; `{ sample: interval }` starts sampling what outlives
 * scavenges (survived.ts) and `{ sampled: callers }` answers `{ survivors }`; `{ snapshot: file }`
 * writes a heap snapshot there and answers `{ snapshot: file }` (bench/held.ts). 'served' is
 * answered by served.ts, which run.ts preloads into every server (this checkout's, whatever the
 * server's): `{ served }`, each request's time in the server since 'watch'.
 */
import { createServer, type IncomingMessage } from 'node:http';
import { createRequire } from 'node:module';
import { writeHeapSnapshot } from 'node:v8';
import Koa from 'koa';
import { WXBizMsgCrypt, sortedSha1 } from '@wxbot/core/protocol';
import { BENCH, type CryptoMode, defaultBotEnv } from './config.ts';
import * as survived from './survived.ts';
import * as watch from './watch.ts';

const [server = 'wxbot', crypto = 'safe'] = process.argv.slice(2) as [string, CryptoMode];
const safe = crypto === 'safe';
const require = createRequire(import.meta.url);

let lastCpu = process.cpuUsage();
process.on('message', (ask) => {
  if (ask === 'heap') {
    // Heap after a full GC (the server runs with --expose-gc for the heap bench).
    (globalThis as { gc?: () => void }).gc?.();
    const { heapUsed, arrayBuffers } = process.memoryUsage();
    process.send?.({ heap: { heapUsed, arrayBuffers } });
    return;
  }
  if (ask === 'watch') return watch.start();
  if (typeof ask === 'object' && ask !== null && 'sample' in ask) return void survived.start((ask as { sample: number }).sample);
  if (typeof ask === 'object' && ask !== null && 'sampled' in ask) {
    return void survived.stop((ask as { sampled: boolean }).sampled).then((survivors) => process.send?.({ survivors }));
  }
  if (ask === 'watched') return void process.send?.({ watched: watch.watched() });
  if (typeof ask === 'object' && ask !== null && 'snapshot' in ask) {
    const file = (ask as { snapshot: string }).snapshot;
    writeHeapSnapshot(file);
    return void process.send?.({ snapshot: file });
  }
  if (ask !== 'cpu') return;
  const used = process.cpuUsage(lastCpu);
  lastCpu = process.cpuUsage();
  process.send?.({ cpu: used.user + used.system });
});
process.on('disconnect', () => process.exit(0));

const crypt = new WXBizMsgCrypt(BENCH.token, BENCH.encodingAESKey, BENCH.appId);
const tag = (xml: string, name: string) => new RegExp(`<${name}><!\\[CDATA\\[(.*?)\\]\\]></${name}>`).exec(xml)?.[1];

/**
 * What any handler must do for one callback, written by hand: check the signature, decrypt
 * (safe mode), read the fields it needs, answer a text (encrypted in safe mode). Undefined
 * when the signature does not verify.
 */
function handBuiltAnswer(query: URLSearchParams | Record<string, unknown>, body: string): string | undefined {
  const q = (name: string) => (query instanceof URLSearchParams ? query.get(name) : (query[name] as string | undefined)) ?? '';
  const timestamp = q('timestamp');
  const nonce = q('nonce');
  let xml = body;
  if (safe) {
    const encrypted = tag(body, 'Encrypt');
    if (!encrypted) return undefined;
    xml = crypt.open(q('msg_signature'), timestamp, nonce, encrypted);
  } else if (sortedSha1(BENCH.token, timestamp, nonce) !== q('signature')) {
    return undefined;
  }
  const now = Math.floor(Date.now() / 1000);
  const reply = `<xml><ToUserName><![CDATA[${tag(xml, 'FromUserName')}]]></ToUserName><FromUserName><![CDATA[${tag(xml, 'ToUserName')}]]></FromUserName><CreateTime>${now}</CreateTime><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[${tag(xml, 'Content')}]]></Content></xml>`;
  return safe ? crypt.seal(reply, String(now), String(Math.floor(Math.random() * 1e10))) : reply;
}

async function readBody(req: IncomingMessage): Promise<string> {
  let body = '';
  for await (const chunk of req) body += chunk;
  return body;
}

function listen(server: { listen(port: number, host: string, cb: () => void): unknown; address(): unknown }): void {
  server.listen(0, '127.0.0.1', () => process.send?.({ port: (server.address() as { port: number }).port }));
}

async function main(): Promise<void> {
  switch (server) {
    case 'http': {
      listen(
        createServer(async (req, res) => {
          const url = req.url ?? '/';
          const answer = handBuiltAnswer(new URLSearchParams(url.slice(url.indexOf('?') + 1)), await readBody(req));
          res.writeHead(answer === undefined ? 401 : 200, { 'content-type': 'application/xml' });
          res.end(answer ?? 'invalid signature');
        }),
      );
      return;
    }
    case 'koa': {
      const app = new Koa();
      app.use(async (ctx) => {
        const answer = handBuiltAnswer(ctx.query, await readBody(ctx.req));
        ctx.status = answer === undefined ? 401 : 200;
        ctx.type = 'application/xml';
        ctx.body = answer ?? 'invalid signature';
      });
      listen(createServer(app.callback()));
      return;
    }
    case 'co-wechat': {
      const wechat = require('co-wechat') as (config: object) => { middleware(handle: (message: Record<string, string>) => unknown): Koa.Middleware };
      const app = new Koa();
      app.use(wechat({ token: BENCH.token, appid: BENCH.appId, ...(safe && { encodingAESKey: BENCH.encodingAESKey }) }).middleware(async (message) => message['Content']));
      listen(createServer(app.callback()));
      return;
    }
    case 'node-webot': {
      type Res = { reply(content: string): void };
      const wechat = require('wechat') as (
        config: object,
        handle: (req: { weixin: Record<string, string> }, res: Res) => void,
      ) => (req: object, res: object, next: (error?: unknown) => void) => void;
      const middleware = wechat({ token: BENCH.token, appid: BENCH.appId, ...(safe && { encodingAESKey: BENCH.encodingAESKey }) }, (req, res) =>
        res.reply(req.weixin['Content'] ?? ''),
      );
      listen(
        createServer((req, res) => {
          const url = req.url ?? '/';
          // node-webot reads req.query as connect/express put it there.
          (req as unknown as { query: object }).query = Object.fromEntries(new URLSearchParams(url.slice(url.indexOf('?') + 1)));
          middleware(req, res, (error) => {
            res.writeHead(500);
            res.end(String(error));
          });
        }),
      );
      return;
    }
    case 'wxbot': {
      Object.assign(process.env, defaultBotEnv(crypto));
      const { createBot, resolveConfig } = await import('@wxbot/core');
      const config = await resolveConfig((await import('../bot.config.ts')).default);
      const bot = createBot(config);
      const { port } = await bot.start({ port: 0, host: '127.0.0.1' });
      process.send?.({ port });
      return;
    }
    case 'wxbot-echo':
    case 'wxbot-echo-silent':
    case 'wxbot-silent':
    case 'wxbot-only': {
      // Attribution variants, to tell what the default bot's CPU per request goes to (never
      // compared with the other servers as "wxbot"): `wxbot-echo` is the framework with the echo
      // plugin only; `-silent` logs at warn (no callback line); `wxbot-only` is the default bot
      // with only the plugins named in WXBOT_BENCH_PLUGINS (e.g. keyword,voice), info logs.
      const silent = server.endsWith('-silent');
      Object.assign(process.env, defaultBotEnv(crypto, silent ? 'warn' : 'info'));
      const { createBot, resolveConfig, officialAccount } = await import('@wxbot/core');
      const config = server.startsWith('wxbot-echo')
        ? await resolveConfig({
            channels: [officialAccount({ path: '/wx', appId: BENCH.appId, token: BENCH.token, ...(safe && { encodingAESKey: BENCH.encodingAESKey }) })],
            plugins: [(await import('@wxbot/plugin-echo')).echo()],
            logger: { level: silent ? 'warn' : 'info' },
          })
        : await resolveConfig((await import('../bot.config.ts')).default);
      const only = process.env.WXBOT_BENCH_PLUGINS?.split(',');
      const bot = createBot(only ? { ...config, plugins: (config.plugins ?? []).filter((p) => only.includes(p.name)) } : config);
      const { port } = await bot.start({ port: 0, host: '127.0.0.1' });
      process.send?.({ port });
      return;
    }
    default:
      throw new Error(`unknown server ${server}`);
  }
}

void main();
