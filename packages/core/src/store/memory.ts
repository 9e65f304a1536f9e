import { randomUUID } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import type { Logger } from 'pino';
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
   * retries (`dedup-answer:`) in one of 100 000. The callback dedup keeps both beside the store
   * (no other process sees it), in typed arrays and byte rings that grow as the traffic needs,
   * bounded by these sizes: marks for the dedup TTL, the oldest dropped first past the size
   * (with this space's warning when they are still live), answers 60 s each, the oldest dropped
   * first past the size or past 64 MiB of answers (~18 s of the default bot's safe-mode answers
   * at 5 000 new messages a second; WeChat retries 5–15 s after a callback). A busy hour then
   * evicts older dedup marks, never a quiet user's memory. Given spaces are added to (or resize)
   * the default ones.
   */
  spaces?: Readonly<Record<string, number>>;
}

/** The spaces a MemoryStore keeps by default: callback dedup marks apart from everything else. */
export const DEFAULT_MEMORY_SPACES: Readonly<Record<string, number>> = { 'dedup:': 100_000, 'dedup-answer:': 100_000 };

type Cache = LRUCache<string, string>;

/**
 * One bounded space: its keys' prefix ('' for the main space), its limit, and when it was last
 * checked for pressure. Its LRU is made when a key is first written or read there: an LRU
 * allocates its `max` slots up front (100 000 by default: ~2.4 MB, 1.6 MB of it arrays every
 * major GC walks), and the callback dedup keeps its marks and answers beside a plain
 * MemoryStore, so the `dedup:` spaces of most bots are never used.
 */
class Space {
  #cache: Cache | undefined;
  checkedAt = 0;
  warnedAt = Number.NEGATIVE_INFINITY;

  constructor(
    readonly prefix: string,
    readonly max: number,
  ) {}

  get cache(): Cache {
    this.#cache ??= new LRUCache({ max: this.max, ttlAutopurge: false });
    return this.#cache;
  }

  /** Keys held (live or expired but not yet dropped), without making the LRU. */
  get size(): number {
    return this.#cache?.size ?? 0;
  }
}

/** A space's size as given, refused unless a whole number of at least 1 (NaN would bound nothing). */
function sizeOf(option: string, size: number): number {
  if (!Number.isInteger(size) || size < 1) throw new TypeError(`MemoryStore: ${option} must be a whole number of at least 1, got ${size}`);
  return size;
}

const PRESSURE_CHECK_MS = 60_000;
const PRESSURE_WARN_MS = 3600_000;

/**
 * In-process store, bounded by entry count so millions of distinct message ids cannot grow
 * it without end; keys and values are copied so none keeps a message alive. Lost on restart
 * and not shared: use FileStore or RedisStore for that.
 */
export class MemoryStore implements Store {
  readonly #main: Space;
  readonly #spaces: readonly Space[];
  readonly #pubsub = new LocalPubSub();
  #log: Logger | undefined;

  constructor(options: MemoryStoreOptions = {}) {
    this.#main = new Space('', sizeOf('maxEntries', options.maxEntries ?? 100_000));
    this.#spaces = Object.entries({ ...DEFAULT_MEMORY_SPACES, ...options.spaces }).map(([prefix, max]) => new Space(prefix, sizeOf(`spaces['${prefix}']`, max)));
  }

  /** Where the store warns that a full space evicts keys before their TTL (the bot passes its logger). */
  useLogger(log: Logger): void {
    this.#log = log;
  }

  /** The space a key lives in. */
  #of(key: string): Space {
    for (const space of this.#spaces) if (key.startsWith(space.prefix)) return space;
    return this.#main;
  }

  async get(key: string): Promise<string | undefined> {
    return this.#of(key).cache.get(key);
  }

  async set(key: string, value: string, ttlMs?: number): Promise<void> {
    const space = this.#of(key);
    space.cache.set(owned(key), owned(value), ttlMs ? { ttl: ttlMs } : {});
    if (space.cache.size === space.max) this.#checkPressure(space);
  }

  async setIfAbsent(key: string, value: string, ttlMs?: number): Promise<boolean> {
    const space = this.#of(key);
    if (space.cache.has(key)) return false;
    space.cache.set(owned(key), owned(value), ttlMs ? { ttl: ttlMs } : {});
    if (space.cache.size === space.max) this.#checkPressure(space);
    return true;
  }

  /**
   * The most keys the space of keys starting with `prefix` holds, if there is such a space.
   * @internal
   */
  limitOf(prefix: string): number | undefined {
    return this.#spaces.find((space) => space.prefix === prefix)?.max;
  }

  /**
   * A full space evicts its least recently used key on the next write: when no key in it has
   * expired, keys go early (dedup marks: a replay inside the window is no longer caught;
   * the main space: someone's memory is forgotten). Looked at once a minute, warned once an hour.
   */
  #checkPressure(space: Space): void {
    const now = Date.now();
    if (now - space.checkedAt < PRESSURE_CHECK_MS) return;
    space.checkedAt = now;
    // Expired keys stay until evicted (no timer per key): drop them, then see whether it is still full.
    space.cache.purgeStale();
    if (space.cache.size < space.max) return;
    this.#warnFull(space, now);
  }

  /** Warns (once an hour) that `space` evicts live keys before their TTL. */
  #warnFull(space: Space, now: number): void {
    if (now - space.warnedAt < PRESSURE_WARN_MS) return;
    space.warnedAt = now;
    this.#log?.warn(
      { space: space.prefix || 'main', max: space.max },
      space.prefix
        ? `MemoryStore space "${space.prefix}" is full of live keys: they are evicted before their TTL; raise spaces['${space.prefix}'] (or use Redis)`
        : 'MemoryStore is full of live keys: the least recently used are evicted before their TTL; raise maxEntries (or use Redis)',
    );
  }

  /**
   * What to call when keys of the space of `prefix` kept beside the store (the callback dedup's
   * marks) are evicted before their TTL: the warning of a full space of the store's own, at
   * most once an hour, on the store's logger.
   * @internal
   */
  fullWarningOf(prefix: string): () => void {
    const space = this.#spaces.find((s) => s.prefix === prefix) ?? this.#main;
    return () => this.#warnFull(space, Date.now());
  }

  async delete(key: string): Promise<void> {
    this.#of(key).cache.delete(key);
  }

  async lock(key: string, ttlMs: number): Promise<LockRelease | undefined> {
    const owner = randomUUID();
    if (!(await this.setIfAbsent(key, owner, ttlMs))) return undefined;
    const { cache } = this.#of(key);
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
    let size = this.#main.size;
    for (const space of this.#spaces) size += space.size;
    return size;
  }
}
