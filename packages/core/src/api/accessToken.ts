import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import { getJson, setJson, type Store } from '../store/types.ts';

/** A token as WeChat issues it. */
export interface IssuedToken {
  accessToken: string;
  /** Seconds, as in `expires_in`. */
  expiresIn: number;
}

interface CachedToken {
  token: string;
  /** Epoch ms after which the token must not be used any more (refresh margin applied). */
  refreshAt: number;
}

export interface AccessTokenOptions {
  /** Store key; one per credential (corp id + secret, or app id + secret). */
  key: string;
  store: Store;
  log: Logger;
  /** Calls gettoken / token. */
  fetch: () => Promise<IssuedToken>;
  /** Refresh this long before expiry (default 5 minutes). */
  refreshMarginMs?: number;
  /** How long another instance may hold the refresh lock before we stop waiting (default 10 s). */
  lockWaitMs?: number;
}

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
    const stored = await getJson<CachedToken>(this.#options.store, this.#options.key);
    if (stored?.token === token) await this.#options.store.delete(this.#options.key);
  }

  async #load(): Promise<string> {
    const { store, key, lockWaitMs = 10_000 } = this.#options;
    const deadline = Date.now() + lockWaitMs;
    for (;;) {
      const stored = await getJson<CachedToken>(store, key);
      if (stored && stored.refreshAt > Date.now()) return this.#remember(stored);
      // The lock outlives the slowest fetch (timeouts × retries), or a second instance could
      // refresh meanwhile and, on an Official Account, invalidate the first one's token.
      const release = await store.lock(`${key}:lock`, Math.max(lockWaitMs, 60_000));
      if (release) {
        try {
          // Someone may have refreshed between our read and our lock.
          const again = await getJson<CachedToken>(store, key);
          if (again && again.refreshAt > Date.now()) return this.#remember(again);
          return this.#remember(await this.#refresh());
        } finally {
          await release();
        }
      }
      if (Date.now() > deadline) throw new Error(`timed out waiting for another instance to refresh the access token (${key})`);
      await sleep(50);
    }
  }

  async #refresh(): Promise<CachedToken> {
    const { store, key, fetch, log, refreshMarginMs = 5 * 60_000 } = this.#options;
    const issued = await fetch();
    const lifetimeMs = issued.expiresIn * 1000;
    // Short-lived tokens (tests) keep at least half their life usable.
    const margin = Math.min(refreshMarginMs, lifetimeMs / 2);
    const cached = { token: issued.accessToken, refreshAt: Date.now() + lifetimeMs - margin };
    await setJson(store, key, cached, lifetimeMs);
    log.info({ key, expiresIn: issued.expiresIn }, 'access token refreshed');
    return cached;
  }

  #remember(cached: CachedToken): string {
    this.#memory = cached;
    return cached.token;
  }
}
