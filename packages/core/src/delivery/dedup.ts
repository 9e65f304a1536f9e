import { setTimeout as sleep } from 'node:timers/promises';
import { MemoryStore } from '../store/memory.ts';
import type { Store } from '../store/types.ts';

const PENDING = '\u0000pending';
/** A mark whose answer (a passive reply) is kept under its answer key, for a short time. */
const ANSWERED = '\u0000answered';
/**
 * How long a passive answer is kept for retries: WeChat retries within ~15 s (three tries, 5 s
 * each). The mark itself lives the dedup TTL; keeping the whole encrypted reply that long cost
 * ~1 KB of memory a message, for nothing but replays, which then get `success`.
 */
export const ANSWER_TTL_MS = 60_000;

/** Where the answer of a dedup mark is kept: `dedup:x` → `dedup-answer:x` (a space of its own). */
export function answerKeyOf(key: string): string {
  return `dedup-answer:${key.startsWith('dedup:') ? key.slice(6) : key}`;
}

/** How long a dedup mark lives when no replay window asks for longer: past WeChat's retries. */
export const DEFAULT_DEDUP_TTL_MS = 5 * 60_000;
/** With the replay window off, marks are the only defence against a replayed callback. */
const NO_WINDOW_DEDUP_TTL_MS = 24 * 3600_000;

/**
 * The dedup TTL for these channels: marks must outlive every replay window, on both sides of
 * now (a timestamp ahead of the clock stays acceptable for two windows after it first came).
 */
export function dedupTtlFor(channels: readonly { readonly replayWindowSeconds?: number | false }[]): number {
  let ttl = DEFAULT_DEDUP_TTL_MS;
  for (const channel of channels) {
    const window = channel.replayWindowSeconds;
    if (window === undefined) continue;
    ttl = Math.max(ttl, window === false ? NO_WINDOW_DEDUP_TTL_MS : 2 * window * 1000 + 60_000);
  }
  return ttl;
}

const FIRST = { first: true } as const;

/** Retries waiting for an in-process delivery's answer. */
interface Waiting {
  readonly response: Promise<string>;
  readonly resolve: (body: string) => void;
}

export type Claim =
  | { readonly first: true }
  /** A retry: `response` is the HTTP body the first delivery answered (or 'success'). */
  | { readonly first: false; readonly response: Promise<string> };

/**
 * WeChat retries a callback it got no answer to in time, with the same MsgId. The first
 * delivery claims the id in the store; a retry (on this instance or another sharing the
 * store) waits for the first one's answer and repeats it, so plugins never run twice.
 */
export class CallbackDedup {
  /**
   * What a retry's `response` is when the first delivery's claim is still pending after the
   * wait: its holder most likely died. Without a durable engine the retry answers `success`;
   * with one, the retry takes the message over.
   */
  static readonly STALE = '\u0000stale';

  /**
   * Deliveries in flight in this process, by key: null until a retry comes and waits for the
   * answer (a promise made only then: nearly every message finishes without one).
   */
  readonly #local = new Map<string, Waiting | null>();
  /**
   * The store, when it is in this process's memory: claims and answers are then recorded at
   * once, without the two async frames and five promises a message the Store interface costs.
   */
  readonly #memory: MemoryStore | undefined;

  /** Told when the store fails to record an answer. */
  onError: ((error: unknown) => void) | undefined;

  constructor(
    private readonly store: Store,
    private readonly ttlMs = DEFAULT_DEDUP_TTL_MS,
    private readonly waitMs = 4_500,
  ) {
    // Only a MemoryStore whose writes are its own: a subclass that overrides them (to count,
    // fail or forward writes) must see every call go through them.
    const own = store instanceof MemoryStore && store.set === MemoryStore.prototype.set && store.setIfAbsent === MemoryStore.prototype.setIfAbsent;
    this.#memory = own ? store : undefined;
  }

  /** Claims `key` for this delivery; synchronous when the store is in memory. */
  claim(key: string): Claim | Promise<Claim> {
    const inProcess = this.#local.get(key);
    if (inProcess !== undefined) return { first: false, response: (inProcess ?? this.#wait(key)).response };
    if (this.#memory) return this.#claimed(key, this.#memory.setIfAbsentNow(key, PENDING, this.ttlMs));
    return this.store.setIfAbsent(key, PENDING, this.ttlMs).then((first) => this.#claimed(key, first));
  }

  #claimed(key: string, first: boolean): Claim {
    if (!first) return { first: false, response: this.#waitForStored(key) };
    this.#local.set(key, null);
    return FIRST;
  }

  /** A retry waits for the in-process delivery of `key`. */
  #wait(key: string): Waiting {
    let resolve!: (body: string) => void;
    const response = new Promise<string>((r) => (resolve = r));
    const waiting = { response, resolve };
    this.#local.set(key, waiting);
    return waiting;
  }

  /**
   * Records the answer of the first delivery for its retries. Never throws (nor rejects): a
   * store failure is reported through `onError` and in-process retries still get the answer.
   * Synchronous (returns undefined) when the store is in memory.
   */
  complete(key: string, body: string): Promise<void> | undefined {
    const memory = this.#memory;
    if (!memory) return this.#completeStored(key, body);
    try {
      if (body === 'success') memory.setNow(key, body, this.ttlMs);
      else {
        memory.setNow(answerKeyOf(key), body, ANSWER_TTL_MS);
        memory.setNow(key, ANSWERED, this.ttlMs);
      }
    } catch (error) {
      this.onError?.(error);
    } finally {
      this.#answered(key, body);
    }
    return undefined;
  }

  /** Retries in this process get the answer; the in-flight entry goes. */
  #answered(key: string, body: string): void {
    this.#local.get(key)?.resolve(body);
    this.#local.delete(key);
  }

  async #completeStored(key: string, body: string): Promise<void> {
    try {
      // Store first: once the in-flight entry is gone, retries read the answer from the store.
      if (body === 'success') await this.store.set(key, body, this.ttlMs);
      else {
        // Both writes leave at once, the answer first (one Redis connection keeps their order):
        // a retry that sees the mark finds the answer.
        const answer = this.store.set(answerKeyOf(key), body, ANSWER_TTL_MS);
        await Promise.all([answer, this.store.set(key, ANSWERED, this.ttlMs)]);
      }
    } catch (error) {
      this.onError?.(error);
    } finally {
      this.#answered(key, body);
    }
  }

  async #waitForStored(key: string): Promise<string> {
    const deadline = Date.now() + this.waitMs;
    for (;;) {
      let value: string | undefined;
      try {
        value = await this.store.get(key);
      } catch {
        return 'success';
      }
      if (value === ANSWERED) {
        try {
          return (await this.store.get(answerKeyOf(key))) ?? 'success';
        } catch {
          return 'success';
        }
      }
      if (value !== undefined && value !== PENDING) return value;
      if (value === undefined) return 'success';
      if (Date.now() >= deadline) return CallbackDedup.STALE;
      await sleep(50);
    }
  }
}
