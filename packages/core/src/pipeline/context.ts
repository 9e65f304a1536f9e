import type { Logger } from 'pino';
import type { ChannelRef, Message } from '../message/types.ts';
import { toReply, type Reply, type ReplyInput } from '../reply/types.ts';
import type { Store } from '../store/types.ts';
import type { MediaFile } from '../api/client.ts';
import { ReplyStreamQueue, type ReplyStreamHandle, type TextStream } from '../delivery/stream.ts';
import type { HandoffOptions, MediaType, UploadFile } from '../vocabulary.ts';
import type { Catalog, I18n, ParamsOf, Texts } from '../i18n/catalog.ts';

export type { HandoffOptions } from '../vocabulary.ts';

/**
 * Key of the running plugin's name on a context. A module symbol, not a public field, so only
 * the bot (which imports it) can say which plugin runs; plugins read `ctx.plugin`.
 */
export const RUNNING_PLUGIN: unique symbol = Symbol('wxbot.runningPlugin');

/**
 * What a RegExp trigger of `hears()` matched: its `RegExpExecArray` (`ctx.match[1]` is the
 * first group). The `& object` changes nothing at run time; it lets a handler's context
 * narrow `ctx.match` cleanly (`string & object` is `never`, so a command's `ctx.match` is
 * exactly `string`).
 */
export type RegExpMatch = RegExpExecArray & object;

/**
 * What a context needs from the bot and channel around it. Kept as an interface so the
 * pipeline knows nothing of HTTP, XML or AES.
 */
export interface ContextServices {
  readonly log: Logger;
  readonly store: Store;
  /** The bot's language and text overrides. */
  readonly i18n: I18n;
  /** Delivers one reply: passively while the window is open, through the API after. */
  deliver(reply: Reply): Promise<void>;
  /** Delivers a streamed text: shown as it grows where the channel streams, else as one reply. */
  deliverStream(source: TextStream): Promise<void>;
  handoff(options: HandoffOptions): Promise<void>;
  /** Whether someone can take this conversation from `handoff` (see {@link Context.canHandoff}). */
  canHandoff(): boolean;
  /** Whether the channel shows a streamed reply as it grows (see {@link Context.canStream}); absent: assume it does. */
  canStream?(): boolean;
  /** Runs the whole pipeline again for another message in the same conversation. */
  redispatch(message: Message): Promise<void>;
  /** The channel's media API, when it has one. */
  downloadMedia(mediaId: string): Promise<MediaFile>;
  uploadMedia(type: MediaType, file: UploadFile): Promise<string>;
}

/**
 * The per-message context every middleware receives: a fresh one for each message.
 * Narrowed by the routing helpers, so `bot.on('text', ctx => ctx.message.text)` type-checks.
 */
export class Context<M extends Message = Message> {
  /** Scratch space for this message only (as Koa's `ctx.state`). */
  readonly state: Record<string, unknown> = {};
  /**
   * What `hears()` or `command()` matched. Typed by the helper in its handlers: the argument
   * text (`string`, `''` without arguments) for `command()`, the {@link RegExpMatch} of a
   * RegExp trigger (or the string of a string trigger) for `hears()`.
   */
  match: RegExpMatch | string | undefined;
  /** @internal Set by the bot as each plugin's stage starts; read through `plugin`. */
  [RUNNING_PLUGIN]: string | undefined;
  readonly #services: ContextServices;
  #replies = 0;

  constructor(
    readonly message: M,
    services: ContextServices,
  ) {
    this.#services = services;
  }

  /**
   * How many answers this message got so far (`reply`, `replyStream`): 0 after the plugins
   * tells a last resort (the unknown-command answer, keyword's fallback) that nothing answered.
   */
  get replies(): number {
    return this.#replies;
  }

  /** Name of the plugin whose middleware is running, or undefined in `bot.use` middleware. */
  get plugin(): string | undefined {
    return this[RUNNING_PLUGIN];
  }

  /** Which channel the message came in on (its kind and configured name). */
  get channel(): ChannelRef {
    return this.message.channel;
  }

  /** The text of a text message (including transcribed voice), else undefined. */
  get text(): string | undefined {
    return this.message.type === 'text' ? this.message.text : undefined;
  }

  /** The sender, as the channel knows them. */
  get from(): string {
    return this.message.from;
  }

  /** A child logger with the message's channel, id and the running plugin. */
  get log(): Logger {
    return this.#services.log;
  }

  get store(): Store {
    return this.#services.store;
  }

  /** The bot's language and text overrides (see {@link Context.t}). */
  get i18n(): I18n {
    return this.#services.i18n;
  }

  /**
   * A text of `catalog` in the bot's language, placeholders filled:
   * `ctx.t(coreTexts, 'unknownCommand', { command: 'foo' })`.
   */
  t<T extends Texts, K extends keyof T & string>(catalog: Catalog<T>, key: K, ...params: ParamsOf<T[K]>): string {
    return this.#services.i18n.t(catalog, key, ...params);
  }

  /**
   * Answers the sender. The first reply inside the channel's window goes back passively in
   * the HTTP response; later replies, or any after the window, go through the active API.
   * The plugin never needs to know which.
   */
  reply(input: ReplyInput): Promise<void> {
    this.#replies += 1;
    // The delivery's own promise (of undefined: every Outbox resolves to nothing), not an async
    // frame awaiting it: every answer passes here (two promises a reply less, measured).
    try {
      return this.#services.deliver(toReply(input));
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /**
   * Answers with a text that is still being written, e.g. an LLM's deltas. On the WeCom AI bot
   * the user watches it grow (WeCom polls the snapshots; past 20480 bytes or WeCom's 6 minutes
   * the rest follows through response_url). Elsewhere the chunks are collected into one text
   * reply, passive if it is complete in time, else active. Resolves once delivered.
   *
   * ```ts
   * await ctx.replyStream(llmDeltas());          // an async iterable of chunks
   * const out = ctx.replyStream();               // or push them
   * out.write('你好'); out.write('，世界'); await out.end();
   * ```
   */
  replyStream(source: TextStream): Promise<void>;
  replyStream(): ReplyStreamHandle;
  replyStream(source?: TextStream): Promise<void> | ReplyStreamHandle {
    this.#replies += 1;
    if (source) return this.#services.deliverStream(source);
    const queue = new ReplyStreamQueue();
    const delivered = this.#services.deliverStream(queue);
    delivered.catch(() => {}); // reported to whoever awaits end() or fail()
    return {
      write: (chunk) => queue.write(chunk),
      end: () => {
        queue.close();
        return delivered;
      },
      fail: (error) => {
        queue.close({ error });
        return delivered;
      },
    };
  }

  /**
   * Whether {@link Context.replyStream} shows the answer while it is being written here (the
   * WeCom AI bot). Elsewhere the chunks are collected into one reply, so a source that can also
   * answer whole (an LLM asked without `stream: true`) is cheaper asked that way.
   */
  get canStream(): boolean {
    return this.#services.canStream?.() ?? true;
  }

  /**
   * Whether a human can take this conversation from {@link Context.handoff}: a plugin takes
   * hand-offs in the app (the agent console, `scope.handleHandoffs`), or the channel moves it
   * on the platform (KF). False means `handoff()` only emits the event: do not tell the
   * user a person is coming.
   */
  get canHandoff(): boolean {
    return this.#services.canHandoff();
  }

  /** Hands the conversation to a human (KF: service_state/trans; elsewhere: a hand-off event). */
  async handoff(options: HandoffOptions = {}): Promise<void> {
    await this.#services.handoff(options);
  }

  /** Downloads media the user sent (media/get through the channel's API). */
  downloadMedia(mediaId: string): Promise<MediaFile> {
    return this.#services.downloadMedia(mediaId);
  }

  /** Uploads temporary media (media/upload) and returns its media_id, to reply with it. */
  uploadMedia(type: MediaType, file: UploadFile): Promise<string> {
    return this.#services.uploadMedia(type, file);
  }

  /** Feeds another message (a transcript, say) through the whole pipeline. */
  async redispatch(message: Message): Promise<void> {
    await this.#services.redispatch(message);
  }
}
