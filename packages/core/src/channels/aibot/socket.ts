import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import type WebSocket from 'ws';
import { WeChatApiError } from '../../api/errors.ts';
import { loadOnUse } from '../../loadOnUse.ts';

/** WeCom's long-connection endpoint for AI bots. */
export const AIBOT_WS_URL = 'wss://openws.work.weixin.qq.com';

/** One frame of the AI bot's WebSocket protocol. Acks carry `errcode` and no `cmd`. */
export interface AiBotFrame {
  cmd?: string;
  headers: { req_id: string };
  body?: Record<string, unknown>;
  errcode?: number;
  errmsg?: string;
}

export interface AiBotSocketOptions {
  url?: string;
  botId: string;
  secret: string;
  log: Logger;
  /** Heartbeat interval (default 30 s); two missed acks count as a dead connection. */
  pingIntervalMs?: number;
  /** First reconnect delay, doubled per failed attempt (default 1 s, at most `reconnectMaxMs`). */
  reconnectBaseMs?: number;
  reconnectMaxMs?: number;
  /** How long a request waits for its ack (default 5 s). */
  ackTimeoutMs?: number;
  /** A message or event callback arrived. */
  onCallback(frame: AiBotFrame): void;
  /**
   * Where `ws` comes from (default: `import('ws')`; tests hand in one that fails). Typed
   * `unknown` so the published declarations name no `ws` types: a user's `tsc` without
   * `skipLibCheck` would need `@types/ws` for a seam only tests use.
   */
  loadWs?: () => Promise<unknown>;
}

type WsModule = typeof import('ws');
const importWs = (): Promise<WsModule> => import('ws');

interface Pending {
  resolve(frame: AiBotFrame): void;
  reject(error: Error): void;
  timer: NodeJS.Timeout;
}

/**
 * The AI bot's long connection: subscribes with bot id and secret, pings every 30 s,
 * reconnects with exponential backoff, and matches acks to requests by req_id. Requests that
 * share a req_id (the frames of one stream) go out one at a time, each after the previous
 * ack, as WeCom expects. The secret never reaches a log line.
 */
export class AiBotSocket {
  readonly #options: AiBotSocketOptions;
  readonly #url: string;
  #ws: WebSocket | undefined;
  #stopped = true;
  #authenticated = false;
  #attempts = 0;
  #missedPings = 0;
  #pingTimer: NodeJS.Timeout | undefined;
  #reconnectTimer: NodeJS.Timeout | undefined;
  readonly #pending = new Map<string, Pending>();
  /** Per req_id, the tail of its queue: the next request waits for it. */
  readonly #queues = new Map<string, Promise<unknown>>();
  #onAuthenticated: Array<() => void> = [];
  /** Counts connection attempts: an attempt still loading `ws` when a newer one began is dropped. */
  #connects = 0;
  /** `ws`, loaded at the first connection attempt; one that failed loads again at the reconnect. */
  readonly #loadWs: () => Promise<WsModule>;

  constructor(options: AiBotSocketOptions) {
    this.#options = options;
    this.#url = options.url ?? AIBOT_WS_URL;
    this.#loadWs = loadOnUse((options.loadWs as (() => Promise<WsModule>) | undefined) ?? importWs);
  }

  get authenticated(): boolean {
    return this.#authenticated;
  }

  /** Resolves once subscribed (the first time, or again after a reconnect). */
  whenAuthenticated(): Promise<void> {
    return this.#authenticated ? Promise.resolve() : new Promise((resolve) => this.#onAuthenticated.push(resolve));
  }

  start(): void {
    this.#stopped = false;
    this.#connect();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#reconnectTimer);
    this.#stopPing();
    this.#failPending(new Error('the AI-bot connection was closed'));
    const ws = this.#ws;
    this.#ws = undefined;
    if (ws && ws.readyState !== ws.CLOSED) {
      await new Promise<void>((resolve) => {
        ws.once('close', () => resolve());
        ws.close(1000, 'bye');
        setTimeout(() => {
          ws.terminate();
          resolve();
        }, 1000).unref();
      });
    }
  }

  /**
   * Sends `cmd` with `body` on `reqId` and resolves with the ack; rejects with a
   * WeChatApiError for a non-zero errcode, a timeout or a lost connection.
   */
  request(cmd: string, reqId: string, body?: Record<string, unknown>): Promise<AiBotFrame> {
    const previous = this.#queues.get(reqId) ?? Promise.resolve();
    const result = previous.catch(() => {}).then(() => this.#sendAndWait({ cmd, headers: { req_id: reqId }, ...(body && { body }) }));
    const tail = result.catch(() => {});
    this.#queues.set(reqId, tail);
    void tail.then(() => {
      if (this.#queues.get(reqId) === tail) this.#queues.delete(reqId);
    });
    return result;
  }

  #sendAndWait(frame: AiBotFrame): Promise<AiBotFrame> {
    const reqId = frame.headers.req_id;
    const ws = this.#ws;
    if (!ws || ws.readyState !== ws.OPEN || (!this.#authenticated && frame.cmd !== 'aibot_subscribe')) {
      return Promise.reject(new WeChatApiError(`aibot ${frame.cmd}`, -1, 'the AI-bot WebSocket is not connected'));
    }
    return new Promise<AiBotFrame>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(reqId);
        reject(new WeChatApiError(`aibot ${frame.cmd}`, -1, `no ack within ${this.#options.ackTimeoutMs ?? 5000} ms`));
      }, this.#options.ackTimeoutMs ?? 5000);
      this.#pending.set(reqId, {
        timer,
        resolve: (ack) => (ack.errcode ? reject(new WeChatApiError(`aibot ${frame.cmd}`, ack.errcode, ack.errmsg ?? '')) : resolve(ack)),
        reject,
      });
      ws.send(JSON.stringify(frame));
    });
  }

  #connect(): void {
    if (this.#stopped) return;
    const attempt = ++this.#connects;
    // ws is loaded here, not when @wxbot/core is imported: only an AI bot in long-connection
    // mode uses it, and it is ~0.35 MiB of the resting heap of every other bot. A failed load
    // is one more failed attempt: the reconnect loads it again.
    this.#loadWs().then(
      ({ default: WebSocket }) => {
        if (!this.#stopped && attempt === this.#connects) this.#open(WebSocket);
      },
      (error: unknown) => {
        this.#options.log.error({ err: error }, 'AI-bot WebSocket: the ws module could not be loaded (tried again at the reconnect)');
        if (!this.#stopped && attempt === this.#connects) this.#scheduleReconnect();
      },
    );
  }

  #open(WebSocket: WsModule['default']): void {
    const log = this.#options.log;
    const ws = new WebSocket(this.#url);
    this.#ws = ws;
    ws.on('open', () => {
      this.#missedPings = 0;
      const reqId = `aibot_subscribe_${randomBytes(8).toString('hex')}`;
      this.#sendAndWait({ cmd: 'aibot_subscribe', headers: { req_id: reqId }, body: { bot_id: this.#options.botId, secret: this.#options.secret } }).then(
        () => {
          this.#attempts = 0;
          this.#authenticated = true;
          this.#startPing();
          log.info({ url: this.#url }, 'AI-bot WebSocket subscribed');
          for (const resolve of this.#onAuthenticated.splice(0)) resolve();
        },
        (error: WeChatApiError) => {
          log.error({ errcode: error.errcode, errmsg: error.errmsg }, 'AI-bot WebSocket subscription refused: check the bot id and secret');
          ws.terminate();
        },
      );
    });
    ws.on('message', (data) => this.#onFrame(data.toString()));
    ws.on('error', (error) => log.warn({ err: error }, 'AI-bot WebSocket error'));
    ws.on('close', (code) => {
      if (this.#ws !== ws) return;
      this.#authenticated = false;
      this.#stopPing();
      this.#failPending(new WeChatApiError('aibot', -1, `the AI-bot WebSocket closed (${code})`));
      if (!this.#stopped) this.#scheduleReconnect();
    });
  }

  #onFrame(text: string): void {
    let frame: AiBotFrame;
    try {
      frame = JSON.parse(text) as AiBotFrame;
    } catch {
      this.#options.log.warn({ bytes: text.length }, 'AI-bot WebSocket frame is not JSON; ignored');
      return;
    }
    const reqId = frame.headers?.req_id ?? '';
    if (frame.cmd === 'aibot_msg_callback' || frame.cmd === 'aibot_event_callback') {
      const event = (frame.body?.['event'] as { eventtype?: unknown } | undefined)?.eventtype;
      if (event === 'disconnected_event') {
        // A newer connection for this bot took over (another instance, a restart): let it be.
        this.#options.log.warn('AI-bot WebSocket: a newer connection for this bot took over; this one stops');
        this.#stopped = true;
        return;
      }
      try {
        this.#options.onCallback(frame);
      } catch (error) {
        this.#options.log.error({ err: error }, 'AI-bot callback could not be handled');
      }
      return;
    }
    const pending = this.#pending.get(reqId);
    if (pending) {
      this.#pending.delete(reqId);
      clearTimeout(pending.timer);
      pending.resolve(frame);
      return;
    }
    if (reqId.startsWith('ping_')) return; // a late heartbeat ack
    this.#options.log.debug({ cmd: frame.cmd, errcode: frame.errcode }, 'AI-bot WebSocket frame nobody waited for');
  }

  #startPing(): void {
    this.#stopPing();
    this.#pingTimer = setInterval(() => {
      if (this.#missedPings >= 2) {
        this.#options.log.warn('AI-bot WebSocket: two heartbeats unanswered; reconnecting');
        this.#ws?.terminate();
        return;
      }
      this.#missedPings += 1;
      this.#sendAndWait({ cmd: 'ping', headers: { req_id: `ping_${randomBytes(8).toString('hex')}` } }).then(
        () => (this.#missedPings = 0),
        () => {},
      );
    }, this.#options.pingIntervalMs ?? 30_000);
    this.#pingTimer.unref();
  }

  #stopPing(): void {
    clearInterval(this.#pingTimer);
    this.#pingTimer = undefined;
  }

  #scheduleReconnect(): void {
    const base = this.#options.reconnectBaseMs ?? 1000;
    const delay = Math.min(base * 2 ** this.#attempts, this.#options.reconnectMaxMs ?? 30_000);
    this.#attempts += 1;
    this.#options.log.info({ attempt: this.#attempts, delayMs: delay }, 'AI-bot WebSocket reconnecting');
    this.#reconnectTimer = setTimeout(() => this.#connect(), delay);
    this.#reconnectTimer.unref();
  }

  #failPending(error: Error): void {
    for (const [reqId, pending] of this.#pending) {
      clearTimeout(pending.timer);
      this.#pending.delete(reqId);
      pending.reject(error);
    }
  }
}
