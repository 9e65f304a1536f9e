import type { MediaFile } from '../../api/client.ts';
import { decodeEncodingAESKey } from '../../crypto/keys.ts';
import type { WXBizMsgCrypt } from '../../crypto/wxBizMsgCrypt.ts';
import { ChannelError } from '../../errors.ts';
import { messageFromAiBot, type AiBotJson } from '../../message/fromAiBot.ts';
import type { Recipient, SendOptions } from '../../message/recipient.ts';
import type { Message } from '../../message/types.ts';
import type { Reply, ReplyType } from '../../reply/types.ts';
import { buildChannel, BaseChannel, COMMON_CHANNEL_KEYS, required, stampAndNonce, verifyEncryptedUrl, type CommonChannelOptions } from '../base.ts';
import type { KeysOf } from '../../optionKeys.ts';
import type { CallbackResult, Channel, ChannelRuntime, Query } from '../types.ts';
import type { ReplyStreamSink } from '../../delivery/stream.ts';
import { downloadAiBotMedia, redactUrl, ResponseUrlSender } from './http.ts';
import { passiveShape, responseUrlBody, streamBody, type AiBotBody } from './replies.ts';
import { STREAM_CONTENT_LIMIT, StreamRegistry, type AiBotStream, type StreamOptions } from './streams.ts';
import { AIBOT_WS_URL, type AiBotSocket } from './socket.ts';
import { AiBotWsTransport } from './wsTransport.ts';

/** Settings of a WeCom AI bot (智能机器人) channel: callback token and key, or bot id and secret for the WebSocket mode. */
export interface WecomAiBotOptions extends CommonChannelOptions {
  /** Callback (URL) mode: Token and EncodingAESKey from the bot's API settings. */
  token?: string;
  encodingAESKey?: string;
  /** The bot's id (aibotid): shown at start-up, and with `secret` the WebSocket mode's login. */
  botId?: string;
  /** WebSocket (long-connection) mode: the bot's Secret. With `botId`, no public URL is needed. */
  secret?: string;
  /** WebSocket endpoint (default `wss://openws.work.weixin.qq.com`; tests use a fake). */
  wsUrl?: string;
  /** WebSocket heartbeat and reconnect timing (defaults: 30 s pings, 1 s → 30 s backoff). */
  ws?: { pingIntervalMs?: number; reconnectBaseMs?: number; reconnectMaxMs?: number };
  /** How streamed answers behave (byte cap, age limit, `<think>` reasoning). */
  stream?: StreamOptions;
}

/** How long the rest of a long answer waits for the stream it continues to be shown. */
const OVERFLOW_DELAY_MS = 300;

const PASSIVE: ReadonlySet<ReplyType> = new Set(['text', 'markdown', 'templateCard', 'stream']);

const KEYS = {
  ...COMMON_CHANNEL_KEYS,
  token: true,
  encodingAESKey: true,
  botId: true,
  secret: true,
  wsUrl: true,
  ws: { pingIntervalMs: true, reconnectBaseMs: true, reconnectMaxMs: true } satisfies KeysOf<NonNullable<WecomAiBotOptions['ws']>>,
  stream: { limitBytes: true, maxAgeMs: true, showThinking: true } satisfies KeysOf<StreamOptions>,
} as const satisfies KeysOf<WecomAiBotOptions>;

/**
 * WeCom AI bot (智能机器人), in two transports with one message model:
 * - callback (URL) mode (`token`, `encodingAESKey`): callbacks are JSON `{"encrypt"}` with the
 *   usual WXBizMsgCrypt (receiveid ""), answers are encrypted JSON. A text answer is a stream:
 *   WeCom polls it with `msgtype: stream` callbacks and shows each snapshot; answers later
 *   than the reply window go once through the message's `response_url`.
 * - WebSocket mode (`botId`, `secret`): the bot keeps a long connection to WeCom, receives the
 *   same JSON there and pushes its answers (streams included) as frames; no public URL.
 */
export class WecomAiBotChannel extends BaseChannel implements Channel {
  readonly kind = 'wecomAiBot' as const;
  readonly passiveReplyTypes = PASSIVE;
  /** One stream (20480 bytes) plus one response_url call: the channel splits long texts itself. */
  readonly textLimitBytes = 2 * STREAM_CONTENT_LIMIT;
  readonly options: WecomAiBotOptions;
  readonly streams = new StreamRegistry();
  readonly #crypt: WXBizMsgCrypt | undefined;
  readonly #mediaKey: Buffer | undefined;
  readonly #responses = new ResponseUrlSender();
  #ws: AiBotWsTransport | undefined;

  constructor(options: WecomAiBotOptions) {
    super(options, { name: 'wecomAiBot', path: '/wecom/aibot', keys: KEYS });
    const callbackMode = Boolean(options.token || options.encodingAESKey);
    const wsMode = Boolean(options.secret);
    if (!callbackMode && !wsMode) throw new Error(`channel ${this.name}: give token and encodingAESKey (callback mode) or botId and secret (WebSocket mode)`);
    if (callbackMode && (!options.token || !options.encodingAESKey)) throw new Error(`channel ${this.name}: token and encodingAESKey are both required for callback mode`);
    if (wsMode && !options.botId) throw new Error(`channel ${this.name}: the WebSocket mode needs botId with the secret`);
    this.options = options;
    if (options.token && options.encodingAESKey) {
      // The AI bot encrypts with an empty receiveid.
      this.#crypt = this.createCrypt(options.token, options.encodingAESKey, '');
      this.#mediaKey = decodeEncodingAESKey(options.encodingAESKey);
    }
  }

  /** The callback cipher; a WebSocket-only bot has no callback URL. */
  protected get crypt(): WXBizMsgCrypt {
    if (!this.#crypt) throw new ChannelError(404, 'this AI bot runs in WebSocket mode: it has no callback URL');
    return this.#crypt;
  }

  override start(runtime: ChannelRuntime): void {
    super.start(runtime);
    const { botId, secret } = this.options;
    if (botId && secret) {
      this.#ws = new AiBotWsTransport({
        url: this.options.wsUrl,
        botId,
        secret,
        channel: this.ref,
        log: runtime.log,
        stream: this.options.stream,
        ...this.options.ws,
        dispatch: (message) => runtime.dispatch(message),
      });
      this.#ws.start();
    }
  }

  /** The WebSocket connection in WebSocket mode (undefined in callback mode). */
  get socket(): AiBotSocket | undefined {
    return this.#ws?.socket;
  }

  async stop(): Promise<void> {
    await this.#ws?.stop();
    this.streams.clear();
  }

  /** URL verification: msg_signature over echostr, answered with its plaintext. */
  verify(query: Query): string {
    return verifyEncryptedUrl(this.crypt, query, this.checkFresh);
  }

  receive(query: Query, body: string): CallbackResult {
    const signature = required(query, 'msg_signature');
    const timestamp = required(query, 'timestamp');
    const nonce = required(query, 'nonce');
    const json = this.#decrypt(signature, timestamp, nonce, body);
    if (json['msgtype'] === 'stream') return { kind: 'ack', body: this.#answerPoll(json, nonce) };
    const message = messageFromAiBot(json, this.ref);
    if (!message.id) throw new ChannelError(400, 'callback has no msgid');
    const received = Date.now();
    return { kind: 'message', message, encodeReply: (reply) => this.#encodePassive(message, reply, nonce, received) };
  }

  /** Seals a plaintext reply body as the encrypted JSON WeCom expects. */
  seal(body: AiBotBody, nonce = stampAndNonce().nonce): string {
    return this.crypt.sealJson(JSON.stringify(body), stampAndNonce().timestamp, nonce);
  }

  /**
   * Callback mode: the one active path is the message's response_url (markdown or template
   * card, once). WebSocket mode: the message's req_id, else aibot_send_msg to the chat.
   */
  async send(to: Recipient, reply: Reply, options: SendOptions = {}): Promise<void> {
    const ws = this.#ws;
    // A message that came over the WebSocket is answered there; a callback's through its response_url.
    if (ws && ((options.inReplyTo !== undefined && ws.knows(options.inReplyTo)) || !to.responseUrl)) return ws.send(to, reply, options);
    if (!to.responseUrl) {
      throw new Error(`channel "${this.name}" (WeCom AI bot, callback mode) can only answer a message, through its response_url; it cannot send unprompted`);
    }
    const { body, truncated } = responseUrlBody(reply);
    if (truncated) this.log.warn({ bytes: Buffer.byteLength((reply as { text: string }).text) }, `response_url takes ${STREAM_CONTENT_LIMIT} bytes: the answer was cut`);
    await this.#responses.post(to.responseUrl, body);
  }

  /** Downloads and decrypts an image/file URL of a message (valid 5 minutes). */
  downloadMedia(url: string): Promise<MediaFile> {
    if (!/^https?:\/\//.test(url)) return Promise.reject(new Error(`channel "${this.name}": media of the WeCom AI bot is a URL, got "${url.slice(0, 40)}"`));
    // WebSocket messages carry a key per URL; callbacks use the bot's EncodingAESKey.
    const key = this.#ws?.mediaKey(url) ?? this.#mediaKey;
    if (!key) return Promise.reject(new Error(`channel "${this.name}": no key for this media URL (it did not come with a message in the last 10 minutes)`));
    return downloadAiBotMedia(url, key);
  }

  describe(): Record<string, unknown> {
    const modes = [this.#crypt && 'callback', this.options.secret && 'websocket'].filter(Boolean).join('+');
    return { botId: this.options.botId, mode: modes, ...(this.options.secret && { wsUrl: this.options.wsUrl ?? AIBOT_WS_URL }) };
  }

  #decrypt(signature: string, timestamp: string, nonce: string, body: string): AiBotJson {
    let envelope: unknown;
    try {
      envelope = JSON.parse(body);
    } catch {
      throw new ChannelError(400, 'body is not JSON');
    }
    const encrypted = (envelope as { encrypt?: unknown } | null)?.encrypt;
    if (typeof encrypted !== 'string' || !encrypted) throw new ChannelError(400, 'missing "encrypt" field');
    this.crypt.verify(signature, timestamp, nonce, encrypted);
    // The replay window, as on every other channel's callbacks (after the signature: only then is the timestamp WeCom's).
    this.checkFresh(timestamp);
    const plaintext = this.crypt.decrypt(encrypted);
    let json: unknown;
    try {
      json = JSON.parse(plaintext);
    } catch {
      throw new ChannelError(400, 'decrypted callback is not JSON');
    }
    if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new ChannelError(400, 'decrypted callback is not a JSON object');
    return json as AiBotJson;
  }

  /**
   * A refresh poll: the current snapshot of the stream. An unknown id (a restart, another
   * instance, a stream long gone) gets finish so WeCom stops polling instead of waiting 6 min.
   */
  #answerPoll(json: AiBotJson, nonce: string): string {
    const id = String((json['stream'] as { id?: unknown } | undefined)?.id ?? '');
    const stream = this.streams.get(id);
    if (!stream) this.log.info({ streamId: id }, 'refresh poll for an unknown stream: answered finish');
    return this.seal(streamBody(stream ? stream.snapshot() : { id, content: '', finish: true }), nonce);
  }

  /**
   * A stream for `ctx.replyStream()`: WeCom's polls see its snapshots while chunks arrive.
   * Events cannot be answered with a stream.
   */
  openStream(message: Message, options: { passive: boolean }): ReplyStreamSink | undefined {
    if (this.#ws?.knows(message.id)) return this.#ws.openStream(message);
    // In callback mode a stream can only start in the HTTP answer.
    if (message.type === 'event' || !options.passive) return undefined;
    const stream = this.streams.create(this.options.stream, message.time.getTime());
    return {
      start: { type: 'stream', streamId: stream.id },
      write: (chunk) => stream.append(chunk),
      end: async () => {
        stream.end();
        await this.#sendOverflow(message, stream);
      },
    };
  }

  #encodePassive(message: Message, reply: Reply, nonce: string, received: number): string {
    const shape = passiveShape(message, reply);
    if (shape.kind === 'body') return this.seal(shape.body, nonce);
    if (shape.kind === 'open') {
      const opened = this.streams.get(shape.streamId);
      if (!opened) throw new Error(`stream ${shape.streamId} is not open on channel ${this.name}`);
      return this.seal(streamBody(opened.snapshot()), nonce);
    }
    const stream = this.streams.create(this.options.stream, received);
    stream.append(shape.text);
    stream.end();
    // After the stream's answer has had time to reach WeCom, so the rest shows below it.
    setTimeout(() => void this.#sendOverflow(message, stream), OVERFLOW_DELAY_MS).unref();
    return this.seal(streamBody(stream.snapshot()), nonce);
  }

  /** What a finished stream could not show goes once through response_url. Never throws. */
  async #sendOverflow(message: Message, stream: AiBotStream): Promise<void> {
    const rest = stream.overflow;
    if (!rest) return;
    const url = message.responseUrl;
    if (!url) {
      this.log.warn({ msgId: message.id, bytes: Buffer.byteLength(rest) }, 'answer longer than the stream holds and no response_url for the rest: it was cut');
      return;
    }
    try {
      await this.send({ user: message.from, responseUrl: url }, { type: 'markdown', text: rest });
    } catch (error) {
      this.log.error({ msgId: message.id, url: redactUrl(url), err: error }, 'the rest of a long answer could not be sent through response_url');
    }
  }
}

/** A WeCom AI bot channel in callback mode (default path `/wecom/aibot`). */
export function wecomAiBot(options: WecomAiBotOptions): WecomAiBotChannel {
  return buildChannel('wecomAiBot', options, () => new WecomAiBotChannel(options));
}
