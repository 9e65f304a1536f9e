/**
 * Shared by the benches that run a checkout's handlers in their own process, one callback at a
 * time, without HTTP (instructions.ts under valgrind, jitTrace.ts under V8's trace): the signed
 * callbacks they are given, and the hand-written floor and the default bot of a checkout `dir`,
 * set up as bench/servers.ts's `http`/`koa` handler and `wxbot` are. Each bench keeps its own
 * loop, where it marks its windows.
 */
import { join } from 'node:path';
import { parse as parseQuery } from 'node:querystring';
import { pathToFileURL } from 'node:url';
import { BENCH, type CryptoMode, defaultBotEnv } from './config.ts';

/** Callbacks as a route gets them: the query parsed, the body as sent. */
export interface Prepared {
  mode: CryptoMode;
  callbacks: { query: Record<string, string>; body: string }[];
}

/** The floor's answer text (servers.ts's handlers echo the message; in process a fixed text). */
export const FLOOR_REPLY_TEXT = '您好，这里是 wxbot 的自动回复，有什么可以帮您？';

/**
 * `count` new messages (traffic.ts's, the same texts and users for every checkout), signed 300 s
 * ahead, just before a run starts: the default bot checks the replay window (±315 s), so they
 * stay fresh for ten minutes. A run under valgrind on a loaded machine can take longer (seen:
 * 17–50 min at load 20–28) and is then refused; run those on a quieter machine.
 */
export async function prepareCallbacks(mode: CryptoMode, count: number): Promise<Prepared> {
  const { newMessages } = await import('./traffic.ts');
  const timestamp = String(Math.floor(Date.now() / 1000) + 300);
  const callbacks = newMessages(mode, count, '/wx', 0, { timestamp }).map(({ path, body }) => ({
    query: parseQuery(path.slice(path.indexOf('?') + 1)) as Record<string, string>,
    body,
  }));
  return { mode, callbacks };
}

/**
 * A module of `dir`'s core, as the rest of the process gets core: its sources under the
 * `@wxbot/source` condition, else its build (Node args without the condition; `npm run build`
 * first). Mixing the two puts two copies of core in one process, whose classes do not know
 * each other's objects.
 */
export function coreModule(dir: string, path: string): string {
  const fromSource = process.execArgv.includes('--conditions=@wxbot/source');
  return pathToFileURL(join(dir, 'packages/core', fromSource ? `src/${path}` : `dist/${path.replace(/\.ts$/, '.js')}`)).href;
}

/** One callback handled; the length of its answer (something a run adds up, so nothing is optimized away). */
export type Handle = (callback: Prepared['callbacks'][number]) => number;

/**
 * bench/servers.ts's handBuiltAnswer over `dir`'s WXBizMsgCrypt, its fields read by regex: check
 * the signature, decrypt (safe), answer a text (sealed in safe mode). Throws on a bad signature.
 */
export async function floorHandler(dir: string, mode: CryptoMode): Promise<Handle> {
  const { WXBizMsgCrypt } = (await import(coreModule(dir, 'crypto/wxBizMsgCrypt.ts'))) as typeof import('../packages/core/src/crypto/wxBizMsgCrypt.ts');
  const { sortedSha1 } = (await import(coreModule(dir, 'crypto/signature.ts'))) as typeof import('../packages/core/src/crypto/signature.ts');
  const crypt = new WXBizMsgCrypt(BENCH.token, BENCH.encodingAESKey, BENCH.appId);
  const safe = mode === 'safe';
  const tag = (xml: string, name: string) => new RegExp(`<${name}><!\\[CDATA\\[(.*?)\\]\\]></${name}>`).exec(xml)?.[1];
  return ({ query, body }) => {
    let xml = body;
    if (safe) xml = crypt.open(query.msg_signature, query.timestamp!, query.nonce!, tag(body, 'Encrypt')!);
    else if (sortedSha1(BENCH.token, query.timestamp!, query.nonce!) !== query.signature) throw new Error('bad signature');
    const now = Math.floor(Date.now() / 1000);
    const reply = `<xml><ToUserName><![CDATA[${tag(xml, 'FromUserName')}]]></ToUserName><FromUserName><![CDATA[${tag(xml, 'ToUserName')}]]></FromUserName><CreateTime>${now}</CreateTime><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[${FLOOR_REPLY_TEXT}]]></Content></xml>`;
    return (safe ? crypt.seal(reply, String(now), String(Math.floor(Math.random() * 1e10))) : reply).length;
  };
}

/**
 * An Official Account channel of `dir`'s core alone, as instructions.ts's `channel` scope runs it:
 * `receive`, then `encodeReply` of the floor's text (`receiveOnly`: the message id instead).
 * The callbacks were signed when built, possibly tens of minutes before a run under valgrind
 * reads them: a day's replay window keeps them fresh, and the check runs as on a server.
 */
export async function channelHandler(dir: string, mode: CryptoMode, receiveOnly = false): Promise<Handle> {
  const { officialAccount } = (await import(coreModule(dir, 'channels/officialAccount.ts'))) as typeof import('../packages/core/src/channels/officialAccount.ts');
  const channel = officialAccount({ appId: BENCH.appId, token: BENCH.token, encodingAESKey: mode === 'safe' ? BENCH.encodingAESKey : undefined, replayWindowSeconds: 86_400 });
  const reply = { type: 'text' as const, text: FLOOR_REPLY_TEXT };
  return ({ query, body }) => {
    const result = channel.receive(query, body);
    if (result.kind !== 'message') throw new Error('not a message');
    return receiveOnly ? result.message.id.length : result.encodeReply(reply).length;
  };
}

/**
 * `dir`'s default bot as bench/servers.ts's `wxbot` configures it (its environment, its
 * bot.config.ts), started; `handle` gives a callback to `handleCallback` as the HTTP route does
 * and checks that the answer is a passive reply.
 */
export async function defaultBot(dir: string, mode: CryptoMode): Promise<{ handle: (callback: Prepared['callbacks'][number]) => Promise<number>; stop: () => Promise<void> }> {
  Object.assign(process.env, defaultBotEnv(mode));
  const { createBot, resolveConfig } = (await import(coreModule(dir, 'index.ts'))) as typeof import('../packages/core/src/index.ts');
  const config = await resolveConfig(((await import(pathToFileURL(join(dir, 'bot.config.ts')).href)) as typeof import('../bot.config.ts')).default);
  const bot = createBot(config);
  await bot.init();
  const channel = bot.channels.find((c) => c.path === '/wx');
  if (!channel) throw new Error('no channel on /wx');
  return {
    handle: async ({ query, body }) => {
      const answer = await bot.handleCallback(channel, query, body);
      if (!answer.startsWith('<xml>')) throw new Error(`not a passive reply: ${answer}`);
      return answer.length;
    },
    stop: () => bot.stop(),
  };
}
