import { AsyncLocalStorage } from 'node:async_hooks';
import { BaseChannel, type CallbackResult, type ReplyStreamSink } from '@wxbot/core/protocol';
import {
  createBot,
  createLogger,
  type Bot,
  type Channel,
  type ChannelKind,
  type HandoffEvent,
  type I18nOptions,
  type Logger,
  type MediaFile,
  type MediaType,
  type Message,
  type Recipient,
  type SendOptions,
  type Plugin,
  type Reply,
  type ReplyType,
  type Store,
  type UploadFile,
} from '@wxbot/core';
import { text as textMessage } from './messages.ts';

/** What each kind of channel can answer passively, as the real channels do. */
const PASSIVE_TYPES: Record<ChannelKind, ReadonlySet<ReplyType>> = {
  officialAccount: new Set(['text', 'image', 'voice', 'video', 'music', 'news']),
  wecomApp: new Set(['text', 'image', 'voice', 'video', 'news']),
  wecomKf: new Set(),
  wecomAiBot: new Set(['text', 'markdown', 'templateCard']),
  wecomWebhook: new Set(),
};

/** What `sendTo` sent (not an answer to a message), in order. */
export interface SentMessage {
  /** The channel's name (the kit's channel is named after its kind unless `name` says otherwise). */
  readonly channel: string;
  readonly to: Recipient;
  readonly reply: Reply;
}

/** A channel with no transport: whatever the pipeline sends is recorded. */
class RecordingChannel extends BaseChannel implements Channel {
  readonly passiveReplyTypes: ReadonlySet<ReplyType>;
  readonly textLimitBytes: number;
  readonly kind: ChannelKind;
  readonly sink = new AsyncLocalStorage<Reply[]>();
  readonly unrouted: Reply[] = [];
  /** Sends that answer no message: `bot.sendTo` / `scope.sendTo`. */
  readonly sentTo: SentMessage[] = [];
  /** Media `downloadMedia` serves, by media id; what `uploadMedia` got is added under a new id. */
  readonly media: Map<string, MediaFile>;
  readonly uploads: { mediaId: string; type: MediaType; file: UploadFile }[] = [];
  /**
   * Only the WeCom AI bot shows streams (`ctx.canStream`), as the real channels: a streamed
   * reply is recorded as one text once it ends. Elsewhere the pipeline collects it.
   */
  readonly openStream?: () => ReplyStreamSink;

  constructor(kind: ChannelKind, name: string, textLimitBytes: number, media: Readonly<Record<string, MediaFile | Buffer>>) {
    super({ name, path: `/${encodeURIComponent(name)}` }, { name, path: `/${encodeURIComponent(name)}` });
    this.media = new Map(
      Object.entries(media).map(([id, file]) => [id, Buffer.isBuffer(file) ? { data: file, contentType: 'application/octet-stream', fileName: undefined } : file]),
    );
    this.kind = kind;
    this.textLimitBytes = textLimitBytes;
    this.passiveReplyTypes = PASSIVE_TYPES[kind];
    if (kind === 'wecomAiBot') this.openStream = () => this.#recordedStream();
  }

  #recordedStream(): ReplyStreamSink {
    const replies = this.sink.getStore() ?? this.unrouted;
    let text = '';
    return {
      write: (chunk) => {
        text += chunk;
      },
      end: async () => {
        if (text) replies.push({ type: 'text', text });
      },
    };
  }
  verify(): string {
    throw new Error('the test channel has no HTTP side');
  }
  receive(): CallbackResult {
    throw new Error('the test channel has no HTTP side');
  }
  async send(to: Recipient, reply: Reply, options: SendOptions = {}): Promise<void> {
    // An answer carries the id of the message it answers; a sendTo carries none.
    if (options.inReplyTo === undefined) this.sentTo.push({ channel: this.name, to, reply });
    else (this.sink.getStore() ?? this.unrouted).push(reply);
  }
  async downloadMedia(mediaId: string): Promise<MediaFile> {
    const file = this.media.get(mediaId);
    if (!file) throw new Error(`the test channel has no media "${mediaId}": pass it to createTestBot({ media: { '${mediaId}': … } })`);
    return file;
  }
  async uploadMedia(type: MediaType, file: UploadFile): Promise<string> {
    const mediaId = `test-media-${this.uploads.length + 1}`;
    this.uploads.push({ mediaId, type, file });
    this.media.set(mediaId, { data: file.data, contentType: file.contentType ?? 'application/octet-stream', fileName: file.fileName });
    return mediaId;
  }
  async handoff(): Promise<boolean> {
    return this.kind === 'wecomKf';
  }
  canHandoff(): boolean {
    return this.kind === 'wecomKf';
  }
  describe(): Record<string, unknown> {
    return {};
  }
}

/** What a test bot runs: its plugins, the channel kind, store, logger, texts and limits. */
export interface TestBotOptions {
  plugins: Plugin[];
  /** Which kind of channel the messages come through (default officialAccount). */
  kind?: ChannelKind;
  /** The channel's name, for `sendTo(name, …)` and `bot.channel(name)` (default: its kind). */
  name?: string;
  /**
   * Media `ctx.downloadMedia(id)` (and `scope.media(name).download`) serves, by media id, for
   * `image(id)`, `voice(id)`…: a file, or bytes (as application/octet-stream). An unknown id
   * rejects. `uploadMedia` records each upload (`kit.uploads`) and serves it back under its id.
   */
  media?: Readonly<Record<string, MediaFile | Buffer>>;
  store?: Store;
  logger?: Logger;
  /** The bot's language and text overrides (default zh-CN). */
  i18n?: I18nOptions;
  /** Text split limit, as the real channel has (default 2048 bytes). */
  textLimitBytes?: number;
  /** The passive reply window (default 4000 ms, as the real channels; KF has none). */
  replyWindowMs?: number;
}

/** What the bot did with one message. */
export interface TestResult {
  /** Every reply, in order (the passive one first when there is one). */
  replies: Reply[];
  /** The reply that went back in the HTTP response, as on a real channel. */
  passive: Reply | undefined;
  /** Replies sent through the active API (after the window, or what cannot go passively). */
  active: Reply[];
  /** The text replies' texts, for short assertions. */
  texts: string[];
}

/** What a route answered to {@link TestBot.request}. */
export interface TestResponse {
  readonly status: number;
  readonly headers: Headers;
  /** The body as text. */
  readonly text: string;
  /** The body parsed, when it is JSON (else undefined). */
  readonly json: unknown;
}

/** What {@link TestBot.request} sends: a body (an object goes as JSON) and headers. */
export interface TestRequestOptions {
  /** A string or bytes as they are, or an object sent as JSON (`content-type: application/json`). */
  body?: string | Buffer | Record<string, unknown> | unknown[];
  headers?: Record<string, string>;
}

/** An in-process bot for plugin tests: no WeChat account; HTTP only once a route is requested. */
export interface TestBot {
  readonly bot: Bot;
  /** The channel's name (its kind unless `name` was given). */
  readonly channelName: string;
  /** Hand-offs so far. */
  readonly handoffs: HandoffEvent[];
  /** What plugins sent with `sendTo` (not answers to a message), in order, during a message or not. */
  readonly sent: SentMessage[];
  /**
   * What plugins' message handlers threw, in order (the bot logs it, silently in a test bot,
   * and the message gets no answer from that plugin): a handler that answered nothing can be
   * asked why with `expect(kit.errors).toEqual([])`.
   */
  readonly errors: readonly { readonly plugin: string | undefined; readonly error: unknown; readonly message: Message }[];
  /** What plugins uploaded with `uploadMedia`, with the media id each got. */
  readonly uploads: readonly { mediaId: string; type: MediaType; file: UploadFile }[];
  /** Sends a message (or a text) and resolves when the pipeline is done with it. */
  send(message: Message | string): Promise<TestResult>;
  /**
   * Calls a route a plugin registered (`scope.route`) or the bot serves (`/metrics`,
   * `/healthz`) over real HTTP: the bot listens on a free loopback port from the first request
   * until `close()`.
   *
   * ```ts
   * const res = await kit.request('POST', '/notify/u1', { body: { text: 'hi' } });
   * expect(res.status).toBe(200);
   * expect(kit.sent).toEqual([{ channel: 'wecomApp', to: { user: 'u1' }, reply: { type: 'text', text: 'hi' } }]);
   * ```
   */
  request(method: string, path: string, options?: TestRequestOptions): Promise<TestResponse>;
  close(): Promise<void>;
}

/**
 * ```ts
 * const kit = await createTestBot({ plugins: [echo()] });
 * expect((await kit.send('你好')).texts).toEqual(['你好']);
 * ```
 */
export async function createTestBot(options: TestBotOptions): Promise<TestBot> {
  const kind = options.kind ?? 'officialAccount';
  const channel = new RecordingChannel(kind, options.name ?? kind, options.textLimitBytes ?? 2048, options.media ?? {});
  const bot = createBot({
    channels: [channel],
    plugins: options.plugins,
    store: options.store,
    i18n: options.i18n,
    logger: options.logger ?? createLogger({ level: 'silent' }),
  });
  const handoffs: HandoffEvent[] = [];
  bot.events.on('handoff', (e) => void handoffs.push(e));
  const errors: { plugin: string | undefined; error: unknown; message: Message }[] = [];
  bot.events.on('pluginError', ({ plugin, error, message }) => void errors.push({ plugin, error, message }));
  await bot.init();
  let listening: Promise<string> | undefined;
  return {
    bot,
    channelName: channel.name,
    handoffs,
    sent: channel.sentTo,
    errors,
    uploads: channel.uploads,
    async send(input) {
      const base = typeof input === 'string' ? textMessage(input) : input;
      const message = { ...base, channel: channel.ref } as Message;
      const active: Reply[] = [];
      const windowMs = channel.kind === 'wecomKf' ? undefined : (options.replyWindowMs ?? 4000);
      const { passive } = await channel.sink.run(active, () => bot.dispatch(channel, message, { replyWindowMs: windowMs }));
      const replies = passive ? [passive, ...active] : [...active];
      return { replies, passive, active, texts: replies.flatMap((r) => (r.type === 'text' ? [r.text] : [])) };
    },
    async request(method, path, request = {}) {
      if (!path.startsWith('/')) throw new TypeError(`kit.request: the path must start with "/" (got "${path}"), as the route's: kit.request('${method}', '/${path}')`);
      listening ??= bot.start({ port: 0, host: '127.0.0.1' }).then(({ url }) => url);
      const url = await listening;
      const json = request.body !== undefined && typeof request.body === 'object' && !Buffer.isBuffer(request.body);
      const response = await fetch(`${url}${path}`, {
        method,
        headers: { ...(json && { 'content-type': 'application/json' }), ...request.headers },
        ...(request.body !== undefined && { body: json ? JSON.stringify(request.body) : (request.body as string | Buffer) }),
      });
      const text = await response.text();
      let parsed: unknown;
      if (/\bjson\b/.test(response.headers.get('content-type') ?? '')) {
        try {
          parsed = JSON.parse(text);
        } catch {
          parsed = undefined;
        }
      }
      return { status: response.status, headers: response.headers, text, json: parsed };
    },
    close: () => bot.stop(),
  };
}
