import type { Logger } from 'pino';
import type { Store } from './types.ts';

/** A lock held with a heartbeat. */
export interface HeldLock {
  /** Stops the heartbeat and releases the lock (never throws: a failed release just expires). */
  release(): Promise<void>;
  /** True once a renewal found the lock gone (it expired: another holder may have it now). */
  readonly lost: boolean;
}

/**
 * Takes `key` with a short TTL and renews it every third of the TTL while held, so a holder
 * that dies (kill -9, a frozen VM) frees the lock within `ttlMs`, yet slow work keeps it.
 * Returns undefined when someone else holds it. A store whose locks cannot be renewed is
 * held for `ttlMs` only (a warning says so once).
 */
export async function holdLock(store: Store, key: string, ttlMs: number, log: Logger): Promise<HeldLock | undefined> {
  const release = await store.lock(key, ttlMs);
  if (!release) return undefined;
  let lost = false;
  let timer: NodeJS.Timeout | undefined;
  if (release.renew) {
    const renew = release.renew;
    timer = setInterval(
      () => {
        renew(ttlMs).then(
          (held) => {
            if (held || lost) return;
            lost = true;
            clearInterval(timer);
            log.warn({ lock: key }, 'lock expired while held (its renewals were late): another instance may hold it now');
          },
          (error: unknown) => log.warn({ lock: key, err: error }, 'lock renewal failed; it expires unless a later one succeeds'),
        );
      },
      Math.max(10, Math.floor(ttlMs / 3)),
    );
    timer.unref();
  } else if (!warnedNoRenew.has(store)) {
    warnedNoRenew.add(store);
    log.warn({ lock: key }, 'this store cannot renew locks: they are held for their TTL only');
  }
  return {
    get lost() {
      return lost;
    },
    async release() {
      clearInterval(timer);
      try {
        await release();
      } catch (error) {
        log.warn({ lock: key, err: error }, 'lock release failed; it expires on its own');
      }
    },
  };
}

const warnedNoRenew = new WeakSet<Store>();
