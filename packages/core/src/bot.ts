import { EventEmitter } from 'node:events';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type Router from '@koa/router';
import type { Logger } from 'pino';
import type { Channel, MediaType, Query, UploadFile } from './channels/types.ts';
import { CallbackDedup } from './delivery/dedup.ts';
import { PassiveWindow } from './delivery/passiveWindow.ts';
import { deliverStream, type TextStream } from './delivery/stream.ts';
import type { BotEvents } from './events.ts';
import { createLogger, type LoggerOptions } from './logger.ts';
import type { Message } from './message/types.ts';
import { Composer } from './pipeline/composer.ts';
import { Context, type ContextServices, type HandoffOptions } from './pipeline/context.ts';
import type { MediaFile } from './api/client.ts';
import { PluginScope, type Disposer, type Plugin } from './plugin.ts';
import { splitText } from './reply/split.ts';
import { toReply, type Reply, type ReplyInput } from './reply/types.ts';
import { recipientOf, sendIdOf, sendOptionsOf, type Recipient } from './message/recipient.ts';
import { createHttpApp } from './server.ts';
import { Metrics } from './metrics.ts';
import { KF_SESSION_NOT_ALLOWED, WeChatApiError } from './api/errors.ts';
import { MemoryStore } from './store/memory.ts';
import type { Store } from './store/types.ts';

export interface BotOptions {
  channels: Channel[];
  /** Plugins, in the order their middleware runs (after anything added with `bot.use`). */
  plugins?: Plugin[];
  /** Shared state; in-memory by default. */
  store?: Store;
  /** A pino logger, or options for the default one. */
  logger?: Logger | LoggerOptions;
  /** Largest callback body in bytes (default 1 MiB). */
  bodyLimitBytes?: number;
  /** How long a message may run in the pipeline before a "hung" warning (default 60 s). */
  slowHandlerWarnMs?: number;
  /**
   * Development checks on every message (a plugin's forgotten `await next()`). Default: on
   * unless NODE_ENV is 'production', where they would only cost time on the callback path.
   */
  devChecks?: boolean;
  /** How long `stop()` waits for messages still in the pipeline (default 5 s). */
  shutdownGraceMs?: number;
  /** Prometheus metrics at `path` (default `/metrics`); `false` turns the route off. */
  metrics?: false | { path?: string; processMetrics?: boolean };
}

export interface ListenOptions {
  port?: number;
  host?: string;
}

const isLogger = (value: unknown): value is Logger => typeof (value as Logger | undefined)?.child === 'function';

/**
 * A bot: channels in, a middleware pipeline of plugins in the middle, replies out.
 *
 * ```ts
 * const bot = createBot({ channels: [wecomApp({ corpId, token, encodingAESKey })], plugins: [echo()] });
 * bot.command('ping', (ctx) => ctx.reply('pong'));
 * await bot.start({ port: 3000 });
 * ```
 */
export class Bot extends Composer<Context> {
  readonly channels: readonly Channel[];
  readonly store: Store;
  readonly log: Logger;
  readonly events = new EventEmitter<BotEvents>();
  readonly metrics: Metrics;
  /** Extra HTTP routes (metrics, agent console…) mounted when the server starts. */
  readonly routes: ((router: Router) => void)[] = [];
  /** Called with the HTTP server once it listens (WebSocket upgrades, …). */
  readonly #serverHooks: ((server: Server) => void)[] = [];
  readonly #plugins: Plugin[];
  readonly #disposers: Disposer[] = [];
  readonly #dedup: CallbackDedup;
  readonly #options: BotOptions;
  #pipeline: ((ctx: Context) => Promise<void>) | undefined;
  #server: Server | undefined;
  #handoffsInApp = false;
  readonly #inFlight = new Set<MessageRun>();
  #sweeper: NodeJS.Timeout | undefined;
  /** What per-message services call back into, built once (not a closure set per message). */
  readonly #internals: BotInternals = {
    log: () => this.log,
    store: () => this.store,
    deliver: (run, reply) => this.#deliver(run, reply),
    deliverStream: (run, source) =>
      deliverStream({
        channel: run.channel,
        message: run.message,
        window: run.window,
        source,
        log: run.log,
        deliver: (reply) => this.#deliver(run, reply),
        onPassive: () => this.metrics.reply(run.channel.name, 'passive', (performance.now() - run.received) / 1000),
      }),
    handoff: (run, options) => this.#handoff(run.channel, run.message, options),
    redispatch: (run, next) => this.#run(run.channel, next, run.window),
  };

  constructor(options: BotOptions) {
    super();
    this.#options = options;
    const names = new Set<string>();
    const paths = new Set<string>();
    for (const channel of options.channels) {
      if (names.has(channel.name)) throw new Error(`two channels are named "${channel.name}": give each a unique name`);
      if (paths.has(channel.path)) throw new Error(`two channels listen on "${channel.path}": give each its own path`);
      names.add(channel.name);
      paths.add(channel.path);
    }
    this.channels = options.channels;
    this.#plugins = options.plugins ?? [];
    this.store = options.store ?? new MemoryStore();
    this.log = isLogger(options.logger) ? options.logger : createLogger(options.logger);
    this.#dedup = new CallbackDedup(this.store);
    this.#dedup.onError = (error) => this.log.warn({ err: error }, 'dedup store failed to record an answer; a retry on another instance may run again');
    this.metrics = new Metrics({ processMetrics: options.metrics !== false && options.metrics?.processMetrics });
    if (options.metrics !== false) {
      const path = options.metrics?.path ?? '/metrics';
      this.routes.push((router) =>
        router.get(path, async (ctx) => {
          ctx.type = this.metrics.registry.contentType;
          ctx.body = await this.metrics.registry.metrics();
        }),
      );
    }
  }

  /** Sets up plugins and channels and composes the pipeline (done by `start`, or by tests). */
  async init(): Promise<void> {
    if (this.#pipeline) return;
    for (const plugin of this.#plugins) {
      const log = this.log.child({ plugin: plugin.name });
      const scope = new PluginScope(plugin.name, log, this.store, this.events, this);
      const disposer = await plugin.setup(scope);
      if (plugin.dispose) this.#disposers.push(() => plugin.dispose?.());
      if (disposer) this.#disposers.push(disposer);
      const pluginMiddleware = scope.middleware();
      const devChecks = this.#options.devChecks ?? process.env.NODE_ENV !== 'production';
      let warnedUnawaited = false;
      this.errorBoundary((error, ctx) => this.#reportError(error, ctx, plugin.name), async (ctx, next) => {
        ctx.plugin = plugin.name;
        if (!devChecks) return pluginMiddleware(ctx, next);
        // A forgotten `await next()` silently lets later plugins run after this one returned
        // (and miss the passive window): notice it and say so once per plugin.
        let nextPending = false;
        await pluginMiddleware(ctx, () => {
          nextPending = true;
          const rest = next();
          rest.then(
            () => (nextPending = false),
            () => (nextPending = false),
          );
          return rest;
        });
        if (nextPending && !warnedUnawaited) {
          warnedUnawaited = true;
          log.warn('this plugin called next() without awaiting it: later plugins run after it returned; write `await next()` (or `return next()`)');
        }
      });
    }
    for (const channel of this.channels) {
      await channel.start({
        log: this.log.child({ channel: channel.name }),
        store: this.store,
        metrics: this.metrics,
        dispatch: async (message) => void (await this.dispatch(channel, message)),
      });
    }
    const composed = this.middleware();
    this.#pipeline = (ctx) => composed(ctx, async () => {}) as Promise<void>;
  }

  /** Starts the HTTP server. Resolves with the address once it listens. */
  async start(options: ListenOptions = {}): Promise<{ port: number; url: string }> {
    await this.init();
    const app = createHttpApp(this, { bodyLimitBytes: this.#options.bodyLimitBytes });
    const server = app.listen(options.port ?? 3000, options.host);
    this.#server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('listening', resolve);
      server.once('error', reject);
    });
    for (const hook of this.#serverHooks) hook(server);
    const { port, address, family } = server.address() as AddressInfo;
    // The address really bound (a host name resolves to one); every interface → loopback, reachable.
    const wildcard = address === '0.0.0.0' || address === '::';
    const url = `http://${wildcard ? '127.0.0.1' : family === 'IPv6' ? `[${address}]` : address}:${port}`;
    for (const channel of this.channels) {
      this.log.info({ channel: channel.name, kind: channel.kind, url: `${url}${channel.path}`, ...channel.describe() }, 'channel listening');
    }
    return { port, url };
  }

  /** Registers a hook that gets the HTTP server when it starts (e.g. to accept WebSocket upgrades). */
  onServer(hook: (server: Server) => void): void {
    this.#serverHooks.push(hook);
    if (this.#server?.listening) hook(this.#server);
  }

  /** The HTTP server while the bot runs. */
  get server(): Server | undefined {
    return this.#server;
  }

  /**
   * Says that humans answer inside this app (an agent console): `ctx.handoff()` then only
   * emits the 'handoff' event and no channel moves the session on the platform. On KF that
   * matters: WeCom lets the API send only while the session is with the bot (states 0 and 1),
   * so a session moved to the waiting pool could not carry the agents' replies.
   */
  takeHandoffsInApp(): void {
    this.#handoffsInApp = true;
  }

  /**
   * Stops gracefully: no new connections, messages in the pipeline get `shutdownGraceMs` to
   * finish (their answers and dedup marks land), then plugins (their sockets, watchers), the
   * remaining connections, the channels (KF syncs finish) and the store.
   */
  async stop(): Promise<void> {
    const server = this.#server;
    this.#server = undefined;
    const closed = server ? new Promise<void>((resolve) => server.close(() => resolve())) : Promise.resolve();
    const deadline = Date.now() + (this.#options.shutdownGraceMs ?? 5000);
    while (this.#inFlight.size > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    // Plugins before the last connections: an upgraded socket (a WebSocket) keeps close() waiting.
    for (const dispose of this.#disposers.splice(0).reverse()) await dispose();
    server?.closeAllConnections?.();
    await closed;
    for (const channel of this.channels) await channel.stop?.();
    clearInterval(this.#sweeper);
    this.#sweeper = undefined;
    await this.store.close?.();
  }

  /**
   * Handles one POST callback and returns the HTTP body: the passive reply (encrypted where
   * the channel is), or `success`. Retries of a delivered message get the first answer.
   */
  async handleCallback(channel: Channel, query: Query, body: string): Promise<string> {
    const started = performance.now();
    const result = channel.receive(query, body);
    if (result.kind === 'ack') {
      if (result.after) {
        const after = result.after;
        setImmediate(() => after().catch((error) => this.log.error({ channel: channel.name, err: error }, 'after-ack work failed')));
      }
      this.#logCallback(channel, 'notification', undefined, started, 'ack');
      return result.body;
    }
    const { message } = result;
    const key = `dedup:${channel.name}:${message.id}`;
    let claim: Awaited<ReturnType<CallbackDedup['claim']>>;
    try {
      claim = await this.#dedup.claim(key);
    } catch (error) {
      // The store is down: answering matters more than dedup, so process without it.
      this.log.warn({ channel: channel.name, msgId: message.id, err: error }, 'dedup unavailable; processing without it');
      claim = { first: true };
    }
    if (!claim.first) {
      const response = await claim.response;
      this.#logCallback(channel, message.type, message.id, started, 'retry');
      return response;
    }
    const window = new PassiveWindow(channel.replyWindowMs);
    void this.#run(channel, message, window).finally(() => window.close());
    const reply = await window.result;
    let answer = 'success';
    let outcome = reply ? 'passive' : 'no-reply';
    if (reply) {
      try {
        answer = result.encodeReply(reply);
      } catch (error) {
        outcome = 'active';
        this.log.warn({ channel: channel.name, err: error }, 'passive reply could not be encoded; sending it actively');
        void this.#send(channel, message, reply).catch((e) => this.#logDeliveryFailure(channel, message, reply, e));
      }
    }
    // Never throws: a store failure here must not leave retries waiting on this answer.
    await this.#dedup.complete(key, answer);
    this.#logCallback(channel, message.type, message.id, started, outcome);
    return answer;
  }

  /** Records a callback the HTTP layer refused (bad signature, XML, size…). */
  recordRefusal(channel: Channel): void {
    this.metrics.callback(channel.name, 'refused', 0);
  }

  /** One line per callback (never its text) and the matching metrics. */
  #logCallback(channel: Channel, type: string, id: string | undefined, started: number, outcome: string): void {
    const ms = performance.now() - started;
    this.metrics.callback(channel.name, outcome, ms / 1000);
    this.log.info({ channel: channel.name, type, id, ms: Math.round(ms * 10) / 10, outcome }, 'callback');
  }

  /**
   * Runs a message through the pipeline with no HTTP response to answer in: every reply
   * goes through the channel's active API. Used by KF sync and by in-process tests.
   */
  async dispatch(channel: Channel, message: Message, options: { replyWindowMs?: number } = {}): Promise<{ passive: Reply | undefined }> {
    // With a window (in-process tests), the first reply in time is returned as the passive one.
    const window = options.replyWindowMs !== undefined ? new PassiveWindow(options.replyWindowMs) : undefined;
    await this.#run(channel, message, window).finally(() => window?.close());
    return { passive: window ? await window.result : undefined };
  }

  async #run(channel: Channel, message: Message, window: PassiveWindow | undefined): Promise<void> {
    if (!this.#pipeline) throw new Error('bot.init() or bot.start() must run before messages are handled');
    const run = new MessageRun(this.#internals, channel, message, window);
    const ctx: Context = new Context(message, run);
    run.ctx = ctx;
    this.#inFlight.add(run);
    this.#watchInFlight();
    try {
      await this.#pipeline(ctx);
    } catch (error) {
      this.#reportError(error, ctx, ctx.plugin);
    } finally {
      this.#inFlight.delete(run);
    }
  }

  /**
   * One sweep timer for all messages (not a timer each): warns once about a message still
   * in the pipeline after `slowHandlerWarnMs`, naming the plugin it is in.
   */
  #watchInFlight(): void {
    if (this.#sweeper) return;
    const slowAfter = this.#options.slowHandlerWarnMs ?? 60_000;
    this.#sweeper = setInterval(() => {
      const now = performance.now();
      for (const run of this.#inFlight) {
        if (run.warned || now - run.received < slowAfter) continue;
        run.warned = true;
        run.log.warn({ plugin: run.ctx?.plugin, ms: Math.round(now - run.received) }, 'message still in the pipeline: a plugin may hang');
      }
      if (this.#inFlight.size === 0) {
        clearInterval(this.#sweeper);
        this.#sweeper = undefined;
      }
    }, Math.min(slowAfter, 5000));
    this.#sweeper.unref();
  }

  #reportError(error: unknown, ctx: Context, plugin: string | undefined): void {
    this.metrics.pluginError(plugin);
    ctx.log.error({ err: error, plugin }, plugin ? `plugin "${plugin}" failed` : 'middleware failed');
    this.events.emit('pluginError', { error, message: ctx.message, plugin });
  }

  async #deliver(run: MessageRun, reply: Reply): Promise<void> {
    const { channel, message, window, received } = run;
    const parts: Reply[] = reply.type === 'text' ? splitText(reply.text, channel.textLimitBytes).map((text) => ({ type: 'text', text })) : [reply];
    // A split text goes out whole through the API when it can: a first part in the HTTP
    // response could arrive after the second, sent actively at once.
    const passiveAllowed = parts.length === 1 || !channel.send;
    for (const part of parts) {
      if (passiveAllowed && window && channel.passiveReplyTypes.has(part.type) && window.take(part)) {
        this.metrics.reply(channel.name, 'passive', (performance.now() - received) / 1000);
        continue;
      }
      try {
        await this.#send(channel, message, part, run.sends++);
      } catch (error) {
        if (error instanceof WeChatApiError && error.errcode === KF_SESSION_NOT_ALLOWED) {
          // Not a failure of the plugin: a human servicer holds the KF session. Not retried.
          this.log.warn({ channel: channel.name, msgId: message.id, errcode: error.errcode }, 'KF reply not sent: a human servicer holds this session (or it ended)');
          return;
        }
        throw error;
      }
      this.metrics.reply(channel.name, 'active', (performance.now() - received) / 1000);
    }
  }

  /** `index`: which active send of this message's answer it is (its stable send id; -1: a passive reply that went out actively). */
  async #send(channel: Channel, message: Message, reply: Reply, index = -1): Promise<void> {
    if (!channel.send) {
      throw new Error(
        `channel "${channel.name}" cannot deliver this ${reply.type} reply: the passive window is closed or the type cannot be sent passively, and the channel has no active API`,
      );
    }
    await channel.send(recipientOf(message), reply, { ...sendOptionsOf(message), sendId: sendIdOf(channel.name, message.id, index) });
  }

  /**
   * Sends to a user without a message to answer (an agent's reply, a notification), through
   * the channel's active API. Long texts are split as replies are.
   */
  async sendTo(channelName: string, to: Recipient, input: ReplyInput): Promise<void> {
    const channel = this.channels.find((c) => c.name === channelName);
    if (!channel) throw new Error(`no channel named "${channelName}"`);
    if (!channel.send) throw new Error(`channel "${channelName}" has no active API`);
    const reply = toReply(input);
    const parts: Reply[] = reply.type === 'text' ? splitText(reply.text, channel.textLimitBytes).map((text) => ({ type: 'text', text })) : [reply];
    for (const part of parts) await channel.send(to, part);
  }

  #logDeliveryFailure(channel: Channel, message: Message, reply: Reply, error: unknown): void {
    this.log.error({ channel: channel.name, msgId: message.id, replyType: reply.type, err: error }, 'reply could not be delivered');
  }

  async #handoff(channel: Channel, message: Message, options: HandoffOptions): Promise<void> {
    const handledByPlatform = this.#handoffsInApp ? false : ((await channel.handoff?.(recipientOf(message), options)) ?? false);
    this.log.info({ channel: channel.name, msgId: message.id, handledByPlatform, reason: options.reason }, 'hand-off');
    this.events.emit('handoff', { message, options, handledByPlatform });
  }
}

/** Creates a bot; see {@link Bot}. */
export function createBot(options: BotOptions): Bot {
  return new Bot(options);
}

/** The bot's side of a message run, built once per bot. */
interface BotInternals {
  log(): Logger;
  store(): Store;
  deliver(run: MessageRun, reply: Reply): Promise<void>;
  deliverStream(run: MessageRun, source: TextStream): Promise<void>;
  handoff(run: MessageRun, options: HandoffOptions): Promise<void>;
  redispatch(run: MessageRun, message: Message): Promise<void>;
}

/** The services one message's context uses: where its replies go, its logger, its media. */
class MessageRun implements ContextServices {
  readonly received = performance.now();
  ctx: Context | undefined;
  warned = false;
  /** Active sends made so far for this message (numbers their stable send ids). */
  sends = 0;
  #log: Logger | undefined;

  constructor(
    private readonly bot: BotInternals,
    readonly channel: Channel,
    readonly message: Message,
    readonly window: PassiveWindow | undefined,
  ) {}

  /** A child logger, made only when something logs (most messages never do). */
  get log(): Logger {
    return (this.#log ??= this.bot.log().child({ channel: this.channel.name, msgId: this.message.id }));
  }

  get store(): Store {
    return this.bot.store();
  }

  deliver(reply: Reply): Promise<void> {
    return this.bot.deliver(this, reply);
  }

  deliverStream(source: TextStream): Promise<void> {
    return this.bot.deliverStream(this, source);
  }

  handoff(options: HandoffOptions): Promise<void> {
    return this.bot.handoff(this, options);
  }

  redispatch(message: Message): Promise<void> {
    return this.bot.redispatch(this, message);
  }

  downloadMedia(mediaId: string): Promise<MediaFile> {
    if (!this.channel.downloadMedia) throw new Error(`channel "${this.channel.name}" has no media API`);
    return this.channel.downloadMedia(mediaId);
  }

  uploadMedia(type: MediaType, file: UploadFile): Promise<string> {
    if (!this.channel.uploadMedia) throw new Error(`channel "${this.channel.name}" has no media API`);
    return this.channel.uploadMedia(type, file);
  }
}
