import { randomUUID } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import { owned } from './owned.ts';
import { LocalPubSub } from './pubsub.ts';
import type { LockRelease, Store, Subscription } from './types.ts';

/** Bounds of a `MemoryStore`: how many entries it keeps. */
export interface MemoryStoreOptions {
  /**
   * The most keys kept in the main space (conversation memory, sessions, plugin data, locks);
   * the least recently used go first. Default 100 000.
   */
  maxEntries?: number;
  /**
   * Key prefixes kept in spaces of their own, each with its own limit, so keys written for
   * every message cannot evict the others. Default {@link DEFAULT_MEMORY_SPACES}: callback dedup
   * marks (`dedup:`) in a space of 100 000, and the passive answers kept a minute for WeChat's
   * retries (`dedup-answer:`) in one of 10 000. A busy hour then evicts older dedup marks,
   * never a quiet user's memory. Given spaces are added to (or resize) the default ones.
   */
  spaces?: Readonly<Record<string, number>>;
}

/** The spaces a MemoryStore keeps by default: callback dedup marks apart from everything else. */
export const DEFAULT_MEMORY_SPACES: Readonly<Record<string, number>> = { 'dedup:': 100_000, 'dedup-answer:': 10_000 };

type Cache = LRUCache<string, string>;

/**
 * In-process store, bounded by entry count so millions of distinct message ids cannot grow
 * it without end; keys and values are copied so none keeps a message alive. Lost on restart
 * and not shared: use FileStore or RedisStore for that.
 */
export class MemoryStore implements Store {
  readonly #cache: Cache;
  readonly #spaces: readonly (readonly [prefix: string, cache: Cache])[];
  readonly #pubsub = new LocalPubSub();

  constructor(options: MemoryStoreOptions = {}) {
    this.#cache = new LRUCache({ max: options.maxEntries ?? 100_000, ttlAutopurge: false });
    this.#spaces = Object.entries({ ...DEFAULT_MEMORY_SPACES, ...options.spaces }).map(([prefix, max]) => [prefix, new LRUCache({ max, ttlAutopurge: false })]);
  }

  /** The space a key lives in. */
  #of(key: string): Cache {
    for (const [prefix, cache] of this.#spaces) if (key.startsWith(prefix)) return cache;
    return this.#cache;
  }

  async get(key: string): Promise<string | undefined> {
    return this.#of(key).get(key);
  }

  async set(key: string, value: string, ttlMs?: number): Promise<void> {
    this.#of(key).set(owned(key), owned(value), ttlMs ? { ttl: ttlMs } : {});
  }

  async setIfAbsent(key: string, value: string, ttlMs?: number): Promise<boolean> {
    const cache = this.#of(key);
    if (cache.has(key)) return false;
    cache.set(owned(key), owned(value), ttlMs ? { ttl: ttlMs } : {});
    return true;
  }

  async delete(key: string): Promise<void> {
    this.#of(key).delete(key);
  }

  async lock(key: string, ttlMs: number): Promise<LockRelease | undefined> {
    const owner = randomUUID();
    if (!(await this.setIfAbsent(key, owner, ttlMs))) return undefined;
    const cache = this.#of(key);
    const release = async () => {
      if (cache.get(key) === owner) cache.delete(key);
    };
    const renew = async (ms: number) => {
      if (cache.get(key) !== owner) return false;
      cache.set(key, owner, { ttl: ms });
      return true;
    };
    return Object.assign(release, { renew });
  }

  /** Delivers to this store's subscribers (in this process). */
  publish(topic: string, message: string): Promise<void> {
    return this.#pubsub.publish(topic, message);
  }

  subscribe(topic: string, listener: (message: string) => void): Subscription {
    return this.#pubsub.subscribe(topic, listener);
  }

  /** Number of live keys over every space (for tests and metrics). */
  get size(): number {
    let size = this.#cache.size;
    for (const [, cache] of this.#spaces) size += cache.size;
    return size;
  }
}
