import { randomUUID } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import { LocalPubSub } from './pubsub.ts';
import type { LockRelease, Store, Subscription } from './types.ts';

export interface MemoryStoreOptions {
  /** The most keys kept; the least recently used go first. Default 100 000. */
  maxEntries?: number;
}

/**
 * In-process store, bounded by entry count so millions of distinct message ids cannot grow
 * it without end. Lost on restart and not shared: use FileStore or RedisStore for that.
 */
export class MemoryStore implements Store {
  readonly #cache: LRUCache<string, string>;
  readonly #pubsub = new LocalPubSub();

  constructor(options: MemoryStoreOptions = {}) {
    this.#cache = new LRUCache({ max: options.maxEntries ?? 100_000, ttlAutopurge: false });
  }

  async get(key: string): Promise<string | undefined> {
    return this.#cache.get(key);
  }

  async set(key: string, value: string, ttlMs?: number): Promise<void> {
    this.#cache.set(key, value, ttlMs ? { ttl: ttlMs } : {});
  }

  async setIfAbsent(key: string, value: string, ttlMs?: number): Promise<boolean> {
    if (this.#cache.has(key)) return false;
    this.#cache.set(key, value, ttlMs ? { ttl: ttlMs } : {});
    return true;
  }

  async delete(key: string): Promise<void> {
    this.#cache.delete(key);
  }

  async lock(key: string, ttlMs: number): Promise<LockRelease | undefined> {
    const owner = randomUUID();
    if (!(await this.setIfAbsent(key, owner, ttlMs))) return undefined;
    const release = async () => {
      if (this.#cache.get(key) === owner) this.#cache.delete(key);
    };
    const renew = async (ms: number) => {
      if (this.#cache.get(key) !== owner) return false;
      this.#cache.set(key, owner, { ttl: ms });
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

  /** Number of live keys (for tests and metrics). */
  get size(): number {
    return this.#cache.size;
  }
}
