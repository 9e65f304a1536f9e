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
  type Message,
  type Recipient,
  type Plugin,
  type Reply,
  type ReplyType,
  type Store,
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

/** A channel with no transport: whatever the pipeline sends is recorded. */
class RecordingChannel extends BaseChannel implements Channel {
  readonly passiveReplyTypes: ReadonlySet<ReplyType>;
  readonly textLimitBytes: number;
  readonly kind: ChannelKind;
  readonly sink = new AsyncLocalStorage<Reply[]>();
  readonly unrouted: Reply[] = [];
  /**
   * Only the WeCom AI bot shows streams (`ctx.canStream`), as the real channels: a streamed
   * reply is recorded as one text once it ends. Elsewhere the pipeline collects it.
   */
  readonly openStream?: () => ReplyStreamSink;

  constructor(kind: ChannelKind, textLimitBytes: number) {
    super({ name: 'test', path: '/test' }, { name: 'test', path: '/test' });
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
  async send(_to: Recipient, reply: Reply): Promise<void> {
    (this.sink.getStore() ?? this.unrouted).push(reply);
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

/** An in-process bot for plugin tests: no HTTP, no WeChat account. */
export interface TestBot {
  readonly bot: Bot;
  /** Hand-offs so far. */
  readonly handoffs: HandoffEvent[];
  /** Sends a message (or a text) and resolves when the pipeline is done with it. */
  send(message: Message | string): Promise<TestResult>;
  close(): Promise<void>;
}

/**
 * ```ts
 * const kit = await createTestBot({ plugins: [echo()] });
 * expect((await kit.send('你好')).texts).toEqual(['你好']);
 * ```
 */
export async function createTestBot(options: TestBotOptions): Promise<TestBot> {
  const channel = new RecordingChannel(options.kind ?? 'officialAccount', options.textLimitBytes ?? 2048);
  const bot = createBot({
    channels: [channel],
    plugins: options.plugins,
    store: options.store,
    i18n: options.i18n,
    logger: options.logger ?? createLogger({ level: 'silent' }),
  });
  const handoffs: HandoffEvent[] = [];
  bot.events.on('handoff', (e) => void handoffs.push(e));
  await bot.init();
  return {
    bot,
    handoffs,
    async send(input) {
      const base = typeof input === 'string' ? textMessage(input) : input;
      const message = { ...base, channel: channel.ref } as Message;
      const active: Reply[] = [];
      const windowMs = channel.kind === 'wecomKf' ? undefined : (options.replyWindowMs ?? 4000);
      const { passive } = await channel.sink.run(active, () => bot.dispatch(channel, message, { replyWindowMs: windowMs }));
      const replies = passive ? [passive, ...active] : [...active];
      return { replies, passive, active, texts: replies.flatMap((r) => (r.type === 'text' ? [r.text] : [])) };
    },
    close: () => bot.stop(),
  };
}
