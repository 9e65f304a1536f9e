import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type Router from '@koa/router';
import type { Logger } from 'pino';
import type { Channel, Query } from './channels/types.ts';
import { dedupTtlFor } from './delivery/dedup.ts';
import { Inbound } from './delivery/inbound.ts';
import { InProcessOutbox } from './delivery/outbox.ts';
import { offersDeliveryEngine, type DeliveryEngine, type QueueOperations } from './delivery/engine.ts';
import type { BotEvents } from './events.ts';
import { createLogger, loggableError, type LoggerOptions } from './logger.ts';
import type { Message } from './message/types.ts';
import { Composer, composedStackOf, pluginStage } from './pipeline/composer.ts';
import { BuiltinCommands, type CommandOptions } from './pipeline/commands.ts';
import { RUNNING_PLUGIN, type Context } from './pipeline/context.ts';
import {
  disposeScope,
  checkPluginList,
  PluginOptionsError,
  PluginScope,
  type Disposer,
  type HandoffHandler,
  type Plugin,
  type PluginHost,
  type PluginRoute,
  type ReplyHook,
  type ServerHook,
} from './plugin.ts';
import { HookedOutbox } from './delivery/replyHooks.ts';
import { didYouMean } from './pluginOptions.ts';
import { checkKeys, type KeysOf } from './optionKeys.ts';
import { LocalPubSub } from './store/pubsub.ts';
import type { Subscription } from './store/types.ts';
import { toReply, type Reply, type ReplyInput } from './reply/types.ts';
import { recipientOf, type Recipient } from './message/recipient.ts';
import { createHttpServer } from './server.ts';
import { mountRoute } from './routes.ts';
import { Metrics } from './metrics.ts';
import { MemoryStore } from './store/memory.ts';
import type { Store } from './store/types.ts';
import { I18n, type I18nOptions } from './i18n/catalog.ts';
import type { HandoffOptions } from './vocabulary.ts';

/** What a bot is made of: its channels, plugins, store, logger and limits (see `createBot`). */
export interface BotOptions {
  channels: Channel[];
  /** Plugins, in the order their middleware runs (after anything added with `bot.use`). */
  plugins?: Plugin[] | undefined;
  /** Shared state; in-memory by default. */
  store?: Store | undefined;
  /** A pino logger, or options for the default one. */
  logger?: Logger | LoggerOptions | undefined;
  /** Largest callback body in bytes (default 1 MiB). */
  bodyLimitBytes?: number | undefined;
  /** How long a callback's body may take to arrive (default 10 s); then 408 and the connection closed. */
  bodyTimeoutMs?: number | undefined;
  /** How long a message may run in the pipeline before a "hung" warning (default 60 s). */
  slowHandlerWarnMs?: number | undefined;
  /**
   * Development checks on every message (a plugin's forgotten `await next()`). Default: on
   * unless NODE_ENV is 'production', where they would only cost time on the callback path.
   */
  devChecks?: boolean | undefined;
  /** How long `stop()` waits for messages still in the pipeline (default 5 s). */
  shutdownGraceMs?: number | undefined;
  /**
   * The language of what the framework and its plugins say to users (zh-CN by default, `en`
   * available) and texts to say instead, by `namespace.key`: `{ locale: 'en', texts: {
   * 'core.unknownCommand': 'No /{command} here.' } }`.
   */
  i18n?: I18nOptions | undefined;
  /** The bot's own `/help` and unknown-command answers (both on by default). */
  commands?: CommandOptions | undefined;
  /** Prometheus metrics at `path` (default `/metrics`); `false` turns the route off. */
  metrics?: false | { path?: string; processMetrics?: boolean } | undefined;
  /**
   * Where replies and slow messages go. Default: a durable engine when the store offers one
   * (a RedisStore from `@wxbot/redis`), else in process. `'memory'` keeps the in-process one
   * even with Redis.
   */
  delivery?: DeliveryEngine | 'memory' | undefined;
  /**
   * Durable mode only: whether `start()` also runs workers in this process (default on, with
   * `concurrency` jobs at a time per queue). `wxbot worker` runs them without HTTP.
   */
  workers?: false | { concurrency?: number } | undefined;
}

/** Where `bot.start()` listens: port (default 3000) and host (default every interface). */
export interface ListenOptions {
  port?: number | undefined;
  host?: string | undefined;
}

/**
 * Every key `createBot` takes (and, with `devMode`, every key of a config, which
 * `defineConfig` checks against the same list): its options, and those a whole config adds,
 * since `wxbot start` passes one. A misspelt key is an {@link UnknownOptionError}.
 */
export const BOT_KEYS = {
  channels: true,
  plugins: true,
  store: true,
  logger: { level: true, destination: true, pretty: true } satisfies KeysOf<LoggerOptions>,
  bodyLimitBytes: true,
  bodyTimeoutMs: true,
  slowHandlerWarnMs: true,
  devChecks: true,
  shutdownGraceMs: true,
  i18n: { locale: true, texts: true } satisfies KeysOf<I18nOptions>,
  commands: { help: true, unknown: true } satisfies KeysOf<CommandOptions>,
  metrics: { path: true, processMetrics: true } satisfies KeysOf<Exclude<BotOptions['metrics'], false | undefined>>,
  delivery: true,
  workers: { concurrency: true } satisfies KeysOf<Exclude<BotOptions['workers'], false | undefined>>,
  port: true,
  host: true,
  devMode: true,
} as const satisfies KeysOf<BotOptions & ListenOptions & { devMode?: unknown }>;

const isLogger = (value: unknown): value is Logger => typeof (value as Logger | undefined)?.child === 'function';

/**
 * A bot: channels in, a middleware pipeline of plugins in the middle, replies out.
 *
 * ```ts
 * const bot = createBot({ channels: [wecomApp({ corpId, token, encodingAESKey })], plugins: [echo()] });
 * bot.command('ping', (ctx) => ctx.reply('pong'));
 * await bot.start({ port: 3000 });
 * ```
 *
 * The Bot only wires the layers and owns the lifecycle: channels (transport) → `Inbound`
 * (claim, window, pipeline, encode) → the pipeline (plugins) → the `Outbox` (send rules).
 */
export class Bot extends Composer<Context> {
  readonly channels: readonly Channel[];
  readonly store: Store;
  readonly log: Logger;
  readonly events = new EventEmitter<BotEvents>();
  readonly metrics: Metrics;
  /** Routes plugins registered (`scope.route`), and the metrics route. */
  readonly #routes = new Set<PluginRoute>();
  /** The language and text overrides every context and plugin uses. */
  readonly i18n: I18n;
  /** Called with the HTTP server once it listens (WebSocket upgrades, …). */
  readonly #serverHooks = new Set<ServerHook>();
  /** What server hooks returned, run when the bot stops. */
  readonly #serverUndo: Disposer[] = [];
  readonly #handoffHandlers = new Set<HandoffHandler>();
  readonly #scopes: PluginScope[] = [];
  /** Pub/sub for a store that has none. */
  readonly #localPubSub = new LocalPubSub();
  readonly #plugins: Plugin[];
  readonly #disposers: Disposer[] = [];
  readonly #options: BotOptions;
  readonly #outbox: HookedOutbox;
  /** The durable engine, when there is one (the hooked outbox then sends through it). */
  readonly #engine: DeliveryEngine | undefined;
  #inbound: Inbound | undefined;
  #server: Server | undefined;
  /**
   * Where the bot is in its one-way life. A stopped bot has closed its store and undone its
   * plugins' registrations, so it does not start again: a new Bot is the restart.
   */
  #lifecycle: 'new' | 'initialised' | 'listening' | 'stopping' | 'stopped' = 'new';

  constructor(options: BotOptions) {
    super();
    checkKeys('createBot options', options, BOT_KEYS);
    checkPluginList(options.plugins);
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
    this.i18n = new I18n(options.i18n);
    this.log = isLogger(options.logger) ? options.logger : createLogger(options.logger);
    // A store that logs its own outages (RedisStore: "does not answer") logs through the bot.
    (this.store as { useLogger?(log: Logger): void }).useLogger?.(this.log);
    this.metrics = new Metrics({ processMetrics: options.metrics !== false && options.metrics?.processMetrics });
    const engine = options.delivery === 'memory' ? undefined : (options.delivery ?? (offersDeliveryEngine(this.store) ? this.store.createDeliveryEngine() : undefined));
    this.#engine = engine;
    this.#outbox = new HookedOutbox(engine ?? new InProcessOutbox(this.channels, this.log, this.metrics), this.log, options.devChecks ?? process.env.NODE_ENV !== 'production');
    engine?.attach({
      channels: this.channels,
      log: this.log,
      metrics: this.metrics,
      run: (channel, message) => {
        const inbound = this.#started('run');
        return inbound instanceof Error ? Promise.reject(inbound) : inbound.run(channel, message, undefined);
      },
    });
    if (options.metrics !== false) {
      this.#routes.add({
        method: 'GET',
        path: options.metrics?.path ?? '/metrics',
        handler: async (ctx) => {
          ctx.type = this.metrics.registry.contentType;
          ctx.body = await this.metrics.registry.metrics();
        },
      });
    }
  }

  /** Sets up plugins and channels and composes the pipeline (done by `start`, or by tests). */
  async init(): Promise<void> {
    this.#assertNotStopped('init');
    if (this.#inbound) return;
    // One stage per plugin, after what was added with bot.use/on/hears…, each in an error
    // boundary that names it.
    const stageNames = new Map<number, string>();
    for (const plugin of this.#plugins) {
      const scope = new PluginScope(plugin.name, this.log.child({ plugin: plugin.name }), this.store, this.#host);
      this.#scopes.push(scope);
      const disposer = await setUp(plugin, scope);
      if (plugin.dispose) this.#disposers.push(() => plugin.dispose?.());
      if (disposer) this.#disposers.push(disposer);
      // The scope's stack composed at its first message, as `scope.middleware()` would, called
      // without that function around it (see pluginStage).
      const index = this.append(
        pluginStage<Context>(
          scope,
          (ctx) => {
            ctx[RUNNING_PLUGIN] = plugin.name;
          },
          (error, ctx) => this.#reportError(error, ctx, plugin.name),
        ),
      );
      stageNames.set(index, plugin.name);
    }
    if (this.#options.devChecks ?? process.env.NODE_ENV !== 'production') {
      const warned = new Set<number>();
      this.composeOptions = {
        // A forgotten `await next()` silently lets later plugins run after this one returned
        // (and miss the passive window): say so once per plugin.
        onUnawaitedNext: (index) => {
          if (warned.has(index)) return;
          warned.add(index);
          const plugin = stageNames.get(index);
          (plugin ? this.log.child({ plugin }) : this.log).warn(
            `${plugin ? 'this plugin' : 'middleware added with bot.use'} called next() without awaiting it: later plugins run after it returned; write \`await next()\` (or \`return next()\`)`,
          );
        },
      };
    }
    // The bot's own /help before the plugins and unknown-command answer after them; the plugins'
    // pipeline composed at the first message (as `this.middleware()` would) and called directly
    // (see composedStackOf), the function below kept as small as it was: a function that small,
    // run once a message, reaches TurboFan only after many thousand messages or never (a larger
    // one that checked for the composed pipeline itself was compiled 2 000 messages in).
    const builtins = new BuiltinCommands(this.#options.commands ?? {}, () => composedStackOf(this));
    builtins.setCommands([...this.commandList(), ...this.#scopes.flatMap((s) => s.commandList())]);
    const inbound = new Inbound({
      log: this.log,
      store: this.store,
      i18n: this.i18n,
      metrics: this.metrics,
      outbox: this.#outbox,
      engine: this.#engine,
      pipeline: (ctx) => builtins.run(ctx),
      handoff: (channel, message, options) => this.#handoff(channel, message, options),
      canHandoff: (channel, message) => this.#handoffHandlers.size > 0 || (channel.canHandoff?.(recipientOf(message)) ?? false),
      reportError: (error, ctx, plugin) => this.#reportError(error, ctx, plugin),
      slowHandlerWarnMs: this.#options.slowHandlerWarnMs ?? 60_000,
      // Dedup marks outlive every channel's replay window (a replay inside it is a retry).
      dedupTtlMs: dedupTtlFor(this.channels),
    });
    this.#inbound = inbound;
    this.#lifecycle = 'initialised';
    for (const channel of this.channels) {
      await channel.start({
        log: this.log.child({ channel: channel.name }),
        store: this.store,
        metrics: this.metrics,
        dispatch: async (message) => void (await inbound.dispatch(channel, message)),
        ...(this.#engine && { enqueue: (messages: readonly Message[]) => this.#engine!.enqueue(channel, messages) }),
      });
    }
  }

  /** Starts the HTTP server. Resolves with the address once it listens. */
  async start(options: ListenOptions = {}): Promise<{ port: number; url: string }> {
    if (this.#lifecycle === 'listening') throw new Error('bot.start(): this bot is already listening; stop() it first');
    await this.init();
    const server = createHttpServer(this, { bodyLimitBytes: this.#options.bodyLimitBytes, bodyTimeoutMs: this.#options.bodyTimeoutMs });
    server.listen(options.port ?? 3000, options.host);
    this.#server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('listening', resolve);
      server.once('error', reject);
    });
    this.#lifecycle = 'listening';
    for (const hook of this.#serverHooks) this.#runServerHook(hook, server);
    if (this.#engine && this.#options.workers !== false) await this.#engine.startWorkers(this.#options.workers ?? {});
    const { port, address, family } = server.address() as AddressInfo;
    // The address really bound (a host name resolves to one); every interface → loopback, reachable.
    const wildcard = address === '0.0.0.0' || address === '::';
    const url = `http://${wildcard ? '127.0.0.1' : family === 'IPv6' ? `[${address}]` : address}:${port}`;
    for (const channel of this.channels) {
      // A send-only channel (the group robot's webhook) has no callback URL.
      this.log.info(
        { channel: channel.name, kind: channel.kind, ...(channel.kind !== 'wecomWebhook' && { url: `${url}${channel.path}` }), ...channel.describe() },
        channel.kind === 'wecomWebhook' ? 'channel ready (send only)' : 'channel listening',
      );
    }
    return { port, url };
  }

  /** The HTTP routes mounted when the server starts: the metrics route and plugins' pages. */
  get routes(): readonly ((router: Router) => void)[] {
    return [...this.#routes].map(
      (route) => (router: Router) =>
        mountRoute(router, route, { log: this.log, bodyLimitBytes: this.#options.bodyLimitBytes, onFailure: (plugin) => this.metrics.pluginError(plugin) }),
    );
  }

  /** Whether delivery is durable (jobs on Redis) rather than in this process's memory. */
  get durable(): boolean {
    return this.#engine !== undefined;
  }

  /**
   * Where replies and slow messages go right now: `durable` (jobs on Redis), `memory` (no
   * durable engine), or `memory-fallback` (the engine's Redis does not answer: this process
   * delivers from memory until it does, see the engine's log lines).
   */
  get delivery(): 'durable' | 'memory' | 'memory-fallback' {
    if (!this.#engine) return 'memory';
    return this.#engine.unavailable ? 'memory-fallback' : 'durable';
  }

  /** Failed jobs and queue depth of the durable engine (`wxbot queue`); undefined in memory mode. */
  get queues(): QueueOperations | undefined {
    return this.#engine;
  }

  /**
   * Durable mode: takes jobs in this process (`start()` does it unless `workers: false`;
   * `wxbot worker` calls it after `init()` with no HTTP server).
   */
  async startWorkers(options: { concurrency?: number } = {}): Promise<void> {
    if (!this.#engine) throw new Error('workers need a durable delivery engine: give the bot a RedisStore from @wxbot/redis');
    await this.init();
    await this.#engine.startWorkers(options);
  }

  /** The HTTP server while the bot runs. */
  get server(): Server | undefined {
    return this.#server;
  }

  /** What plugin scopes reach (each registration returns its undo). */
  readonly #host: PluginHost = {
    events: this.events,
    addRoute: (route) => {
      // A path without its slash never matches, and a second route on a taken method and path
      // never runs (the first answers): both were silent 404s or wrong answers.
      if (!route.path.startsWith('/')) throw new Error(`route path must start with "/" (got ${JSON.stringify(route.path)}): scope.route('${route.method}', '/${route.path}', …)`);
      for (const other of this.#routes) {
        if (other.method === route.method && other.path === route.path) {
          const owner = other.plugin ? `plugin "${other.plugin}"` : 'the bot itself';
          throw new Error(`${route.method} ${route.path} is already a route of ${owner}: each method and path can have one handler`);
        }
      }
      this.#routes.add(route);
      return () => void this.#routes.delete(route);
    },
    addServerHook: (hook) => {
      this.#serverHooks.add(hook);
      if (this.#server?.listening) this.#runServerHook(hook, this.#server);
      return () => void this.#serverHooks.delete(hook);
    },
    addReplyHook: (hook: ReplyHook, plugin?: string) => this.#outbox.add(hook, plugin),
    addHandoffHandler: (handler) => {
      this.#handoffHandlers.add(handler);
      return () => void this.#handoffHandlers.delete(handler);
    },
    sendTo: (channelName, to, input, options) => this.sendTo(channelName, to, input, options),
    channelNamed: (name) => this.channels.find((c) => c.name === name),
    handoffTargets: () => Object.fromEntries(this.channels.map((c) => [c.name, this.#handoffHandlers.size > 0 ? 'app' : c.canHandoff?.() ? 'platform' : 'nobody'] as const)),
    publish: (topic, message) => (this.store.publish ? this.store.publish(topic, message) : this.#localPubSub.publish(topic, message)),
    subscribe: (topic, listener): Subscription => (this.store.subscribe ? this.store.subscribe(topic, listener) : this.#localPubSub.subscribe(topic, listener)),
  };

  #runServerHook(hook: ServerHook, server: Server): void {
    const undo = hook(server);
    if (typeof undo === 'function') this.#serverUndo.push(undo);
  }

  /**
   * Stops gracefully: no new connections, messages in the pipeline get `shutdownGraceMs` to
   * finish (their answers and dedup marks land), then plugins (their sockets, watchers), the
   * remaining connections, the channels (KF syncs finish) and the store.
   */
  async stop(): Promise<void> {
    if (this.#lifecycle === 'stopping' || this.#lifecycle === 'stopped') return;
    this.#lifecycle = 'stopping';
    const server = this.#server;
    this.#server = undefined;
    const closed = server ? new Promise<void>((resolve) => server.close(() => resolve())) : Promise.resolve();
    await this.#inbound?.drain(Date.now() + (this.#options.shutdownGraceMs ?? 5000));
    // Workers finish their jobs (or hand them back); leases of runs still going are handed back.
    await this.#engine?.stop();
    // Plugins before the last connections: an upgraded socket (a WebSocket) keeps close() waiting.
    for (const dispose of this.#disposers.splice(0).reverse()) await dispose();
    for (const undo of this.#serverUndo.splice(0).reverse()) await undo();
    // Everything plugins registered through their scopes goes (routes, hooks, subscriptions…).
    for (const scope of this.#scopes.splice(0).reverse()) await disposeScope(scope);
    server?.closeAllConnections?.();
    await closed;
    for (const channel of this.channels) await channel.stop?.();
    this.#inbound?.close();
    await this.store.close?.();
    this.#lifecycle = 'stopped';
  }

  #assertNotStopped(what: string): void {
    if (this.#lifecycle === 'stopping' || this.#lifecycle === 'stopped') {
      throw new Error(`bot.${what}(): this bot was stopped (its store is closed, its plugins undone); create a new bot to start again`);
    }
  }

  /**
   * Handles one POST callback and returns the HTTP body: the passive reply (encrypted where
   * the channel is), or `success`. Retries of a delivered message get the first answer.
   */
  handleCallback(channel: Channel, query: Query, body: string): Promise<string> {
    const inbound = this.#started('handleCallback');
    return inbound instanceof Error ? Promise.reject(inbound) : inbound.handleCallback(channel, query, body);
  }

  /** Records a callback the HTTP layer refused (bad signature, XML, size…). */
  recordRefusal(channel: Channel): void {
    this.metrics.callback(channel.name, 'refused', 0);
  }

  /**
   * Runs a message through the pipeline with no HTTP response to answer in: every reply
   * goes through the channel's active API. Used by KF sync and by in-process tests (with a
   * window, the first reply in time is returned as the passive one).
   */
  dispatch(channel: Channel, message: Message, options: { replyWindowMs?: number } = {}): Promise<{ passive: Reply | undefined }> {
    const inbound = this.#started('dispatch');
    return inbound instanceof Error ? Promise.reject(inbound) : inbound.dispatch(channel, message, options);
  }

  /**
   * Sends to a user without a message to answer (an agent's reply, a notification), through
   * the channel's active API, by the same rules as replies (long texts are split). Errors
   * reach the caller, KF's 95018 (a human servicer holds the session) included. `key` names
   * the send for a durable outbox (idempotency); by default every call is a new send. A
   * `channelName` no channel has rejects at once, naming the bot's channels (and the likely one).
   */
  async sendTo(channelName: string, to: Recipient, input: ReplyInput, options: { key?: string } = {}): Promise<void> {
    if (!this.channels.some((c) => c.name === channelName)) {
      // A name is easy to get wrong ('wecom' for 'wecomApp', a kind for a renamed channel): say which there are.
      const names = this.channels.map((c) => c.name);
      const guess = didYouMean(channelName, names);
      throw new Error(
        `no channel named "${channelName}"${guess ? ` (did you mean "${guess}"?)` : ''}: sendTo takes a channel's name; this bot's channels are ${names.length ? names.map((n) => `"${n}"`).join(', ') : 'none'}`,
      );
    }
    await this.#outbox.send({ channel: channelName, to, reply: toReply(input), key: options.key ?? `${channelName}:send:${randomUUID()}` });
  }

  /** The inbound path, or why messages cannot be handled now (returned, so callers reject). */
  #started(what: string): Inbound | Error {
    // While stopping, messages already on their way (a KF page being answered) still run.
    if (this.#lifecycle === 'stopped') {
      return new Error(`bot.${what}(): this bot was stopped (its store is closed, its plugins undone); create a new bot to start again`);
    }
    return this.#inbound ?? new Error('bot.init() or bot.start() must run before messages are handled');
  }

  #reportError(error: unknown, ctx: Context, plugin: string | undefined): void {
    this.metrics.pluginError(plugin);
    ctx.log.error({ err: loggableError(error), plugin }, plugin ? `plugin "${plugin}" failed` : 'middleware failed');
    this.events.emit('pluginError', { error, message: ctx.message, plugin });
  }

  async #handoff(channel: Channel, message: Message, options: HandoffOptions): Promise<void> {
    const inApp = this.#handoffHandlers.size > 0;
    const handledByPlatform = inApp ? false : ((await channel.handoff?.(recipientOf(message), options)) ?? false);
    this.log.info({ channel: channel.name, msgId: message.id, handledByPlatform, reason: options.reason }, 'hand-off');
    const event = { message, options, handledByPlatform };
    for (const handler of [...this.#handoffHandlers]) await handler(event);
    this.events.emit('handoff', event);
  }
}

/**
 * Runs a plugin's setup; what it throws comes back naming the plugin (`plugin "greet" failed in
 * setup: …`, the original as `cause`), as start-up and `wxbot check` print it. Option errors
 * already name their plugin and pass unchanged.
 */
async function setUp(plugin: Plugin, scope: PluginScope): Promise<void | Disposer> {
  try {
    return await plugin.setup(scope);
  } catch (error) {
    if (error instanceof PluginOptionsError || (error as { name?: unknown }).name === 'PluginSetupError') throw error;
    throw new PluginSetupError(plugin.name, error);
  }
}

/** A plugin's setup threw: the message names the plugin, `cause` is what it threw. */
export class PluginSetupError extends Error {
  override readonly name = 'PluginSetupError';
  constructor(
    /** The plugin whose setup failed. */
    readonly plugin: string,
    cause: unknown,
  ) {
    super(`plugin "${plugin}" failed in setup: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
  }
}

/** Creates a bot; see {@link Bot}. */
export function createBot(options: BotOptions): Bot {
  return new Bot(options);
}
