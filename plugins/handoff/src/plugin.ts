/**
 * The hand-off plugin: wiring of the service, the pipeline, the WebSocket endpoint, the
 * console page and the idle sweeper.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { definePlugin, toReply, type Bot, type HandoffEvent, type Store } from '@wxbot/core';
import { LocalBus, RedisBus, redisClientOf, type EventBus } from './bus.ts';
import { consoleHeaders, consoleHtml } from './consoleHtml.ts';
import { ConversationStore } from './conversations.ts';
import { History } from './history.ts';
import { KfSession } from './kfSession.ts';
import { KeyedLocks } from './locks.ts';
import { handoffOptionsSchema } from './options.ts';
import { HandoffService } from './service.ts';
import { AgentSocketServer } from './wsServer.ts';

type Router = Parameters<Bot['routes'][number]>[0];

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
    const { bot, store, log } = scope;
    const locks = new KeyedLocks(store);
    const conversations = new ConversationStore(store, locks, { idleTimeoutMs: options.idleTimeoutMs, recordTtlMs: options.historyTtlMs });
    const history = new History(store, locks, { size: options.historySize, ttlMs: options.historyTtlMs });
    const redis = redisClientOf(store);
    const bus: EventBus = redis ? await RedisBus.start(log, redis, options.redisChannel ?? (await busChannel(store))) : new LocalBus(log);
    const service = new HandoffService({
      bot,
      log,
      conversations,
      history,
      bus,
      kf: new KfSession(bot, log, options.kfReleaseFromHuman),
      idleTimeoutMs: options.idleTimeoutMs,
      agents: options.agents,
    });

    // Agents answer here, so channels must not move sessions away from the bot (see takeHandoffsInApp).
    bot.takeHandoffsInApp();
    const onHandoff = (event: HandoffEvent) => void service.onHandoff(event);
    scope.events.on('handoff', onHandoff);

    scope.use(async (ctx, next) => {
      let held = false;
      try {
        held = (await service.onUserMessage(ctx.message)) === 'held';
      } catch (error) {
        // Without its state the plugin cannot know who holds the conversation: let the bot answer.
        ctx.log.error({ err: error }, 'hand-off state unavailable; the bot answers this message');
      }
      if (held) return; // a human holds the conversation: the later plugins never see it
      // Record what the bot answers, for the agents' history.
      const reply = ctx.reply.bind(ctx);
      ctx.reply = async (input) => {
        await reply(input);
        await service.onBotReply(ctx.message, toReply(input)).catch((error: unknown) => ctx.log.warn({ err: error }, 'bot reply not recorded in the hand-off history'));
      };
      await next();
    });

    const sockets = new AgentSocketServer({
      path: options.path,
      agents: options.agents,
      allowedOrigins: options.allowedOrigins,
      maxPayload: options.maxPayload,
      service,
      bus,
      log,
    });
    bot.onServer((server) => sockets.attach(server));

    const consolePath = options.consolePath;
    if (consolePath !== false) {
      bot.routes.push((router: Router) => {
        router.get(consolePath, (ctx) => {
          const nonce = randomBytes(16).toString('base64');
          ctx.set(consoleHeaders(nonce));
          ctx.type = 'text/html; charset=utf-8';
          ctx.body = consoleHtml({ wsPath: options.path, nonce, cannedReplies: options.cannedReplies });
        });
        // "/agent" typed without its slash: send it to the page (query kept, for ?token=).
        const bare = consolePath.replace(/\/+$/, '');
        if (bare && bare !== consolePath) router.get(bare, (ctx) => ctx.redirect(consolePath + (ctx.querystring ? `?${ctx.querystring}` : '')));
      });
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

    log.info({ path: options.path, consolePath, agents: options.agents.length, shared: redis !== undefined }, 'hand-off ready');

    return async () => {
      clearInterval(sweeper);
      scope.events.off('handoff', onHandoff);
      await sockets.close();
      await bus.close();
    };
  },
});

/**
 * The pub/sub channel of the instances sharing this store: an id made up by the first one
 * and kept in the store, so bots with different key prefixes on one Redis stay apart.
 */
async function busChannel(store: Store): Promise<string> {
  try {
    await store.setIfAbsent('handoff:bus-id', randomUUID());
    return `wxbot:handoff:${(await store.get('handoff:bus-id')) ?? 'default'}`;
  } catch (error) {
    throw new Error('hand-off: the store is unreachable, so the instances cannot agree on a Redis channel (set the redisChannel option to start without it)', { cause: error });
  }
}
