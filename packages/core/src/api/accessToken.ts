import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import { holdLock } from '../store/lease.ts';
import { getJson, setJson, type Store } from '../store/types.ts';

/** A token as WeChat issues it. */
export interface IssuedToken {
  accessToken: string;
  /** Seconds, as in `expires_in`. */
  expiresIn: number;
}

/** Why a token is being fetched. */
export interface FetchReason {
  /** The token WeChat just refused, if that is why (see {@link AccessToken.invalidate}). */
  rejected?: string;
}

interface CachedToken {
  token: string;
  /** Epoch ms after which the token must not be used any more (refresh margin applied). */
  refreshAt: number;
}

/** How an `AccessToken` fetches, caches (in the store, shared by instances) and refreshes a token. */
export interface AccessTokenOptions {
  /** Store key; one per credential (corp id + secret, or app id + secret). */
  key: string;
  store: Store;
  log: Logger;
  /**
   * Calls gettoken / token / stable_token. `rejected` is the token WeChat refused last
   * (40001/40014/42001) when that is why a new one is fetched: a stable_token fetch that gets
   * it back must force a refresh.
   */
  fetch: (reason: FetchReason) => Promise<IssuedToken>;
  /** Refresh this long before expiry (default 5 minutes). */
  refreshMarginMs?: number;
  /**
   * How long to wait for another instance's refresh before giving up (default 30 s: longer
   * than the lock TTL, so a dead holder's lock is taken over rather than waited out).
   */
  lockWaitMs?: number;
  /** Refresh lock TTL in ms, renewed while the fetch runs (default 10 s). */
  lockTtlMs?: number;
}

/** How long a refused token is remembered for the next refresh (longer than any token lives). */
const REJECTED_TTL_MS = 2 * 60 * 60_000;

/**
 * An access token shared by every caller of one credential: cached in memory and in the
 * store (so instances sharing a Redis store share one token), refreshed a few minutes before
 * it expires, by one caller at a time in this process (single flight) and across processes
 * (a lock in the store). On Official Accounts a new token replaces the old one, so two
 * instances refreshing at once would invalidate each other: the lock prevents that.
 */
export class AccessToken {
  readonly #options: AccessTokenOptions;
  #memory: CachedToken | undefined;
  #inflight: Promise<string> | undefined;
  /** The last token WeChat refused here. */
  #rejected: string | undefined;
  /** Set while the store fails: the local refresh is logged once per outage. */
  #storeDown = false;

  constructor(options: AccessTokenOptions) {
    this.#options = options;
  }

  /** A valid token, fetching one only when neither memory nor the store has one. */
  get(): Promise<string> {
    if (this.#memory && this.#memory.refreshAt > Date.now()) return Promise.resolve(this.#memory.token);
    this.#inflight ??= this.#load().finally(() => (this.#inflight = undefined));
    return this.#inflight;
  }

  /** Forgets `token` (WeChat said it is invalid or expired), unless it was replaced already. */
  async invalidate(token: string): Promise<void> {
    if (this.#memory?.token === token) this.#memory = undefined;
    this.#rejected = token;
    try {
      const stored = await getJson<CachedToken>(this.#options.store, this.#options.key);
      if (stored?.token === token) {
        // Whichever instance refreshes next must know this one was refused (see FetchReason).
        await this.#options.store.set(`${this.#options.key}:rejected`, token, REJECTED_TTL_MS);
        await this.#options.store.delete(this.#options.key);
      }
    } catch {
      // The store is down: forgetting it here is enough; the next get() refreshes locally.
    }
  }

  async #load(): Promise<string> {
    const { store, key, log, lockWaitMs = 30_000, lockTtlMs = 10_000 } = this.#options;
    const deadline = Date.now() + lockWaitMs;
    let waitingSince: number | undefined;
    for (;;) {
      let stored: CachedToken | undefined;
      let lock: Awaited<ReturnType<typeof holdLock>>;
      try {
        stored = await getJson<CachedToken>(store, key);
        if (stored && stored.refreshAt > Date.now()) return this.#remember(this.#storeAnswers(stored));
        // A short lock, renewed while the fetch runs: the slowest fetch keeps it, a dead
        // holder loses it within lockTtlMs (then a waiter takes over below).
        lock = await holdLock(store, `${key}:lock`, lockTtlMs, log);
      } catch (error) {
        return this.#refreshLocally(error);
      }
      if (lock) {
        try {
          // Someone may have refreshed between our read and our lock.
          const again = await getJson<CachedToken>(store, key).catch(() => undefined);
          if (again && again.refreshAt > Date.now()) return this.#remember(again);
          if (waitingSince !== undefined && Date.now() - waitingSince >= lockTtlMs) {
            log.warn({ key }, 'token refresh lock taken over: its holder stopped renewing it without refreshing (a dead instance?)');
          }
          return this.#remember(await this.#refresh());
        } finally {
          await lock.release();
        }
      }
      waitingSince ??= Date.now();
      if (Date.now() > deadline) throw new Error(`timed out waiting for another instance to refresh the access token (${key})`);
      await sleep(50);
    }
  }

  /**
   * The store is down: fetch a token here rather than stop sending. Instances sharing an
   * Official Account may then replace each other's token (the one before is invalidated and
   * its 40001 triggers one more refresh): said once per outage.
   */
  async #refreshLocally(error: unknown): Promise<string> {
    if (!this.#storeDown) {
      this.#storeDown = true;
      this.#options.log.warn(
        { key: this.#options.key, err: error },
        "store unavailable: refreshing the access token locally (instances may replace each other's token until the store is back)",
      );
    }
    return this.#remember(await this.#refresh());
  }

  #storeAnswers<T>(value: T): T {
    if (this.#storeDown) {
      this.#storeDown = false;
      this.#options.log.info({ key: this.#options.key }, 'store available again: access tokens are shared again');
    }
    return value;
  }

  async #refresh(): Promise<CachedToken> {
    const { store, key, fetch, log, refreshMarginMs = 5 * 60_000 } = this.#options;
    const rejected = this.#rejected ?? (await store.get(`${key}:rejected`).catch(() => undefined));
    const issued = await fetch(rejected ? { rejected } : {});
    this.#rejected = undefined;
    if (rejected) await store.delete(`${key}:rejected`).catch(() => undefined);
    const lifetimeMs = issued.expiresIn * 1000;
    // Short-lived tokens (tests) keep at least half their life usable.
    const margin = Math.min(refreshMarginMs, lifetimeMs / 2);
    const cached = { token: issued.accessToken, refreshAt: Date.now() + lifetimeMs - margin };
    try {
      await setJson(store, key, cached, lifetimeMs);
    } catch (error) {
      // The token is good: use it from memory; other instances fetch their own meanwhile.
      log.warn({ key, err: error }, 'access token refreshed but not shared: the store failed to save it');
    }
    log.info({ key, expiresIn: issued.expiresIn }, 'access token refreshed');
    return cached;
  }

  #remember(cached: CachedToken): string {
    this.#memory = cached;
    return cached.token;
  }
}
