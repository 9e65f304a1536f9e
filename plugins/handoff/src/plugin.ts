/**
 * The hand-off plugin: wiring of the service, the pipeline, the WebSocket endpoint, the
 * console page and the idle sweeper.
 */
import { randomBytes } from 'node:crypto';
import { definePlugin, FileStore, MemoryStore, type Context, type Reply, type Store } from '@wxbot/core';
import { StoreBus } from './bus.ts';
import { conversationId } from './conversations.ts';
import { consoleHeaders, consoleHtml } from './consoleHtml.ts';
import { ConversationStore } from './conversations.ts';
import { History } from './history.ts';
import { KfSession } from './kfSession.ts';
import { KeyedLocks } from './locks.ts';
import { DisplayNames } from './names.ts';
import { mountMediaRoutes } from './mediaRoutes.ts';
import { cannedRepliesSchema, handoffOptionsSchema, type CannedReplies } from './options.ts';
import { HandoffService } from './service.ts';
import { AgentSocketServer } from './wsServer.ts';

/**
 * Hands conversations to human agents and back. List it **first** among the plugins: it
 * must see every message before the others, to keep the ones a human holds from the bot.
 *
 * ```ts
 * plugins: [
 *   handoff({ agents: [{ name: '小王', token: process.env.AGENT_TOKEN_WANG! }] }),
 *   keyword({ rulesFile: 'rules.yaml' }), // its 人工 words call ctx.handoff()
 *   llm({ apiKey: process.env.OPENAI_API_KEY }),
 * ]
 * ```
 *
 * `ctx.handoff()` (from any plugin) holds the conversation: the user's messages stop reaching
 * the later plugins and go to the agents, over the WebSocket protocol at `path` or in the
 * console page at `consolePath`. An agent's release, or `idleTimeoutMs` without a message,
 * gives the user back to the bot. With a RedisStore, agents on any instance see everything.
 */
export const handoff = definePlugin({
  name: 'handoff',
  options: handoffOptionsSchema,
  async setup(scope, options) {
    const { log } = scope;
    // The bot's store, unless it lives in memory: then a file (by default), so that a restart
    // keeps who holds what. Pub/sub stays the bot's (in-process for both).
    const inMemory = scope.store instanceof MemoryStore;
    const ownStore = inMemory && options.stateFile !== false ? new FileStore({ path: options.stateFile }) : undefined;
    const store: Store = ownStore ?? scope.store;
    const persistent = !(inMemory && !ownStore);
    // Locks stay in the bot's store (one process owns the file anyway). Histories: see History
    // (everyone's recent messages in this process over a memory store; open conversations'
    // in the state file).
    const locks = new KeyedLocks(scope.store);
    // Over a store only this process writes (memory, the state file), which conversations have a
    // record is known in process: a message of a conversation with none reads nothing.
    const conversations = new ConversationStore(store, locks, { idleTimeoutMs: options.idleTimeoutMs, recordTtlMs: options.historyTtlMs, local: inMemory });
    const history = new History({ recent: inMemory ? 'process' : store, kept: store, locks, size: options.historySize, ttlMs: options.historyTtlMs });
    // Events reach the agents of every instance through the store's pub/sub (Redis), or of
    // this process (memory, file store).
    const bus = new StoreBus(log, scope, options.redisChannel ?? 'handoff:events');
    const service = new HandoffService({
      sendTo: (channel, to, input) => scope.sendTo(channel, to, input),
      log,
      conversations,
      history,
      bus,
      kf: new KfSession((channel) => scope.kf(channel), log, options.kfReleaseFromHuman),
      idleTimeoutMs: options.idleTimeoutMs,
      agents: options.agents,
      names: new DisplayNames(store, (channel, users) => scope.displayNames(channel, users), log),
    });

    // Agents answer here: ctx.handoff() comes to us, and channels do not move sessions away
    // from the bot on the platform.
    scope.handleHandoffs((event) => void service.onHandoff(event));

    // Record what the bot answers (not the agents' own sends), for the agents' history, once it
    // is delivered. Promise callbacks, not async frames: this runs for every reply.
    const notRecorded = (error: unknown) => log.warn({ err: error }, 'bot reply not recorded in the hand-off history');
    const record = (id: string, reply: Reply) => {
      try {
        const recorded = service.onBotReply(id, reply);
        if (recorded) return recorded.catch(notRecorded);
      } catch (error) {
        notRecorded(error);
      }
    };
    const undelivered = () => undefined; // the sender learns it from the delivery's promise
    scope.onReply((out, next) => {
      const sent = next();
      // Returning nothing hands the sender the delivery's own promise: the core chains a promise
      // and two callbacks onto one a hook returns, ~200 B a reply (bench/alloc.ts).
      if (out.answers === undefined) return;
      const id = conversationId(out.channel, out.to.user, out.to.openKfId);
      if (service.botReplyRecordedAtOnce(id)) {
        // In process, in a callback of the delivery's promise registered before the sender's
        // `await`: recorded by the time the sender goes on, as when it waited for it.
        sent.then(() => record(id, out.reply), undelivered);
        return;
      }
      // In the store: the sender waits for the write.
      return sent.then(() => record(id, out.reply));
    });

    const stateUnavailable = (ctx: Context, error: unknown) =>
      // Without its state the plugin cannot know who holds the conversation: let the bot answer.
      ctx.log.error({ err: error }, 'hand-off state unavailable; the bot answers this message');
    scope.use((ctx, next) => {
      let verdict: 'pass' | Promise<'held' | 'pass'>;
      try {
        verdict = service.onUserMessage(ctx.message);
      } catch (error) {
        stateUnavailable(ctx, error);
        return next();
      }
      if (verdict === 'pass') return next();
      return verdict.then(
        // Held: a human holds the conversation, the later plugins never see it.
        (v) => (v === 'held' ? undefined : next()),
        (error: unknown) => {
          stateUnavailable(ctx, error);
          return next();
        },
      );
    });

    const sockets = new AgentSocketServer({
      path: options.path,
      agents: options.agents,
      allowedOrigins: options.allowedOrigins,
      maxPayload: options.maxPayload,
      service,
      bus,
      log,
      persistent,
      loginThrottle: options.loginThrottle,
      trustProxy: options.trustProxy,
    });
    scope.onServer((server) => sockets.attach(server));

    const consolePath = options.consolePath;
    // A function (the FAQ file's answers) is asked again for each page, so edits show up.
    const cannedReplies = async (): Promise<CannedReplies> => {
      if (typeof options.cannedReplies !== 'function') return options.cannedReplies;
      try {
        return cannedRepliesSchema.parse(await options.cannedReplies());
      } catch (error) {
        log.warn({ err: error }, 'canned replies not loaded; the console shows none');
        return [];
      }
    };
    if (consolePath !== false) {
      scope.route('GET', consolePath, async (ctx) => {
        const nonce = randomBytes(16).toString('base64');
        ctx.set(consoleHeaders(nonce));
        ctx.type = 'text/html; charset=utf-8';
        ctx.body = consoleHtml({
          wsPath: options.path,
          mediaPath: `${consolePath.replace(/\/+$/, '')}/media`,
          maxImageBytes: options.maxImageBytes,
          nonce,
          cannedReplies: await cannedReplies(),
        });
      });
      mountMediaRoutes(scope, {
        base: consolePath,
        authenticate: (request, token) => sockets.authenticateHttp(request, token),
        service,
        maxImageBytes: options.maxImageBytes,
        media: (channel) => scope.media(channel),
        log,
      });
      // "/agent" typed without its slash: send it to the page (query kept, for ?token=).
      const bare = consolePath.replace(/\/+$/, '');
      if (bare && bare !== consolePath) scope.route('GET', bare, (ctx) => ctx.redirect(consolePath + (ctx.querystring ? `?${ctx.querystring}` : '')));
    }

    // Every instance sweeps; the per-conversation lock makes one of them act.
    const sweepEveryMs = Math.min(30_000, Math.max(50, Math.floor(options.idleTimeoutMs / 4)));
    let sweeping = false;
    const sweeper = setInterval(() => {
      if (sweeping) return;
      sweeping = true;
      service
        .sweep()
        .catch((error: unknown) => log.warn({ err: error }, 'hand-off idle sweep failed'))
        .finally(() => (sweeping = false));
    }, sweepEveryMs);
    sweeper.unref();

    log.info(
      { path: options.path, consolePath, agents: options.agents.length, shared: store.location !== undefined, ...(ownStore && { stateFile: ownStore.path }), persistent },
      'hand-off ready',
    );
    if (!persistent) log.warn('hand-off state is in memory (stateFile: false): a restart loses the held conversations; the console will say so');

    return async () => {
      clearInterval(sweeper);
      await sockets.close();
      await bus.close();
      await ownStore?.close();
    };
  },
});
