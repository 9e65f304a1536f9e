import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import type { LockRelease, Logger, Store, StoreEntry, Subscription } from '@wxbot/core';
import type { DeliveryEngine, DurableCapableStore } from '@wxbot/core/delivery';
import { DurableDelivery, type DurableDeliveryOptions } from './durable/engine.ts';

/** How a `RedisStore` connects (URL or client), prefixes its keys, bounds each command and logs. */
export interface RedisStoreOptions {
  /**
   * A `redis://` or `rediss://` URL. Default (also for `undefined`, so `process.env.REDIS_URL`
   * can be passed as it is under `exactOptionalPropertyTypes`): 127.0.0.1:6379. Ignored when
   * `client` is given.
   */
  url?: string | undefined;
  /** An existing client to use. The store never quits it and leaves its `error` event to you. */
  client?: Redis;
  /** Put before every key, so several bots can share one Redis. Default `wxbot:`. */
  prefix?: string;
  /**
   * Durable delivery (BullMQ queues on this Redis, see {@link DurableDelivery}): on by
   * default, so a bot with a RedisStore survives a crash of any instance; options tune it,
   * `false` keeps delivery in each process's memory.
   */
  durable?: false | Omit<DurableDeliveryOptions, 'redis' | 'prefix'>;
  /**
   * Deadline of every command, in ms (default 1000). A Redis that accepts connections but does
   * not answer (stopped, paused, swapping) would otherwise hold every callback waiting on it:
   * past the deadline the call rejects, and callers proceed as they do when the store is down.
   */
  commandTimeoutMs?: number;
  /** Where "Redis does not answer" and "answers again" are logged (once per outage). The bot sets its own. */
  log?: Logger;
}

/** The store did not answer within its deadline. */
export class StoreTimeoutError extends Error {
  override readonly name = 'StoreTimeoutError';
}

/**
 * Compare-and-delete: removes the lock only while it still holds our token. A plain GET then
 * DEL could delete a lock that expired in between and was taken by another holder.
 */
const RELEASE_SCRIPT = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end`;
/** Compare-and-extend: renews the lock only while it still holds our token. */
const RENEW_SCRIPT = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) else return 0 end`;
/**
 * Several SETs as one command (setMany): each key with its value and TTL in ms ('0': none).
 * A script runs whole, so a reader sees all of them or none, in one round trip and one reply.
 */
const SET_MANY_SCRIPT = `for i = 1, #KEYS do
  local ttl = ARGV[2 * i]
  if ttl == '0' then redis.call('set', KEYS[i], ARGV[2 * i - 1]) else redis.call('set', KEYS[i], ARGV[2 * i - 1], 'px', ttl) end
end
return #KEYS`;

/**
 * Store on Redis, shared by every bot instance that uses the same server and prefix. TTLs,
 * `setIfAbsent` and `lock` are enforced by Redis (SET with PX and NX), so they hold across
 * processes and machines.
 *
 * Failures (including an unreachable server) reject the call with an error that names the
 * store and, for a client the store created, the last connection error. The store's own
 * client keeps reconnecting in the background; while it is down, calls reject at once
 * instead of queueing, and a call made during the first connection gives up after two
 * reconnect attempts.
 */
export class RedisStore implements Store, DurableCapableStore {
  readonly #client: Redis;
  readonly #options: RedisStoreOptions;
  readonly #prefix: string;
  readonly #owned: boolean;
  readonly #timeoutMs: number;
  #log: Logger | undefined;
  #connectionError: Error | undefined;
  /** Set while commands time out: the outage is logged once, and its end once. */
  #hung = false;
  /** The connection in subscriber mode (a subscribed connection runs no other command). */
  #subscriber: Redis | undefined;
  /** Listeners by prefixed topic. */
  readonly #topics = new Map<string, Set<(message: string) => void>>();

  constructor(options: RedisStoreOptions = {}) {
    this.#options = options;
    this.#prefix = options.prefix ?? 'wxbot:';
    this.#timeoutMs = options.commandTimeoutMs ?? 1000;
    this.#log = options.log;
    if (!(this.#timeoutMs > 0)) throw new Error('RedisStore: commandTimeoutMs must be a positive number');
    if (options.client) {
      this.#client = options.client;
      this.#owned = false;
      defineScripts(this.#client);
      return;
    }
    // Fail queued commands after two reconnect attempts (well under a second when the server
    // refuses connections) rather than ioredis' default of 20.
    const clientOptions = { maxRetriesPerRequest: 2 };
    this.#client = options.url ? new Redis(options.url, clientOptions) : new Redis({ host: '127.0.0.1', port: 6379, ...clientOptions });
    defineScripts(this.#client);
    this.#owned = true;
    // Without a listener ioredis prints every reconnect failure to stderr. Keep the latest so
    // command failures can say why the connection is down.
    this.#client.on('error', (error: Error) => {
      this.#connectionError = error;
    });
    this.#client.on('ready', () => {
      this.#connectionError = undefined;
    });
  }

  /** The server as `host:port` (never the URL: it may hold a password). */
  get location(): string {
    const { host, port } = this.#client.options;
    return `${host ?? '127.0.0.1'}:${port ?? 6379}`;
  }

  /**
   * Resolves when the server answers PING. Rejects with the connection's own error
   * (`connect ECONNREFUSED …`) when there is one, as it says more than a failed command.
   */
  async ping(): Promise<void> {
    let lastError = this.#connectionError;
    const onError = (error: Error) => (lastError = error);
    this.#client.on('error', onError);
    try {
      await this.#client.ping();
    } catch (error) {
      throw lastError ?? error;
    } finally {
      this.#client.off('error', onError);
    }
  }

  /**
   * The bot's durable delivery engine on this Redis (the bot calls this when it starts).
   * Its queues and keys live under the store's prefix; it opens its own connections, as
   * BullMQ's workers block on theirs.
   */
  createDeliveryEngine(): DeliveryEngine | undefined {
    if (this.#options.durable === false) return undefined;
    // A client of the caller's is duplicated (same server, credentials and TLS): BullMQ needs
    // connections that retry forever (maxRetriesPerRequest null); the engine owns and closes it.
    const redis = this.#options.client ? this.#options.client.duplicate({ maxRetriesPerRequest: null }) : this.#options.url;
    return new DurableDelivery({ timeoutMs: this.#timeoutMs, ...this.#options.durable, redis, ownsRedis: true, prefix: `${this.#prefix}q` });
  }

  /** Gives the store a logger when it was built without one (the bot calls this). */
  useLogger(log: Logger): void {
    this.#log ??= log;
  }

  /** The underlying client (for health checks and metrics). */
  get client(): Redis {
    return this.#client;
  }

  async get(key: string): Promise<string | undefined> {
    const value = await this.#run('GET', () => this.#client.get(this.#key(key)));
    return value ?? undefined;
  }

  /** Several keys with one MGET, in order. */
  async getMany(keys: readonly string[]): Promise<(string | undefined)[]> {
    if (keys.length === 0) return [];
    const values = await this.#run('MGET', () => this.#client.mget(keys.map((key) => this.#key(key))));
    return values.map((value) => value ?? undefined);
  }

  async set(key: string, value: string, ttlMs?: number): Promise<void> {
    const k = this.#key(key);
    await this.#run('SET', () => (ttlMs ? this.#client.set(k, value, 'PX', px(ttlMs)) : this.#client.set(k, value)));
  }

  /**
   * Several keys in one command (a script: all or none, one round trip), with their TTLs. The
   * dedup records a passive answer and its mark with it.
   */
  async setMany(entries: readonly StoreEntry[]): Promise<void> {
    if (entries.length === 0) return;
    const keys: string[] = [];
    const args: (string | number)[] = [];
    for (const { key, value, ttlMs } of entries) {
      keys.push(this.#key(key));
      args.push(value, ttlMs ? px(ttlMs) : 0);
    }
    // EVALSHA, the script itself only where the server does not know it yet (ioredis' defineCommand).
    await this.#run('SET many', () => (this.#client as RedisWithScripts).wxbotSetMany(keys.length, ...keys, ...args));
  }

  async setIfAbsent(key: string, value: string, ttlMs?: number): Promise<boolean> {
    const k = this.#key(key);
    const reply = await this.#run('SET NX', () => (ttlMs ? this.#client.set(k, value, 'PX', px(ttlMs), 'NX') : this.#client.set(k, value, 'NX')));
    return reply === 'OK';
  }

  async delete(key: string): Promise<void> {
    await this.#run('DEL', () => this.#client.del(this.#key(key)));
  }

  async lock(key: string, ttlMs: number): Promise<LockRelease | undefined> {
    const k = this.#key(key);
    const owner = randomUUID();
    const reply = await this.#run('lock', () => this.#client.set(k, owner, 'PX', px(ttlMs), 'NX'));
    if (reply !== 'OK') return undefined;
    const release = async () => {
      await this.#run('unlock', () => this.#client.eval(RELEASE_SCRIPT, 1, k, owner));
    };
    const renew = async (ms: number) => (await this.#run('renew lock', () => this.#client.eval(RENEW_SCRIPT, 1, k, owner, px(ms)))) === 1;
    return Object.assign(release, { renew });
  }

  /** Publishes on `<prefix><topic>` to every instance sharing this Redis and prefix. */
  async publish(topic: string, message: string): Promise<void> {
    await this.#run('PUBLISH', () => this.#client.publish(this.#key(topic), message));
  }

  /**
   * Listens on `<prefix><topic>` through one extra connection (a duplicate of the client,
   * made on the first subscription and closed with the store). When Redis is down, `ready`
   * rejects and the subscription is made once the connection is back; ioredis renews it
   * after every later reconnect.
   */
  subscribe(topic: string, listener: (message: string) => void): Subscription {
    const channel = this.#key(topic);
    const entry = (message: string) => listener(message);
    let listeners = this.#topics.get(channel);
    const first = !listeners;
    if (!listeners) this.#topics.set(channel, (listeners = new Set()));
    listeners.add(entry);
    const subscriber = this.#subscriberConnection();
    const ready = first ? this.#subscribe(subscriber, channel) : Promise.resolve();
    ready.catch(() => {}); // the caller may not look at it; the retry is armed either way
    return {
      ready,
      unsubscribe: async () => {
        listeners.delete(entry);
        if (listeners.size > 0 || this.#topics.get(channel) !== listeners) return;
        this.#topics.delete(channel);
        await subscriber.unsubscribe(channel).catch(() => {});
      },
    };
  }

  #subscriberConnection(): Redis {
    if (this.#subscriber) return this.#subscriber;
    const subscriber = this.#client.duplicate();
    subscriber.on('error', () => {}); // reconnects on its own; commands report failures
    subscriber.on('message', (channel: string, message: string) => {
      for (const listener of [...(this.#topics.get(channel) ?? [])]) {
        try {
          listener(message);
        } catch {
          // One listener's failure does not keep the message from the others.
        }
      }
    });
    this.#subscriber = subscriber;
    return subscriber;
  }

  async #subscribe(subscriber: Redis, channel: string): Promise<void> {
    try {
      await subscriber.subscribe(channel);
    } catch (error) {
      // Made when the connection is back (unless nobody listens any more by then).
      subscriber.once('ready', () => {
        if (this.#topics.has(channel)) void this.#subscribe(subscriber, channel).catch(() => {});
      });
      throw new Error(`RedisStore: SUBSCRIBE failed: ${error instanceof Error ? error.message : String(error)}; it is made when Redis is back`, { cause: error });
    }
  }

  /** Quits the client if this store created it; a client passed in is left open. */
  async close(): Promise<void> {
    const subscriber = this.#subscriber;
    this.#subscriber = undefined;
    this.#topics.clear();
    if (subscriber) await subscriber.quit().catch(() => subscriber.disconnect());
    if (!this.#owned || this.#client.status === 'end') return;
    try {
      // QUIT waits for an answer: a hung server would hold the bot's stop() forever.
      await this.#withDeadline('quit', this.#client.quit());
    } catch {
      // QUIT can fail on a broken connection; dropping the socket is all that is left to do.
      this.#client.disconnect();
    }
  }

  #key(key: string): string {
    return this.#prefix + key;
  }

  /** Races a command with the deadline; the first timeout of an outage is logged. */
  #withDeadline<T>(op: string, pending: Promise<T>): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        if (!this.#hung) {
          this.#hung = true;
          const { host, port } = this.#client.options;
          this.#log?.warn(
            { op, timeoutMs: this.#timeoutMs, redis: `${host}:${port}` },
            'Redis did not answer in time: proceeding as if the store were down (logged once per outage)',
          );
        }
        reject(new StoreTimeoutError(`no answer within ${this.#timeoutMs} ms`));
      }, this.#timeoutMs);
    });
    return Promise.race([pending, deadline]).finally(() => clearTimeout(timer));
  }

  async #run<T>(op: string, command: () => Promise<T>): Promise<T> {
    try {
      // Once our connection is known to be down, fail at once: a WeChat callback has about
      // five seconds to answer, longer than a queued command would wait for a reconnect.
      if (this.#connectionError && this.#client.status !== 'ready') throw new Error('not connected');
      const result = await this.#withDeadline(op, command());
      if (this.#hung) {
        this.#hung = false;
        this.#log?.info({ op }, 'Redis answers again');
      }
      return result;
    } catch (error) {
      const cause = error instanceof Error ? error : new Error(String(error));
      const { host, port } = this.#client.options;
      const connection = this.#connectionError ? `; connection to ${host}:${port}: ${this.#connectionError.message}` : '';
      throw new Error(`RedisStore: ${op} failed: ${cause.message}${connection}`, { cause });
    }
  }
}

/** Redis wants a positive whole number of milliseconds. */
function px(ttlMs: number): number {
  return Math.max(1, Math.ceil(ttlMs));
}

/** The client with this store's scripts, as {@link defineScripts} adds them. */
type RedisWithScripts = Redis & { wxbotSetMany(numberOfKeys: number, ...keysThenArgs: (string | number)[]): Promise<number> };

/** Adds the store's scripts to `client` as commands (a client given to the store too). */
function defineScripts(client: Redis): void {
  client.defineCommand('wxbotSetMany', { lua: SET_MANY_SCRIPT });
}
