import { randomBytes } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import type { Logger } from 'pino';
import { WeChatApiError } from '../../api/errors.ts';
import type { ReplyStreamSink } from '../../delivery/stream.ts';
import { messageFromAiBot, type AiBotJson } from '../../message/fromAiBot.ts';
import type { Recipient, SendOptions } from '../../message/recipient.ts';
import type { ChannelRef, Message } from '../../message/types.ts';
import { UnsupportedReplyError } from '../../reply/passiveXml.ts';
import type { Reply } from '../../reply/types.ts';
import { responseUrlBody, streamBody } from './replies.ts';
import { AiBotSocket, type AiBotFrame } from './socket.ts';
import { AiBotStream, STREAM_LIFETIME_MS, type StreamOptions } from './streams.ts';

/** WeCom's answer to a stream frame sent after the stream's 6 minutes. */
const STREAM_EXPIRED = 846608;

export interface WsTransportOptions {
  url?: string;
  botId: string;
  secret: string;
  channel: ChannelRef;
  log: Logger;
  stream?: StreamOptions;
  pingIntervalMs?: number;
  reconnectBaseMs?: number;
  reconnectMaxMs?: number;
  /** Runs the pipeline for a message that arrived on the connection. */
  dispatch(message: Message): Promise<void>;
}

/** What the transport remembers about a message it received, to answer it on its req_id. */
interface Inbound {
  message: Message;
  reqId: string;
  at: number;
  /** The req_id carried an answer already: more go through aibot_send_msg. */
  answered: boolean;
}

/**
 * The AI bot's WebSocket mode: callbacks arrive on the long connection instead of HTTP, and
 * answers are frames on the callback's req_id (a stream is pushed by the bot, not polled).
 * The message model, plugins and `ctx.reply`/`ctx.replyStream` are the same as in callback
 * mode.
 */
export class AiBotWsTransport {
  readonly socket: AiBotSocket;
  readonly #options: WsTransportOptions;
  readonly #inbound = new LRUCache<string, Inbound>({ max: 50_000, ttl: STREAM_LIFETIME_MS });
  /** Media URLs of WS messages carry their own key (`aeskey`). */
  readonly #mediaKeys = new LRUCache<string, Buffer>({ max: 10_000, ttl: 10 * 60_000 });
  readonly #seen = new LRUCache<string, true>({ max: 50_000, ttl: 10 * 60_000 });
  readonly #running = new Set<Promise<void>>();

  constructor(options: WsTransportOptions) {
    this.#options = options;
    this.socket = new AiBotSocket({
      url: options.url,
      botId: options.botId,
      secret: options.secret,
      log: options.log,
      pingIntervalMs: options.pingIntervalMs,
      reconnectBaseMs: options.reconnectBaseMs,
      reconnectMaxMs: options.reconnectMaxMs,
      onCallback: (frame) => this.#onCallback(frame),
    });
  }

  start(): void {
    this.socket.start();
  }

  async stop(): Promise<void> {
    await Promise.allSettled([...this.#running]);
    await this.socket.stop();
  }

  /** True for a message (by id) that arrived on this connection, recently enough to answer it. */
  knows(messageId: string): boolean {
    return this.#inbound.has(messageId);
  }

  /** The key of a media URL a WS message carried, if it did. */
  mediaKey(url: string): Buffer | undefined {
    return this.#mediaKeys.get(url);
  }

  /**
   * Answers a message on its req_id (stream, welcome, card update), or sends actively
   * (aibot_send_msg to the chat) when there is no req_id left to answer on.
   */
  async send(to: Recipient, reply: Reply, options: SendOptions = {}): Promise<void> {
    const inbound = options.inReplyTo !== undefined ? this.#inbound.get(options.inReplyTo) : undefined;
    if (inbound && !inbound.answered) {
      const frame = answerFrame(inbound.message, reply);
      if (frame) {
        inbound.answered = true;
        if (frame.cmd === 'aibot_respond_msg' && (reply.type === 'text' || reply.type === 'markdown')) {
          const stream = new AiBotStream(this.#options.stream, inbound.at);
          stream.append(reply.text);
          stream.end();
          await this.socket.request(frame.cmd, inbound.reqId, streamBody(stream.snapshot()));
          if (stream.overflow) await this.#sendActive(to, { type: 'markdown', text: stream.overflow });
          return;
        }
        await this.socket.request(frame.cmd, inbound.reqId, frame.body);
        return;
      }
    }
    await this.#sendActive(to, reply);
  }

  /** A stream pushed on the message's req_id as chunks come (at most one frame in flight). */
  openStream(message: Message): ReplyStreamSink | undefined {
    const inbound = this.#inbound.get(message.id);
    if (message.type === 'event' || !inbound || inbound.answered) return undefined;
    inbound.answered = true;
    const stream = new AiBotStream(this.#options.stream, inbound.at);
    const log = this.#options.log;
    let pushing: Promise<void> | undefined;
    let dirty = false;
    let expired = false;
    let lastSent: string | undefined;
    let shown = '';
    // Sends the latest snapshot; chunks that arrive meanwhile are coalesced into the next one.
    const pump = async (): Promise<void> => {
      while (dirty && !expired) {
        dirty = false;
        const snapshot = stream.snapshot();
        const key = `${snapshot.finish}:${snapshot.content}`;
        if (key === lastSent) continue;
        try {
          await this.socket.request('aibot_respond_msg', inbound.reqId, streamBody(snapshot));
          lastSent = key;
          shown = snapshot.content;
        } catch (error) {
          if (error instanceof WeChatApiError && error.errcode === STREAM_EXPIRED) expired = true;
          else if (snapshot.finish) throw error;
          else log.warn({ msgId: message.id, err: error }, 'a stream frame was not accepted; the next one carries the whole text');
        }
      }
    };
    const kick = () => {
      dirty = true;
      pushing ??= pump().finally(() => (pushing = undefined));
    };
    return {
      write: (chunk) => {
        stream.append(chunk);
        kick();
      },
      end: async () => {
        stream.end();
        await pushing?.catch(() => {});
        kick();
        await pushing;
        // Past the cap, past WeCom's window, or refused as expired: the rest goes actively.
        const rest = expired ? stream.text.slice(shown.length) : stream.overflow;
        if (rest) await this.#sendActive({ user: message.from, ...(message.chat?.id && { chatId: message.chat.id }) }, { type: 'markdown', text: rest });
      },
    };
  }

  async #sendActive(to: Recipient, reply: Reply): Promise<void> {
    const { body } = responseUrlBody(reply);
    await this.socket.request('aibot_send_msg', `aibot_send_msg_${randomBytes(8).toString('hex')}`, { chatid: to.chatId ?? to.user, ...body });
  }

  #onCallback(frame: AiBotFrame): void {
    const body = frame.body;
    if (!body || typeof body !== 'object') {
      this.#options.log.warn({ cmd: frame.cmd }, 'AI-bot callback frame without a body; ignored');
      return;
    }
    const message = messageFromAiBot(body as AiBotJson, this.#options.channel);
    if (!message.id || this.#seen.has(message.id)) {
      if (message.id) this.#options.log.info({ msgId: message.id }, 'AI-bot callback repeated; ignored');
      return;
    }
    this.#seen.set(message.id, true);
    this.#inbound.set(message.id, { message, reqId: frame.headers.req_id, at: Date.now(), answered: false });
    rememberMediaKeys(body as AiBotJson, this.#mediaKeys);
    const run = this.#options
      .dispatch(message)
      .catch((error) => this.#options.log.error({ msgId: message.id, err: error }, 'AI-bot message failed'))
      .finally(() => this.#running.delete(run));
    this.#running.add(run);
  }
}

/** The answer frame a reply to this message takes, or undefined when it can only go actively. */
function answerFrame(message: Message, reply: Reply): { cmd: string; body?: Record<string, unknown> } | undefined {
  if (message.type === 'event') {
    if (message.event === 'enter_chat') {
      if (reply.type === 'text' || reply.type === 'markdown') return { cmd: 'aibot_respond_welcome_msg', body: { msgtype: 'text', text: { content: reply.text } } };
      if (reply.type === 'templateCard') return { cmd: 'aibot_respond_welcome_msg', body: { msgtype: 'template_card', template_card: reply.card } };
    }
    if (message.event === 'template_card_event' && reply.type === 'templateCard') {
      const card = reply.card.task_id ? reply.card : { ...reply.card, task_id: message.taskId };
      return { cmd: 'aibot_respond_update_msg', body: { response_type: 'update_template_card', template_card: card } };
    }
    return undefined;
  }
  if (reply.type === 'text' || reply.type === 'markdown') return { cmd: 'aibot_respond_msg' };
  if (reply.type === 'templateCard') return { cmd: 'aibot_respond_msg', body: { msgtype: 'template_card', template_card: reply.card } };
  throw new UnsupportedReplyError(`the WeCom AI bot cannot answer with a ${reply.type} reply`);
}

function rememberMediaKeys(json: AiBotJson, keys: LRUCache<string, Buffer>): void {
  const visit = (value: unknown): void => {
    if (Array.isArray(value)) {
      for (const item of value) visit(item);
      return;
    }
    if (!value || typeof value !== 'object') return;
    const record = value as Record<string, unknown>;
    if (typeof record['url'] === 'string' && typeof record['aeskey'] === 'string') {
      const key = Buffer.from(record['aeskey'], 'base64');
      if (key.length === 32) keys.set(record['url'], key);
    }
    for (const child of Object.values(record)) visit(child);
  };
  visit(json);
}
