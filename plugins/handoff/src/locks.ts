import type { Store } from '@wxbot/core';

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Serializes read-modify-write of one store key: in this process through a promise chain
 * (no polling), across instances through `store.lock`. A lock that cannot be had within
 * `waitMs` (a crashed holder, a slow store) is given up on and the work runs anyway: losing
 * the order of two updates is better than losing a customer's message.
 */
export class KeyedLocks {
  readonly #chains = new Map<string, Promise<unknown>>();

  constructor(
    private readonly store: Store,
    private readonly options: { ttlMs: number; waitMs: number } = { ttlMs: 15_000, waitMs: 3_000 },
  ) {}

  /** Runs `work` while holding the lock of `key`. */
  run<T>(key: string, work: () => Promise<T>): Promise<T> {
    const previous = this.#chains.get(key) ?? Promise.resolve();
    const result = previous.then(() => this.#withStoreLock(key, work));
    const tail = result.catch(() => undefined);
    this.#chains.set(key, tail);
    void tail.then(() => {
      if (this.#chains.get(key) === tail) this.#chains.delete(key);
    });
    return result;
  }

  async #withStoreLock<T>(key: string, work: () => Promise<T>): Promise<T> {
    const deadline = Date.now() + this.options.waitMs;
    let release: (() => Promise<void>) | undefined;
    for (let delay = 5; ; delay = Math.min(delay * 2, 50)) {
      release = await this.store.lock(`handoff:lock:${key}`, this.options.ttlMs);
      if (release || Date.now() >= deadline) break;
      await sleep(delay + Math.random() * delay);
    }
    try {
      return await work();
    } finally {
      await release?.().catch(() => undefined);
    }
  }
}
