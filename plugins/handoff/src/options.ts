import { z } from 'zod';

const MINUTE_MS = 60_000;

/** The console's canned replies: what the picker shows and the text it puts in the box. */
export const cannedRepliesSchema = z.array(z.strictObject({ label: z.string().min(1).max(200), text: z.string().min(1).max(8000) })).max(500);
export type CannedReplies = z.output<typeof cannedRepliesSchema>;

/** One human agent who may connect to the WebSocket endpoint or the console. */
export const agentSchema = z.object({
  /** Shown to other agents and in `message.out`; unique. */
  name: z.string().min(1).max(64),
  /** The secret the agent connects with. Long and random: it is the only credential. */
  token: z.string().min(16, 'use at least 16 characters'),
  /**
   * KF only: the agent's WeCom userid. When set, taking over moves WeCom's session to state 3
   * with this servicer, so WeCom shows who serves; WeCom then refuses API messages in the
   * session (95018), so such an agent answers in the WeCom client.
   */
  wecomUserId: z.string().min(1).optional(),
});

/** The options of {@link handoff}, checked when the bot starts. */
export const handoffOptionsSchema = z
  .object({
    /** The agents allowed in. Give this, or `token` for a single shared agent login. */
    agents: z.array(agentSchema).default([]),
    /** Shorthand for `agents: [{ name: 'agent', token }]`. */
    token: z.string().min(16, 'use at least 16 characters').optional(),
    /** WebSocket endpoint of the agent protocol. */
    path: z.string().startsWith('/').default('/agent/ws'),
    /** Where the built-in agent console page is served; `false` serves none. */
    consolePath: z.union([z.string().startsWith('/'), z.literal(false)]).default('/agent/'),
    /**
     * Origins (e.g. `https://cs.example.com`) whose pages may open the WebSocket. Default:
     * only pages of the host the request was made to. Clients that send no Origin (not
     * browsers) are let in on their token alone.
     */
    allowedOrigins: z.array(z.string().min(1)).optional(),
    /**
     * Brute-force throttle of the agent login (WebSocket token; the console signs in through
     * it): after `maxFailures` bad tokens in a row (default 5) a client address gets 429 for
     * `blockMs` (default 1 s), doubling with each further block up to `maxBlockMs` (15 min),
     * with a log line per block. A good token clears the address. `false` turns it off.
     */
    loginThrottle: z
      .union([
        z.literal(false),
        z.strictObject({
          maxFailures: z.number().int().min(1).optional(),
          blockMs: z.number().int().positive().optional(),
          maxBlockMs: z.number().int().positive().optional(),
        }),
      ])
      .default({}),
    /**
     * The client address the throttle counts is the TCP peer. Behind one reverse proxy that
     * appends the client's address to `X-Forwarded-For` (nginx `proxy_add_x_forwarded_for`),
     * set this to count the last address of that header instead (else every agent shares the
     * proxy's address). Never set it without such a proxy: clients could then pick their address.
     */
    trustProxy: z.boolean().default(false),
    /** Largest WebSocket message an agent may send, in bytes; larger closes the socket (1009). */
    maxPayload: z
      .number()
      .int()
      .positive()
      .default(64 * 1024),
    /** A conversation nobody wrote in for this long goes back to the bot (and leaves the list). */
    idleTimeoutMs: z
      .number()
      .int()
      .positive()
      .default(30 * MINUTE_MS),
    /** Messages kept per conversation (both directions). */
    historySize: z.number().int().min(1).max(1000).default(50),
    /** How long a conversation's history and record are kept after its last message. */
    historyTtlMs: z
      .number()
      .int()
      .positive()
      .default(24 * 60 * MINUTE_MS),
    /**
     * KF: what release does to a WeCom session WeChat will not move back to the bot (state 2,
     * the waiting pool, or 3, a servicer). `end` (default) ends it (state 4), so the customer's
     * next message starts a session the bot answers; `keep` leaves it where it is.
     */
    kfReleaseFromHuman: z.enum(['end', 'keep']).default('end'),
    /**
     * The store pub/sub topic for events between instances (default `handoff:events`; a
     * RedisStore puts it under its key prefix, so bots with different prefixes never hear each other).
     */
    redisChannel: z.string().min(1).optional(),
    /**
     * Where conversations, holds and histories are kept when the bot's store is in memory
     * (MemoryStore, the default): a file, so a restart keeps the held conversations (one
     * instance owns it). `false` keeps them in memory: a restart loses them, and the console
     * says so. Ignored with a durable store (FileStore, RedisStore): the plugin uses that one.
     */
    stateFile: z.union([z.string().min(1), z.literal(false)]).default('.wxbot/handoff.json'),
    /**
     * Ready-made answers offered in the console's reply box: a list, or a function giving one
     * (called for each console page, so edits show up; e.g. `() => cannedRepliesFrom('rules.yaml')`
     * of the keyword plugin, which the default bot uses with its FAQ file).
     */
    cannedReplies: z
      .union([cannedRepliesSchema, z.custom<() => CannedReplies | Promise<CannedReplies>>((v) => typeof v === 'function')], {
        error: 'give a list of { label, text }, or a function returning one',
      })
      .default([]),
    /**
     * Largest image (JPEG or PNG) an agent may send from the console, in bytes. 2 MB is the
     * smallest temporary-image limit documented across the channels (WeCom sources say 2 MB
     * or 10 MB, Official Accounts 10 MB); raise it if yours takes more.
     */
    maxImageBytes: z
      .number()
      .int()
      .positive()
      .default(2 * 1024 * 1024),
  })
  .transform((o) => ({ ...o, agents: o.token ? [...o.agents, { name: 'agent', token: o.token }] : o.agents }))
  .refine((o) => o.agents.length > 0, { path: ['agents'], message: 'give at least one agent (agents: [{ name, token }]) or token' })
  .refine((o) => new Set(o.agents.map((a) => a.name)).size === o.agents.length, { path: ['agents'], message: 'agent names must be unique' })
  .refine((o) => new Set(o.agents.map((a) => a.token)).size === o.agents.length, { path: ['agents'], message: 'agent tokens must be unique' })
  .refine((o) => o.consolePath !== o.path, { path: ['consolePath'], message: 'must differ from path' });

/** An agent as configured. */
export type AgentConfig = z.output<typeof agentSchema>;
/** Options as written in bot.config.ts. */
export type HandoffPluginOptions = z.input<typeof handoffOptionsSchema>;
/** Options after defaults. */
export type ResolvedHandoffPluginOptions = z.output<typeof handoffOptionsSchema>;
