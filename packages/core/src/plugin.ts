import type { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import type { z } from 'zod';
import { Composer } from './pipeline/composer.ts';
import type { Context } from './pipeline/context.ts';
import type { Store } from './store/types.ts';
import type { BotEvents } from './events.ts';
import { parsePluginOptions, PluginOptionsError, recordConfigError } from './pluginOptions.ts';
import type { Server } from 'node:http';
import type { RouterContext } from '@koa/router';
import type { MediaFile } from './api/client.ts';
import type { Channel, KfSessions } from './channels/types.ts';
import type { OutboxJob } from './delivery/outbox.ts';
import type { HandoffEvent } from './events.ts';
import type { Recipient } from './message/recipient.ts';
import type { ReplyInput } from './reply/types.ts';
import type { Subscription } from './store/types.ts';
import type { MediaType, UploadFile } from './vocabulary.ts';

/** HTTP methods a plugin route may answer. */
export type RouteMethod = 'GET' | 'POST' | 'PUT' | 'DELETE' | 'PATCH';

/**
 * What a route handler gets: the Koa router context, with
 * - `ctx.params` (path parameters: `/orders/:id` → `ctx.params.id`), `ctx.query`, `ctx.get(header)`;
 * - `ctx.request.body`: the parsed body of a POST, PUT, PATCH or DELETE: an object (or array)
 *   for `application/json`, an object of strings for `application/x-www-form-urlencoded`, the
 *   output of the route's `body` schema when it has one; `undefined` for any other content
 *   type, whose bytes stay unread on `ctx.req` (an image upload);
 * - the answer: `ctx.status`, `ctx.body` (a string, a Buffer, or an object sent as JSON),
 *   `ctx.set(header, value)`, `ctx.redirect(url)`; `ctx.throw(404, 'no such order')` answers 404.
 */
export type RouteContext<Body = unknown> = OmitKnown<RouterContext, 'request'> & { request: OmitKnown<RouterContext['request'], 'body'> & { body: Body } };

/**
 * `Omit` for a type with an index signature (Koa's context has `[key: string]: any`): plain
 * `Omit` maps over `keyof T`, which is then `string`, and keeps only the index signature, so
 * `ctx.params`, `ctx.query` and `ctx.status` were all `any`. This keeps the named properties
 * and the index signature.
 */
type OmitKnown<T, K extends PropertyKey> = { [P in keyof T as P extends K ? never : P]: T[P] };

/**
 * A plugin route's handler (may be async). What it throws is answered 500 `internal error`
 * and logged once with the plugin's name, method and path (an error of `ctx.throw(4xx)`: its
 * status and message).
 */
export type RouteHandler<Body = unknown> = (ctx: RouteContext<Body>) => unknown;

/** How a route reads its request body. */
export interface RouteOptions<S extends z.ZodType = z.ZodType> {
  /**
   * Largest JSON or form body in bytes (default: the bot's `bodyLimitBytes`, 1 MiB); a larger
   * one is answered 413 before the handler runs.
   */
  bodyLimitBytes?: number;
  /** A zod schema the parsed body must pass (else 400 naming each problem); the handler gets its output. */
  body?: S;
}

/** An HTTP route a plugin registered (internal: plugins call {@link PluginScope.route}). */
export interface PluginRoute {
  readonly method: RouteMethod;
  readonly path: string;
  // biome-ignore lint/suspicious/noExplicitAny: a route's body type is its own; the server hands it the parsed body
  readonly handler: RouteHandler<any>;
  readonly options?: RouteOptions;
  /** The plugin that registered it, for its log lines (absent: the bot's own, as /metrics). */
  readonly plugin?: string;
}
/** Gets the HTTP server once it listens; may return what undoes it (called when the bot stops). */
export type ServerHook = (server: Server) => void | Disposer;
/**
 * Sees every outgoing reply, passive or active, `ctx.reply` and `sendTo` alike, in order (as
 * grammY's transformers): call `next()` to deliver it (or `next(changed)` to deliver another),
 * skip it to drop it (with `devChecks`, the default outside production, the first drop of each
 * hook is warned about: a forgotten `next()` drops every reply). `reply.answers` is the id of the message answered (absent for `sendTo`).
 * A hook that throws is logged with its plugin's name and skipped: the reply goes on unchanged.
 * It may be synchronous: `scope.onReply((job, next) => { seen.push(job.reply.type); return next(); })`.
 */
export type ReplyHook = (reply: OutboxJob, next: (reply?: OutboxJob) => Promise<void>) => void | Promise<void>;
/** Takes `ctx.handoff()` in the app; see {@link PluginScope.handleHandoffs}. */
export type HandoffHandler = (event: HandoffEvent) => void | Promise<void>;
/**
 * Who takes `ctx.handoff()` on a channel: `app` (a plugin took hand-offs with
 * {@link PluginScope.handleHandoffs}: the agent console), `platform` (the channel moves KF
 * sessions to WeCom's servicers), or `nobody` (only the `handoff` event fires).
 */
export type HandoffTarget = 'app' | 'platform' | 'nobody';
/** A channel's media API. */
export interface MediaApi {
  download(mediaId: string): Promise<MediaFile>;
  upload(type: MediaType, file: UploadFile): Promise<string>;
}

/**
 * What the Bot offers plugin scopes (internal: plugins see {@link PluginScope}). Every
 * `add…` returns what undoes it.
 */
export interface PluginHost {
  readonly events: EventEmitter<BotEvents>;
  addRoute(route: PluginRoute): Disposer;
  addServerHook(hook: ServerHook): Disposer;
  addReplyHook(hook: ReplyHook, plugin?: string): Disposer;
  addHandoffHandler(handler: HandoffHandler): Disposer;
  sendTo(channelName: string, to: Recipient, input: ReplyInput, options?: { key?: string }): Promise<void>;
  channelNamed(name: string): Channel | undefined;
  handoffTargets(): Record<string, HandoffTarget>;
  publish(topic: string, message: string): Promise<void>;
  subscribe(topic: string, listener: (message: string) => void): Subscription;
}

/**
 * What a plugin's `setup` receives: a composer scoped to the plugin (its middleware runs in
 * an error boundary that names the plugin) and capabilities. Everything registered through
 * the scope is undone when the bot stops (Koishi/Fastify style): routes, server hooks, reply
 * hooks, the hand-off handler, subscriptions, event listeners.
 */
export class PluginScope extends Composer<Context> {
  readonly #host: PluginHost;
  readonly #undo: Disposer[] = [];

  constructor(
    /** The plugin's name (logs, metrics). */
    readonly pluginName: string,
    /** A logger with `plugin` set. */
    readonly log: Logger,
    /** The bot's store. */
    readonly store: Store,
    host: PluginHost,
  ) {
    super();
    this.#host = host;
    undoLists.set(this, this.#undo);
  }

  /** Bot events (`handoff`, `pluginError`); listeners added here are removed when the bot stops. */
  readonly events = {
    on: <E extends keyof BotEvents>(event: E, listener: (...args: BotEvents[E]) => void): void => {
      const emitter = this.#host.events as unknown as EventEmitter;
      const fn = listener as (...args: unknown[]) => void;
      emitter.on(event, fn);
      this.#undo.push(() => void emitter.off(event, fn));
    },
  };

  /**
   * Serves an HTTP route (a console, a webhook, an API) next to the callbacks, on the bot's
   * port, until the bot stops. `path` is a @koa/router path (`/orders/:id`). The handler gets a
   * {@link RouteContext}: JSON and form bodies parsed (up to `options.bodyLimitBytes`, default
   * the bot's 1 MiB: 413 past it, 400 for broken JSON), checked by `options.body` (a zod schema)
   * when given; what it throws is a 500 and one log line naming this plugin.
   *
   * ```ts
   * scope.route('POST', '/notify/:user', async (ctx) => {
   *   await scope.sendTo('wecomApp', { user: ctx.params['user']! }, ctx.request.body.text);
   *   ctx.body = { ok: true };
   * }, { body: z.object({ text: z.string().min(1) }) });
   * ```
   */
  route<S extends z.ZodType = z.ZodUnknown>(method: RouteMethod, path: string, handler: RouteHandler<z.output<S>>, options?: RouteOptions<S>): void {
    this.#undo.push(this.#host.addRoute({ method, path, handler, plugin: this.pluginName, ...(options && { options }) }));
  }

  /** Gets the HTTP server once it listens (WebSocket upgrades); the hook may return its undo. */
  onServer(hook: ServerHook): void {
    this.#undo.push(this.#host.addServerHook(hook));
  }

  /** Sees (and may change or drop) every outgoing reply; see {@link ReplyHook}. */
  onReply(hook: ReplyHook): void {
    this.#undo.push(this.#host.addReplyHook(hook, this.pluginName));
  }

  /**
   * Says that humans answer inside this app (an agent console) and takes `ctx.handoff()`:
   * `handler` runs (awaited) and no channel moves the session on the platform; the `handoff`
   * event still fires, with `handledByPlatform: false`. On KF that matters: WeCom lets the API
   * send only while the session is with the bot (0/1), so a session moved to the waiting pool
   * could not carry the agents' replies.
   */
  handleHandoffs(handler: HandoffHandler): void {
    this.#undo.push(this.#host.addHandoffHandler(handler));
  }

  /**
   * Who takes `ctx.handoff()`, by channel name (see {@link HandoffTarget}). Complete once every
   * plugin is set up and the channels started: ask in an `onServer` hook, or per message with
   * `ctx.canHandoff`.
   */
  handoffTargets(): Record<string, HandoffTarget> {
    return this.#host.handoffTargets();
  }

  /** Sends to a user unprompted (an agent's answer, a notification), by the same rules as replies. */
  sendTo(channelName: string, to: Recipient, input: ReplyInput, options?: { key?: string }): Promise<void> {
    return this.#host.sendTo(channelName, to, input, options);
  }

  /** KF session control of a channel; undefined when it has none (no such channel, not KF, no secret). */
  kf(channelName: string): KfSessions | undefined {
    return this.#host.channelNamed(channelName)?.kfSessions;
  }

  /**
   * Display names of users of a channel, where its platform gives them (OA user/info remark,
   * KF customer nickname), by user; empty when it cannot. Not cached: callers keep them.
   */
  async displayNames(channelName: string, users: readonly Recipient[]): Promise<Map<string, string>> {
    const channel = this.#host.channelNamed(channelName);
    return (await channel?.displayNames?.(users)) ?? new Map();
  }

  /** The media API of a channel; undefined when it has none. */
  media(channelName: string): MediaApi | undefined {
    const channel = this.#host.channelNamed(channelName);
    if (!channel?.downloadMedia || !channel.uploadMedia) return undefined;
    return { download: (id) => channel.downloadMedia!(id), upload: (type, file) => channel.uploadMedia!(type, file) };
  }

  /** Publishes on the store's pub/sub (every instance sharing a Redis store hears it). */
  publish(topic: string, message: string): Promise<void> {
    return this.#host.publish(topic, message);
  }

  /** Listens on the store's pub/sub until the bot stops. See {@link Subscription}. */
  subscribe(topic: string, listener: (message: string) => void): Subscription {
    const subscription = this.#host.subscribe(topic, listener);
    this.#undo.push(() => subscription.unsubscribe());
    return subscription;
  }
}

/** Each scope's undo list, reachable from this module only (not a public method of the scope). */
const undoLists = new WeakMap<PluginScope, Disposer[]>();

/** Undoes every registration of a scope, newest first (the Bot calls it when it stops). Internal. */
export async function disposeScope(scope: PluginScope): Promise<void> {
  const undo = undoLists.get(scope) ?? [];
  for (const fn of undo.splice(0).reverse()) await fn();
}

/** Undoes what setup did (closes watchers, timers, connections). */
export type Disposer = () => void | Promise<void>;

/** A plugin: a name and a setup that registers middleware. Made with {@link definePlugin}. */
export interface Plugin {
  readonly name: string;
  /** Registers middleware; may return a disposer (run when the bot stops). */
  setup(scope: PluginScope): void | Disposer | Promise<void | Disposer>;
  /** Also run when the bot stops, after the disposer `setup` returned. */
  dispose?(): void | Promise<void>;
  /** Programs the plugin runs (`ffmpeg`…): `wxbot check` looks for them. */
  readonly tools?: readonly string[];
}

export { PluginOptionsError } from './pluginOptions.ts';

/** What `definePlugin` takes: a name, an optional zod schema for the options, and `setup`. */
export interface PluginDefinition<S extends z.ZodType> {
  name: string;
  /** zod schema of the options; defaults and transforms apply. */
  options?: S;
  setup(scope: PluginScope, options: z.output<S>): void | Disposer | Promise<void | Disposer>;
  /** Run when the bot stops (for state kept outside setup's closure). */
  dispose?(): void | Promise<void>;
  /** Programs these options make the plugin run (`ffmpeg`…), for `wxbot check`. */
  tools?(options: z.output<S>): readonly string[];
}

/**
 * What {@link definePlugin} returns. The options may be left out only when the schema takes an
 * empty object (every option optional or defaulted, or no schema): a plugin with a required
 * option (`handoff({ token })`) called without it is a compile error, not a start-up one.
 */
export type PluginFactory<S extends z.ZodType> = (...options: object extends z.input<S> ? [options?: z.input<S>] : [options: z.input<S>]) => Plugin;

/**
 * Defines a plugin factory with validated options:
 *
 * ```ts
 * export const greet = definePlugin({
 *   name: 'greet',
 *   options: z.object({ greeting: z.string().default('你好') }),
 *   setup(bot, { greeting }) {
 *     bot.hears(/^hi$/i, (ctx) => ctx.reply(greeting));
 *   },
 * });
 * // bot.config.ts: plugins: [greet({ greeting: 'Hello' })]
 * ```
 * A wrong option throws {@link PluginOptionsError} naming the plugin and the option (an unknown
 * one with a did-you-mean); while `wxbot` loads a config, every plugin's errors are reported together.
 */
export function definePlugin<S extends z.ZodType>(definition: PluginDefinition<S>): PluginFactory<S> {
  const factory: PluginFactory<S> = (...args) => {
    const options: unknown = args[0];
    let parsed: z.output<S> = options as z.output<S>;
    if (definition.options) {
      try {
        parsed = parsePluginOptions(definition.name, definition.options, options);
      } catch (error) {
        // While a config loads, every plugin's errors are gathered and reported together.
        if (!(error instanceof PluginOptionsError) || !recordConfigError(error)) throw error;
        return { name: definition.name, setup: () => Promise.reject(error) };
      }
    }
    return {
      name: definition.name,
      setup: (scope) => definition.setup(scope, parsed),
      ...(definition.dispose && { dispose: definition.dispose }),
      ...(definition.tools && { tools: definition.tools(parsed) }),
    };
  };
  // Named after the plugin, so a factory listed uncalled (`plugins: [echo]`) can be named.
  return Object.defineProperty(factory, 'name', { value: definition.name });
}

/**
 * Throws when `plugins` holds something that is not a plugin: most often a factory listed
 * without its call (`plugins: [echo]`, which JavaScript configs allow), which would otherwise
 * fail at setup as `plugin "" failed in setup: plugin.setup is not a function`.
 */
export function checkPluginList(plugins: unknown): void {
  if (plugins === undefined) return;
  if (!Array.isArray(plugins)) throw new TypeError('plugins must be a list of plugins, as [echo()]');
  plugins.forEach((plugin: unknown, index) => {
    if (typeof plugin === 'function') {
      const name = (plugin as { name?: unknown }).name;
      const label = typeof name === 'string' && name ? `the factory of plugin "${name}"` : 'a function';
      throw new TypeError(`plugins[${index}] is ${label}, not a plugin: call it (${typeof name === 'string' && name ? name : 'plugin'}(), with its options if it has any)`);
    }
    const candidate = plugin as { name?: unknown; setup?: unknown } | null;
    if (typeof candidate !== 'object' || candidate === null || typeof candidate.name !== 'string' || typeof candidate.setup !== 'function')
      throw new TypeError(`plugins[${index}] is not a plugin (an object with a name and a setup, as definePlugin's factories return)`);
  });
}
