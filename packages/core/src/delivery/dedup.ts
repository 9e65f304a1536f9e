import { setTimeout as sleep } from 'node:timers/promises';
import { DEFAULT_MEMORY_SPACES, MemoryStore } from '../store/memory.ts';
import type { Store } from '../store/types.ts';
import { AnswerRing, NOT_KEPT } from './answers.ts';
import { Claims } from './claims.ts';
import { Marks, NO_MARK, SUCCESS_MARK, hashOf } from './marks.ts';

const PENDING = '\u0000pending';
/**
 * A mark whose answer (a passive reply) is kept for a short time: under its answer key in the
 * store, or beside a MemoryStore (its place in an AnswerRing, see {@link MemoryDedup}).
 */
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

/**
 * The dedup mark of a channel's message: `dedup:{channel:msgid}`, its answer's then
 * `dedup-answer:{channel:msgid}` ({@link answerKeyOf}). Redis Cluster hashes only what is between
 * the first braces of a key, so both keys of a message share a slot: the one script that writes
 * them (Store.setMany) and the MGET that reads them are refused (CROSSSLOT) across slots. One flat
 * string (join writes its parts into one; a template would be a rope, flattened by the first
 * hash), held only while its delivery is in flight: a MemoryStore's marks copy its characters
 * into a byte ring (see Marks), other stores copy it (owned) or send it.
 */
export function dedupKeyOf(channel: string, messageId: string): string {
  return ['dedup:{', channel, ':', messageId, '}'].join('');
}

/**
 * The hash a MemoryStore's dedup state files `key` under (see Marks): made once a delivery by
 * its caller and given to `claim` and `complete` (~45 characters hashed once, not twice).
 */
export function keyHashOf(key: string): number {
  return hashOf(key);
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

function newWaiting(): Waiting {
  let resolve!: (body: string) => void;
  const response = new Promise<string>((r) => (resolve = r));
  return { response, resolve };
}

/**
 * The bytes the answers kept for retries over one MemoryStore take at most (besides the
 * store's `dedup-answer:` size, a count, 100 000 by default). WeChat retries 5–15 s after a
 * callback; at 5 000 new messages a second, 64 MiB holds ~18 s of the default bot's safe-mode
 * answers (~0.7 KB each with its record's header; the count, 20 s, bounds its ~0.4 KB plain
 * ones first). A quieter bot's ring stays at what 60 s of its answers take: a chunk is added
 * only while the one it would overwrite holds an answer inside ANSWER_TTL_MS (see AnswerRing).
 */
export const ANSWER_BUDGET_BYTES = 64 * 1024 * 1024;

/**
 * The dedup state of one MemoryStore, shared by every CallbackDedup over it (bots of one process).
 * No other process sees that store, so it is kept beside it, not in it: a message in flight is
 * its in-flight entry, then its mark, for the dedup TTL, a slot of `marks` and, for a passive
 * answer, bytes of `answers` (typed arrays and byte chunks: nothing a message on the JS heap).
 */
interface MemoryDedup {
  /** Deliveries in flight, by key: null until a retry waits for the answer (see CallbackDedup's `#local`). */
  readonly inFlight: Claims<Waiting | null>;
  /** Marks of the deliveries that answered, at most the store's `dedup:` space size. */
  readonly marks: Marks;
  /** Their passive answers, ANSWER_TTL_MS each, at most the store's `dedup-answer:` size and ANSWER_BUDGET_BYTES. */
  readonly answers: AnswerRing;
}

const memoryDedups = new WeakMap<MemoryStore, MemoryDedup>();

function memoryDedupOf(store: MemoryStore, ttlMs: number): MemoryDedup {
  let state = memoryDedups.get(store);
  if (!state) {
    const max = (prefix: string) => store.limitOf(prefix) ?? DEFAULT_MEMORY_SPACES[prefix]!;
    const marks = new Marks(ttlMs, max('dedup:'), store.fullWarningOf('dedup:'));
    state = { inFlight: new Claims(), marks, answers: new AnswerRing(ANSWER_TTL_MS, max('dedup-answer:'), ANSWER_BUDGET_BYTES) };
    memoryDedups.set(store, state);
  }
  // Bots of different TTLs over one store: the marks live the longest.
  state.marks.ttlAtLeast(ttlMs);
  return state;
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
   * answer (a promise made only then: nearly every message finishes without one). Over a
   * MemoryStore, its MemoryDedup's `inFlight` instead (shared by every dedup over the store).
   */
  readonly #local = new Map<string, Waiting | null>();
  /**
   * The dedup state of the store, when it is in this process's memory: claims and answers are
   * then recorded at once, without the two async frames and five promises a message the Store
   * interface costs, beside the store (see {@link MemoryDedup}): a claim is its in-flight entry,
   * an answer one mark (and the body's bytes).
   */
  readonly #memory: MemoryDedup | undefined;

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
    this.#memory = own ? memoryDedupOf(store, ttlMs) : undefined;
  }

  /**
   * Claims `key` ({@link dedupKeyOf}) for this delivery; synchronous when the store is in memory.
   * `hash`: {@link keyHashOf} the key, when the caller has it (it gives it to `complete` too).
   * The key is kept as given while the delivery is in flight: a string of its own (see
   * owned.ts), not one built from a message's fields, which would keep the message alive.
   */
  claim(key: string, hash?: number): Claim | Promise<Claim> {
    const memory = this.#memory;
    if (memory) {
      // One hash of the key for its claim and its mark: the caller's, when it keeps it for `complete`.
      hash ??= hashOf(key);
      const inProcess = memory.inFlight.get(key, hash);
      if (inProcess === null) {
        const waiting = newWaiting();
        memory.inFlight.set(key, hash, waiting);
        return { first: false, response: waiting.response };
      }
      if (inProcess !== undefined) return { first: false, response: inProcess.response };
      const mark = memory.marks.get(key, hash);
      if (mark === NO_MARK) {
        memory.inFlight.set(key, hash, null);
        return FIRST;
      }
      return { first: false, response: Promise.resolve(mark === SUCCESS_MARK ? 'success' : (memory.answers.read(mark) ?? 'success')) };
    }
    const inProcess = this.#local.get(key);
    if (inProcess !== undefined) return { first: false, response: (inProcess ?? this.#wait(key)).response };
    return this.store.setIfAbsent(key, PENDING, this.ttlMs).then((first) => this.#claimed(key, first));
  }

  #claimed(key: string, first: boolean): Claim {
    if (!first) return { first: false, response: this.#waitForStored(key) };
    this.#local.set(key, null);
    return FIRST;
  }

  /** A retry waits for the in-process delivery of `key`. */
  #wait(key: string): Waiting {
    const waiting = newWaiting();
    this.#local.set(key, waiting);
    return waiting;
  }

  /**
   * Records the answer of the first delivery for its retries. Never throws (nor rejects): a
   * store failure is reported through `onError` and in-process retries still get the answer.
   * Synchronous (returns undefined) when the store is in memory. `hash`: as given to `claim`.
   */
  complete(key: string, body: string, hash?: number): Promise<void> | undefined {
    const memory = this.#memory;
    if (!memory) return this.#completeStored(key, body);
    hash ??= hashOf(key);
    try {
      // The mark holds its answer's place; one not kept (longer than a chunk) reads as
      // `success`, as one past its time. Its claim found no mark.
      const place = body === 'success' ? NOT_KEPT : memory.answers.write(body);
      memory.marks.set(key, place === NOT_KEPT ? SUCCESS_MARK : place, hash);
    } catch (error) {
      this.onError?.(error);
    } finally {
      // Retries in this process get the answer; the claim goes.
      memory.inFlight.delete(key, hash)?.resolve(body);
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
      else if (this.store.setMany) {
        // One request (RedisStore: one command) writes both, all or none: a retry that sees the mark finds the answer.
        await this.store.setMany([
          { key: answerKeyOf(key), value: body, ttlMs: ANSWER_TTL_MS },
          { key, value: ANSWERED, ttlMs: this.ttlMs },
        ]);
      } else {
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
    // A store that reads several keys in one request reads the answer with the mark: one round trip a look.
    const withAnswer = this.#memory === undefined && this.store.getMany !== undefined ? [key, answerKeyOf(key)] : undefined;
    for (;;) {
      let value: string | undefined;
      try {
        if (withAnswer) {
          const [mark, answer] = await this.store.getMany!(withAnswer);
          if (mark === ANSWERED) return answer ?? 'success';
          value = mark;
        } else value = await this.store.get(key);
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
