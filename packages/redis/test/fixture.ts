import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll } from 'vitest';
import { shouldRunRedisTests, startFakeWeChatApi, type FakeWeChatApi } from '@wxbot/testing';
import { createBot, officialAccount, type Bot, type BotOptions } from '@wxbot/core';
import { RedisStore, type RedisStoreOptions } from '../src/index.ts';

/** Removes every key of the shared Redis under `prefix` (a test's own). */
export async function removeKeys(prefix: string): Promise<void> {
  const admin = new Redis('redis://127.0.0.1:6379');
  try {
    const keys = await admin.keys(`${prefix}*`);
    for (let i = 0; i < keys.length; i += 500) await admin.del(...keys.slice(i, i + 500));
  } finally {
    admin.disconnect();
  }
}

/** A test file's own connection to the shared Redis, with its own key prefix (see {@link redisTestConnection}). */
export interface RedisTestConnection {
  /** The file's own key prefix; its keys are removed after the file's tests. */
  readonly prefix: string;
  /** Whether Redis answers (the tests run only then). */
  readonly run: boolean;
  /** The connection, disconnected after the file's tests. */
  readonly redis: Redis;
}

/**
 * A connection for a test file that talks to Redis directly: a prefix of its own, removed with
 * the connection after the tests. `lazyConnect` leaves connecting to the test (one that counts
 * what reaches the socket from the first command on).
 */
export async function redisTestConnection(what: string, options: { lazyConnect?: boolean } = {}): Promise<RedisTestConnection> {
  const prefix = `wxbot-test:${randomUUID()}:`;
  const run = await shouldRunRedisTests(what);
  const redis = new Redis('redis://127.0.0.1:6379', { maxRetriesPerRequest: 1, lazyConnect: options.lazyConnect ?? !run });
  redis.on('error', () => undefined);
  afterAll(async () => {
    if (run) {
      const keys = await redis.keys(`${prefix}*`);
      if (keys.length > 0) await redis.del(...keys);
    }
    redis.disconnect();
  });
  return { prefix, run, redis };
}

/** What a durable test of one describe block works with (see {@link durableSetup}). */
export interface DurableSetup {
  /** The test's own key prefix on the shared Redis. */
  readonly prefix: string;
  /** The fake WeChat API (started before the tests). */
  readonly api: FakeWeChatApi;
  /** Keeps `bot` to be stopped after the tests; returns it. */
  keep(bot: Bot): Bot;
  /** Runs `close` after the bots stopped (a proxy in front of Redis, say). */
  onClose(close: () => Promise<unknown>): void;
}

/**
 * The setup the durable tests on the real Redis share, registered on the describe block it is
 * called in: a key prefix of the test's own, a fake WeChat API that knows `credentials`, and
 * afterwards the bots stopped, what `onClose` was given closed, the API closed and the
 * prefix's keys removed.
 */
export function durableSetup(credentials: readonly { id: string; secret: string }[]): DurableSetup {
  const prefix = `wxbot-test:${randomUUID()}:`;
  const bots: Bot[] = [];
  const closers: (() => Promise<unknown>)[] = [];
  let api: FakeWeChatApi | undefined;
  beforeAll(async () => {
    api = await startFakeWeChatApi({ credentials: [...credentials] });
  });
  afterAll(async () => {
    await Promise.all(bots.map((b) => b.stop()));
    for (const close of closers) await close();
    await api?.close();
    await removeKeys(prefix);
  });
  return {
    prefix,
    get api() {
      if (!api) throw new Error('durableSetup: the fake API starts in beforeAll');
      return api;
    },
    keep(bot) {
      bots.push(bot);
      return bot;
    },
    onClose(close) {
      closers.push(close);
    },
  };
}

/** An Official Account of the fake API: its AppID, secret and token. */
export interface OaAccount {
  readonly appId: string;
  readonly appSecret: string;
  readonly token: string;
}

/**
 * A bot (kept by `setup`) on Official Account `oa` of the fake API whose every text is answered
 * `late:<text>` after `delayMs`, past its `replyWindowMs`: a reply through the durable engine.
 * `store`: the RedisStore's options (the setup's prefix unless given); `bot`: more options.
 */
export function lateReplyBot(
  setup: DurableSetup,
  oa: OaAccount,
  options: { replyWindowMs: number; delayMs: number; store?: RedisStoreOptions; bot?: Omit<BotOptions, 'channels' | 'store'> },
): Bot {
  const bot = createBot({
    channels: [officialAccount({ ...oa, apiBaseUrl: setup.api.url, replyWindowMs: options.replyWindowMs })],
    store: new RedisStore({ url: 'redis://127.0.0.1:6379', prefix: setup.prefix, ...options.store }),
    ...options.bot,
  });
  bot.on('text', async (ctx) => {
    await new Promise((resolve) => setTimeout(resolve, options.delayMs));
    await ctx.reply(`late:${ctx.message.type === 'text' ? ctx.message.text : ''}`);
  });
  return setup.keep(bot);
}
