import { setTimeout as sleep } from 'node:timers/promises';
import { DEFAULT_MEMORY_SPACES, MemoryStore } from '../store/memory.ts';
import { owned } from '../store/owned.ts';
import type { Store } from '../store/types.ts';

const PENDING = '\u0000pending';
/**
 * A mark whose answer (a passive reply) is kept for a short time: under its answer key in the
 * store, or beside a MemoryStore (see {@link KeptAnswers}).
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
 * copy (the id is a view into the message): the dedup keeps it as the mark's key, and each Map
 * it goes through hashes it once.
 */
export function dedupKeyOf(channel: string, messageId: string): string {
  return owned(`dedup:{${channel}:${messageId}}`);
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

/**
 * The passive answers of the callbacks recorded in one MemoryStore, kept for WeChat's retries:
 * each as the HTTP body alone, in UTF-8 bytes (a slice of Node's buffer pool: the bytes live
 * outside the JavaScript heap, which the collector then neither copies nor promotes; a string
 * of the body, two bytes a character for a Chinese reply, was ~0.6 KB a message promoted), under
 * its mark's key, for {@link ANSWER_TTL_MS} to a third more. Nothing of its request stays alive.
 * A retry gets the bytes decoded: what the first answer's bytes on the wire were. Kept in generations
 * of plain Maps, the youngest taking the new answers and the oldest dropped whole, rather than
 * in an LRU with a time to live per key: an answer is one Map entry, with no copy of its key
 * (the mark's own) and no clock or list work, and nothing is deleted one by one but the
 * oldest when there are more than `max` (the store's `dedup-answer:` space size).
 */
export class KeptAnswers {
  static readonly GENERATIONS = 4;
  /** Youngest first. */
  readonly #generations: Map<string, Buffer>[] = [];
  /** How long the youngest generation takes new answers. */
  readonly #spanMs: number;
  /** When the youngest generation began. */
  #since = performance.now();
  #size = 0;
  /** Where eviction goes on in the oldest generation (a Map iterator skips deleted keys cheaply). */
  #evicting: { readonly generation: Map<string, Buffer>; keys: MapIterator<string> } | undefined;

  constructor(
    lifetimeMs: number,
    private readonly max: number,
  ) {
    for (let i = 0; i < KeptAnswers.GENERATIONS; i++) this.#generations.push(new Map());
    // An answer lives while its generation is one of the newest: (GENERATIONS - 1) spans at least.
    this.#spanMs = lifetimeMs / (KeptAnswers.GENERATIONS - 1);
  }

  get size(): number {
    this.#turn();
    return this.#size;
  }

  set(key: string, body: string): void {
    this.#turn();
    const youngest = this.#generations[0]!;
    const before = youngest.size;
    youngest.set(key, Buffer.from(body));
    this.#size += youngest.size - before;
    if (this.#size > this.max) this.#evictOldest();
  }

  get(key: string): string | undefined {
    this.#turn();
    for (const generation of this.#generations) {
      const body = generation.get(key);
      if (body !== undefined) return body.toString();
    }
    return undefined;
  }

  /** Starts a new generation for every span gone by since the youngest began, dropping the oldest. */
  #turn(): void {
    const elapsed = performance.now() - this.#since;
    if (elapsed < this.#spanMs) return;
    const spans = Math.floor(elapsed / this.#spanMs);
    const generations = this.#generations;
    for (let i = 0; i < Math.min(spans, generations.length); i++) {
      this.#size -= generations.pop()!.size;
      generations.unshift(new Map());
    }
    this.#since += spans * this.#spanMs;
    this.#evicting = undefined;
  }

  #evictOldest(): void {
    const generations = this.#generations;
    for (let i = generations.length - 1; i >= 0; i--) {
      const generation = generations[i]!;
      if (generation.size === 0) continue;
      if (this.#evicting?.generation !== generation) this.#evicting = { generation, keys: generation.keys() };
      let next = this.#evicting.keys.next();
      // An iterator that ran out before keys were added to its (youngest) generation.
      if (next.done) next = (this.#evicting.keys = generation.keys()).next();
      generation.delete(next.value!);
      this.#size--;
      return;
    }
  }
}

/** The dedup state of one MemoryStore, shared by every CallbackDedup over it (bots of one process). */
interface MemoryDedup {
  readonly store: MemoryStore;
  /** Deliveries in flight, by key (see CallbackDedup's `#local`). */
  readonly inFlight: Map<string, Waiting | null>;
  readonly answers: KeptAnswers;
}

const memoryDedups = new WeakMap<MemoryStore, MemoryDedup>();

function memoryDedupOf(store: MemoryStore): MemoryDedup {
  let state = memoryDedups.get(store);
  if (!state) {
    const max = store.limitOf('dedup-answer:') ?? DEFAULT_MEMORY_SPACES['dedup-answer:']!;
    memoryDedups.set(store, (state = { store, inFlight: new Map(), answers: new KeptAnswers(ANSWER_TTL_MS, max) }));
  }
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
   * MemoryStore, the store's (shared by every dedup over it): the claim of a delivery in flight.
   */
  readonly #local: Map<string, Waiting | null>;
  /**
   * The store, when it is in this process's memory: claims and answers are then recorded at
   * once, without the two async frames and five promises a message the Store interface costs,
   * and a message costs one write to the store: its claim, while it runs, is its in-flight
   * entry (no other process sees the store), and its answer is kept beside the store.
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
    this.#memory = own ? memoryDedupOf(store) : undefined;
    this.#local = this.#memory?.inFlight ?? new Map();
  }

  /**
   * Claims `key` ({@link dedupKeyOf}) for this delivery; synchronous when the store is in memory.
   * The key is kept as given, as its mark's (and answer's) key: a string of its own (see
   * owned.ts), not one built from a message's fields, which would keep the message alive.
   */
  claim(key: string): Claim | Promise<Claim> {
    const inProcess = this.#local.get(key);
    if (inProcess !== undefined) return { first: false, response: (inProcess ?? this.#wait(key)).response };
    const memory = this.#memory;
    if (memory) {
      const mark = memory.store.getNow(key);
      if (mark === undefined) return this.#claimed(key, true);
      if (mark === PENDING) return this.#claimed(key, false); // written through the Store interface
      return { first: false, response: Promise.resolve(mark === ANSWERED ? (memory.answers.get(key) ?? 'success') : mark) };
    }
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
      // The key as given (its caller's own string, see `claim`) for the mark and the answer;
      // the mark's value a constant, the answer the body's bytes.
      if (body === 'success') memory.store.setOwnNow(key, 'success', this.ttlMs);
      else {
        memory.answers.set(key, body);
        memory.store.setOwnNow(key, ANSWERED, this.ttlMs);
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
        if (this.#memory) return this.#memory.answers.get(key) ?? 'success';
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
