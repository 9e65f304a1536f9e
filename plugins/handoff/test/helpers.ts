import { mkdtempSync } from 'node:fs';
import { deflateSync } from 'node:zlib';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createBot, createLogger, definePlugin, generateEncodingAESKey, wecomKf, type Bot, type Store } from '@wxbot/core';
import { WeChatPeer, type FakeWeChatApi } from '@wxbot/testing';
import { WebSocket } from 'ws';
import { handoff, type HandoffPluginOptions, type ServerEvent } from '../src/index.ts';

export const CORP = 'ww-handoff-corp';
export const KF_SECRET = 'handoff-kf-secret';
export const TOKEN = 'handoff-callback-token';
export const KEY = generateEncodingAESKey();
export const ALICE = 'alice-token-0123456789abcdef';
export const BOB = 'bob-token-0123456789abcdef01';
export const BOB_WECOM = 'servicer-bob';

export const dir = mkdtempSync(join(tmpdir(), 'wxbot-handoff-'));
let count = 0;

/** A stand-in for the keyword plugin: a text with 人工 (or "human") gets an answer, then ctx.handoff(). */
export const keywordStandIn = definePlugin({
  name: 'keyword-stand-in',
  setup(bot) {
    bot.hears(/人工|\bhuman\b/i, async (ctx) => {
      await ctx.reply(/人工/.test(ctx.message.text) ? '正在为您转接人工客服，请稍候' : 'Connecting you to a colleague, one moment please.');
      await ctx.handoff({ reason: 'keyword' });
    });
  },
});

/** A stand-in for the LLM plugin, after the others: counts what reaches it and answers. */
export function llmStandIn(calls: string[]) {
  return definePlugin({
    name: 'llm-stand-in',
    setup(bot) {
      bot.on('text', async (ctx) => {
        calls.push(ctx.message.text);
        await ctx.reply(`bot: ${ctx.message.text}`);
      });
    },
  })();
}

export interface KfBot {
  bot: Bot;
  url: string;
  /** The texts that reached the LLM stand-in. */
  llmCalls: string[];
  /** Every log line, parsed. */
  logs: Record<string, unknown>[];
  /** Tells the bot (through its KF callback) that messages of `openKfId` wait. */
  notify(openKfId: string): Promise<unknown>;
}

/** A real bot over HTTP with a KF channel: handoff first, the keyword stand-in, the LLM stand-in. */
export async function startKfBot(
  api: FakeWeChatApi,
  options: Partial<HandoffPluginOptions> = {},
  extra: { store?: Store; cursorFile?: string; port?: number } = {},
): Promise<KfBot> {
  const llmCalls: string[] = [];
  const logs: Record<string, unknown>[] = [];
  const logger = createLogger({ level: 'debug', destination: { write: (line: string) => void logs.push(JSON.parse(line) as Record<string, unknown>) } });
  const bot = createBot({
    channels: [
      wecomKf({ corpId: CORP, secret: KF_SECRET, token: TOKEN, encodingAESKey: KEY, apiBaseUrl: api.url, cursorFile: extra.cursorFile ?? join(dir, `cursor-${++count}.json`) }),
    ],
    plugins: [
      handoff({
        agents: [
          { name: 'alice', token: ALICE },
          { name: 'bob', token: BOB, wecomUserId: BOB_WECOM },
        ],
        // Each bot its own state file unless the test gives one (a restart reuses it).
        stateFile: join(dir, `handoff-${++count}.json`),
        ...options,
      }),
      keywordStandIn(),
      llmStandIn(llmCalls),
    ],
    logger,
    ...(extra.store && { store: extra.store }),
  });
  const { url } = await bot.start({ port: extra.port ?? 0, host: '127.0.0.1' });
  const peer = new WeChatPeer({ url: `${url}/wecom/kf`, kind: 'wecomKf', token: TOKEN, encodingAESKey: KEY, receiveId: CORP });
  const notify = (openKfId: string) => peer.event('kf_msg_or_event', { Token: `sync-${Date.now()}`, OpenKfId: openKfId }, { from: 'sys' });
  return { bot, url, llmCalls, logs, notify };
}

/** A customer writes to a KF account, and WeChat tells the bot. */
export async function customerSays(api: FakeWeChatApi, kf: KfBot, openKfId: string, user: string, text: string): Promise<void> {
  api.kf.push(openKfId, { external_userid: user, text: { content: text } });
  await kf.notify(openKfId);
}

/** Texts the fake KF API accepted for one customer. */
export function sentTexts(api: FakeWeChatApi, openKfId: string, user: string): string[] {
  return api.kf.sent
    .filter((m) => m['open_kfid'] === openKfId && m['touser'] === user)
    .map((m) => (m['text'] as { content: string } | undefined)?.content ?? `[${String(m['msgtype'])}]`);
}

type AnyEvent = ServerEvent & Record<string, unknown>;

/** A WebSocket agent client that keeps every event it got, for tests. */
export class AgentClient {
  readonly events: AnyEvent[] = [];
  readonly closed: Promise<{ code: number; reason: string }>;
  #nextId = 1;
  #waiters = new Set<() => void>();

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data) => {
      this.events.push(JSON.parse(String(data)) as AnyEvent);
      for (const wake of this.#waiters) wake();
    });
    this.closed = new Promise((resolve) => ws.on('close', (code, reason) => resolve({ code, reason: String(reason) })));
  }

  /** Connects; rejects with the HTTP status when the upgrade is refused. */
  static connect(url: string, options: { token?: string; origin?: string; headers?: Record<string, string>; path?: string } = {}): Promise<AgentClient> {
    const target = new URL(options.path ?? '/agent/ws', url.replace(/^http/, 'ws'));
    if (options.token) target.searchParams.set('token', options.token);
    const ws = new WebSocket(target, { headers: options.headers, ...(options.origin && { origin: options.origin }) });
    return new Promise((resolve, reject) => {
      const client = new AgentClient(ws);
      ws.once('open', () => resolve(client));
      ws.once('unexpected-response', (_req, res) => {
        const body: Buffer[] = [];
        res.on('data', (chunk: Buffer) => body.push(chunk));
        res.on('end', () => reject(Object.assign(new Error(`refused: ${res.statusCode}`), { status: res.statusCode, body: Buffer.concat(body).toString() })));
      });
      ws.once('error', reject);
    });
  }

  /** The first event (from index `from`) that matches, waiting up to `timeoutMs` for it. */
  waitFor(predicate: (event: AnyEvent) => boolean, options: { from?: number; timeoutMs?: number } = {}): Promise<AnyEvent> {
    const from = options.from ?? 0;
    return new Promise((resolve, reject) => {
      const check = () => {
        const found = this.events.slice(from).find(predicate);
        if (!found) return false;
        this.#waiters.delete(check);
        clearTimeout(timer);
        resolve(found);
        return true;
      };
      const timer = setTimeout(() => {
        this.#waiters.delete(check);
        reject(new Error(`no matching event; got: ${JSON.stringify(this.events.slice(from).map((e) => e.type))}`));
      }, options.timeoutMs ?? 5000);
      if (!check()) this.#waiters.add(check);
    });
  }

  /** Sends a command and waits for its answer (ack, history or error with its id). */
  async request(command: Record<string, unknown>): Promise<AnyEvent> {
    const id = `r${this.#nextId++}`;
    const from = this.events.length;
    this.ws.send(JSON.stringify({ ...command, id }));
    return this.waitFor((e) => 'id' in e && e.id === id, { from });
  }

  close(): void {
    this.ws.close();
  }
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A real PNG of one colour (what a phone would send, in miniature). */
export function pngImage(width: number, height: number, rgb: readonly [number, number, number]): Buffer {
  const row = Buffer.concat([Buffer.from([0]), Buffer.from(Array.from({ length: width }, () => rgb).flat())]);
  const chunk = (type: string, data: Buffer) => {
    const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
    const length = Buffer.alloc(4);
    length.writeUInt32BE(data.length);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(body));
    return Buffer.concat([length, body, crc]);
  };
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header.set([8, 2, 0, 0, 0], 8); // 8-bit RGB
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', header),
    chunk('IDAT', deflateSync(Buffer.concat(Array.from({ length: height }, () => row)))),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

function crc32(data: Buffer): number {
  let crc = 0xffffffff;
  for (const byte of data) {
    crc ^= byte;
    for (let k = 0; k < 8; k++) crc = crc & 1 ? (crc >>> 1) ^ 0xedb88320 : crc >>> 1;
  }
  return (crc ^ 0xffffffff) >>> 0;
}
