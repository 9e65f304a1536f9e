/**
 * Shared state: access tokens, dedup marks, KF cursors, plugin data. Values are strings
 * (callers JSON-encode); every key may carry a time to live.
 *
 * Implementations: {@link MemoryStore} (default, bounded), `FileStore` (durable on one
 * machine), `RedisStore` of `@wxbot/redis` (shared between instances).
 */
export interface Store {
  get(key: string): Promise<string | undefined>;
  /**
   * Several keys in one request (a store behind a server: one round trip), in order. Optional:
   * callers fall back to `get` one key at a time. The keys of one call share a `{hash tag}`
   * (Redis Cluster refuses a command over keys of several slots, CROSSSLOT).
   */
  getMany?(keys: readonly string[]): Promise<(string | undefined)[]>;
  set(key: string, value: string, ttlMs?: number): Promise<void>;
  /**
   * Several keys in one request (a store behind a server: one round trip), written in order,
   * all or none: a reader never sees one without the others. Optional: callers fall back to
   * `set` one key at a time. The keys of one call share a `{hash tag}`, as for `getMany`.
   */
  setMany?(entries: readonly StoreEntry[]): Promise<void>;
  /** Sets the key only if it is absent; true when this call set it. */
  setIfAbsent(key: string, value: string, ttlMs?: number): Promise<boolean>;
  delete(key: string): Promise<void>;
  /**
   * Takes a lock for at most `ttlMs`. Returns a release function, or undefined when someone
   * else holds it. Releasing a lock that expired and was taken by another holder is a no-op.
   * The release function may carry `renew` (the built-in stores do): see {@link LockRelease}.
   */
  lock(key: string, ttlMs: number): Promise<LockRelease | undefined>;
  close?(): Promise<void>;
  /**
   * For a store behind a server: resolves once the server answers, rejects with the reason it
   * does not (`wxbot check` calls it). Stores with nothing to reach leave it out.
   */
  ping?(): Promise<void>;
  /** Where a store behind a server lives, e.g. `host:port`; never a URL with a password. */
  readonly location?: string;
  /**
   * Publishes `message` on `topic` to every subscriber: in this process for MemoryStore and
   * FileStore, on every instance sharing the store for RedisStore (topics live under its key
   * prefix, so bots with different prefixes never hear each other). Delivery is best effort
   * (no history, nothing kept for a subscriber that is not connected). Optional: a plugin
   * calls it through its scope, which falls back to in-process delivery.
   */
  publish?(topic: string, message: string): Promise<void>;
  /** Listens on `topic` (publisher included). See {@link Subscription}. */
  subscribe?(topic: string, listener: (message: string) => void): Subscription;
}

/** One key of {@link Store.setMany}: its value, and how long it lives (for ever when left out). */
export interface StoreEntry {
  readonly key: string;
  readonly value: string;
  readonly ttlMs?: number;
}

/** A subscription made with {@link Store.subscribe}. */
export interface Subscription {
  /**
   * Resolves once messages flow. Rejects when the subscription cannot be made now (the
   * server is down); it stays registered and is made when the store reconnects.
   */
  readonly ready: Promise<void>;
  /** Stops listening. */
  unsubscribe(): Promise<void>;
}

/**
 * Releases a held lock. `renew(ttlMs)` extends it by `ttlMs` from now while it is still ours
 * and says whether it was (false: it expired, and may be someone else's now). Holders renew
 * short locks while they work (see `holdLock`), so a dead holder's lock frees up quickly.
 */
export type LockRelease = (() => Promise<void>) & { renew?(ttlMs: number): Promise<boolean> };

/** JSON helpers over a Store. */
export function getJson<T>(store: Store, key: string): Promise<T | undefined> {
  // A promise callback, not an async frame (the hand-off reads a record twice a message);
  // a store that throws instead of rejecting (or returns a plain value) behaves as with await.
  try {
    return Promise.resolve(store.get(key)).then(parseStored) as Promise<T | undefined>;
  } catch (error) {
    return Promise.reject(error);
  }
}
const parseStored = (raw: string | undefined): unknown => (raw === undefined ? undefined : JSON.parse(raw));

/** Stores `value` as JSON under `key`, for `ttlMs` milliseconds when given. */
export async function setJson(store: Store, key: string, value: unknown, ttlMs?: number): Promise<void> {
  await store.set(key, JSON.stringify(value), ttlMs);
}
