import { afterEach, describe, expect, it, vi } from 'vitest';
import { Marks, NO_MARK, SUCCESS_MARK, hashOf } from '../src/delivery/marks.ts';
import { seededRandom } from './helpers.ts';

/**
 * Marks against a reference model of its documented semantics, driven by long seeded random
 * sequences: keys of one- and two-byte characters, surrogate pairs, empty and long keys (the
 * key ring grows and wraps), hashes that collide on purpose, TTLs passing, tiny and large `max`.
 *
 * The model: marks in write order; a mark is live while `second(now) - second(written) <= ttl`
 * (whole seconds of the monotonic clock; the TTL the longest `ttlAtLeast` asked, for every
 * mark); a write first drops up to two expired marks from the front, then, at `max` marks,
 * the front one (an early eviction when it is live); a key written again replaces its older
 * mark. Marks' `size` may be below the model's count (expired marks also make room in the key
 * ring, see Marks), never below the live marks.
 */

afterEach(() => vi.useRealTimers());

interface ModelMark {
  readonly key: string;
  readonly second: number;
  readonly answer: number;
  replaced: boolean;
  dropped: boolean;
}

class MarksModel {
  readonly #queue: ModelMark[] = [];
  #front = 0;
  readonly #latest = new Map<string, ModelMark>();
  early = 0;
  /** Bytes of the keys of the marks kept and not replaced (expired included): at least what the live marks' keys need. */
  keptKeyBytes = 0;

  constructor(
    public ttlSeconds: number,
    readonly max: number,
  ) {}

  #expired(mark: ModelMark, now: number): boolean {
    return mark.replaced || now - mark.second > this.ttlSeconds;
  }

  #dropFront(): ModelMark {
    const mark = this.#queue[this.#front++]!;
    mark.dropped = true;
    if (!mark.replaced) this.keptKeyBytes -= keyBytes(mark.key);
    return mark;
  }

  get length(): number {
    return this.#queue.length - this.#front;
  }

  get(key: string, now: number): number {
    const mark = this.#latest.get(key);
    return mark === undefined || mark.dropped || this.#expired(mark, now) ? NO_MARK : mark.answer;
  }

  set(key: string, answer: number, now: number): void {
    if (this.max < 1) return;
    for (let i = 0; i < 2 && this.length > 0 && this.#expired(this.#queue[this.#front]!, now); i++) this.#dropFront();
    if (this.length >= this.max) {
      if (!this.#expired(this.#queue[this.#front]!, now)) this.early++;
      this.#dropFront();
    }
    const older = this.#latest.get(key);
    if (older && !older.dropped) {
      older.replaced = true;
      this.keptKeyBytes -= keyBytes(key);
    }
    this.keptKeyBytes += keyBytes(key);
    const mark = { key, second: now, answer, replaced: false, dropped: false };
    this.#queue.push(mark);
    this.#latest.set(key, mark);
  }

  /** Marks kept that are not replaced (expired included), and the live ones. */
  counts(now: number): { kept: number; live: number } {
    let kept = 0;
    let live = 0;
    for (let i = this.#front; i < this.#queue.length; i++) {
      const mark = this.#queue[i]!;
      if (mark.replaced) continue;
      kept++;
      if (!this.#expired(mark, now)) live++;
    }
    return { kept, live };
  }
}

/** A key's bytes in the key ring, as documented: one a character when all are below 256, else two. */
function keyBytes(key: string): number {
  for (let i = 0; i < key.length; i++) if (key.charCodeAt(i) > 255) return key.length * 2;
  return key.length;
}

const pow2AtLeast = (n: number) => 2 ** Math.ceil(Math.log2(Math.max(1, n)));

/** Keys that look alike: the same low bytes with other high ones, prefixes of each other, empty, long. */
function keyPool(random: () => number, count: number): string[] {
  const pieces = ['', 'a', 'é', 'ÿ', '\u0100', '\u0161', 'a', '消', '息', '😀', '\ud800', '\udfff', '\u0000', '}'];
  const keys = new Set<string>(['', 'a', 'aa', 'é', '\u00e9\u0000', '\u0161', '😀', '\ud83d']);
  while (keys.size < count) {
    const r = random();
    if (r < 0.5) keys.add(`dedup:{officialAccount:${7_200_000_000_000_000_000n + BigInt(Math.floor(random() * count * 4))}}`);
    else if (r < 0.97) {
      let key = 'dedup:{oa:';
      const length = Math.floor(random() * 6);
      for (let i = 0; i < length; i++) key += pieces[Math.floor(random() * pieces.length)];
      keys.add(key);
    } else keys.add(`dedup:{oa:${'长x'[Math.floor(random() * 2)]!.repeat(500 + Math.floor(random() * 12_000))}}`);
  }
  return [...keys];
}

const HASHES: Record<string, (key: string) => number> = {
  real: hashOf,
  fourBuckets: (key) => hashOf(key) & 3,
  allEqual: () => 0x5bd1e995 | 0,
  extremes: (key) => (hashOf(key) & 1 ? -0x80000000 : 0x7fffffff),
  negative: (key) => -1 - (hashOf(key) & 7),
};

interface Run {
  seed: number;
  max: number;
  ttlMs: number;
  keys: number;
  steps: number;
  hash: keyof typeof HASHES;
  /** Marks also written over live ones of their key (a complete() without its claim). */
  liveSets?: boolean;
  /** Marks' memory allocated up front for at most this many slots (default: all of `max`'s). */
  slotsReservedAtMost?: number;
}

function drive({ seed, max, ttlMs, keys: keyCount, steps, hash: hashName, liveSets, slotsReservedAtMost }: Run): void {
  vi.useFakeTimers({ toFake: ['performance'] });
  const random = seededRandom(seed);
  const pick = <T>(from: readonly T[]): T => from[Math.floor(random() * from.length)]!;
  const keys = keyPool(random, keyCount);
  const hash = HASHES[hashName]!;
  let early = 0;
  const marks = new Marks(ttlMs, max, () => early++, slotsReservedAtMost);
  const model = new MarksModel(Math.ceil(ttlMs / 1000), max);
  const second = () => Math.floor(performance.now() / 1000);
  let peakKeyNeed = 0;
  let ttlMsNow = ttlMs;
  const check = (key: string) => {
    const got = marks.get(key, hash(key));
    const want = model.get(key, second());
    if (got !== want) throw new Error(`seed ${seed}: get(${JSON.stringify(key.slice(0, 40))}) = ${got}, model ${want}`);
    return got;
  };
  for (let step = 0; step < steps; step++) {
    const r = random();
    if (r < 0.2) vi.advanceTimersByTime(Math.floor(random() * 400));
    else if (r < 0.205) vi.advanceTimersByTime(Math.floor(random() * 2 * ttlMsNow));
    else if (r < 0.206) {
      ttlMsNow = Math.max(ttlMsNow, Math.floor(random() * 2 * ttlMsNow));
      marks.ttlAtLeast(ttlMsNow);
      model.ttlSeconds = Math.max(model.ttlSeconds, Math.ceil(ttlMsNow / 1000));
    } else if (r < 0.5) check(pick(keys));
    else {
      // A delivery answered: its key had no mark (the claim asked first), as in CallbackDedup.
      const key = pick(keys);
      if (check(key) !== NO_MARK && !(liveSets && random() < 0.2)) continue;
      const answer = random() < 0.3 ? SUCCESS_MARK : 2 ** 26 * (1 + Math.floor(random() * 5000)) + 8 * Math.floor(random() * 1000);
      marks.set(key, answer, hash(key));
      model.set(key, answer, second());
      peakKeyNeed = Math.max(peakKeyNeed, model.keptKeyBytes);
      if (marks.size > Math.max(0, max)) throw new Error(`seed ${seed}: size ${marks.size} past max ${max}`);
      if (max < 100 || step % 64 === 0) {
        const { kept, live } = model.counts(second());
        if (marks.size > kept || marks.size < live) throw new Error(`seed ${seed}: size ${marks.size}, model ${live} live of ${kept}`);
      }
      if (early !== model.early) throw new Error(`seed ${seed}: ${early} early evictions, model ${model.early}`);
    }
    if (step % 2000 === 0) for (const key of keys) check(key);
  }
  for (const key of keys) check(key);
  // Memory bounds: slots (28 B each) and index (8 B a slot) up to `max` marks, key bytes
  // doubled only for the live marks' keys (bounded here by all kept marks' keys).
  const slotBytes = 36 * Math.max(256, pow2AtLeast(max));
  const keyRing = Math.max(16 * 1024, pow2AtLeast(2 * peakKeyNeed));
  expect(marks.bytes).toBeLessThanOrEqual(slotBytes + keyRing);
}

describe('Marks against a reference model (seeded random sequences)', () => {
  const runs: Run[] = [
    { seed: 1, max: 3, ttlMs: 2000, keys: 12, steps: 20_000, hash: 'real' },
    { seed: 2, max: 1, ttlMs: 1000, keys: 6, steps: 5_000, hash: 'allEqual' },
    { seed: 3, max: 0, ttlMs: 1000, keys: 6, steps: 1_000, hash: 'real' },
    { seed: 4, max: 17, ttlMs: 1500, keys: 60, steps: 20_000, hash: 'fourBuckets' },
    { seed: 5, max: 300, ttlMs: 5000, keys: 700, steps: 20_000, hash: 'real' },
    { seed: 6, max: 5000, ttlMs: 3000, keys: 2500, steps: 25_000, hash: 'negative' },
    { seed: 7, max: 40, ttlMs: 10_000, keys: 120, steps: 20_000, hash: 'extremes' },
    { seed: 8, max: 257, ttlMs: 2000, keys: 900, steps: 20_000, hash: 'fourBuckets' },
    { seed: 9, max: 5, ttlMs: 3000, keys: 12, steps: 20_000, hash: 'real', liveSets: true },
    { seed: 10, max: 60, ttlMs: 2000, keys: 200, steps: 20_000, hash: 'fourBuckets', liveSets: true },
    // Memory reserved for 256 marks only: the slots and the keys grow past it into new memory, then in place again.
    { seed: 11, max: 5000, ttlMs: 3000, keys: 2500, steps: 25_000, hash: 'real', slotsReservedAtMost: 256 },
    { seed: 12, max: 700, ttlMs: 5000, keys: 1500, steps: 20_000, hash: 'fourBuckets', slotsReservedAtMost: 256 },
  ];
  it.each(runs)('seed $seed: max $max, TTL $ttlMs ms, $keys keys, hashes $hash', (run) => drive(run));
});
