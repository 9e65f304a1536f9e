import { movesIntoHole } from './probing.ts';

/** What {@link Marks.get} says of a key with no live mark: a new message. */
export const NO_MARK = -2;
/** The value of a mark whose message was answered `success` (or whose answer was not kept). */
export const SUCCESS_MARK = -1;

/** A mark replaced by a newer one of its key (an expired mark written again): in no index slot. */
const REPLACED = -1;
/** Slots a table starts with (8 KB of slots, 2 KB of index): a bot that gets ten messages allocates no more. */
const FIRST_SLOTS = 256;
/** Bytes of keys it starts with: ~360 keys of the ~45 characters of `dedup:{officialAccount:<19 digits>}`. */
const FIRST_KEY_BYTES = 16 * 1024;
/** Marks dropped at most from the front, expired, for each one written: the table shrinks as traffic falls, a write stays cheap. */
const EXPIRED_DROPPED_A_WRITE = 2;

/**
 * The callback dedup's marks over a MemoryStore: for each message answered, by its key, what it
 * was answered (`success`, or where its answer is kept: see AnswerRing), for the dedup TTL, at
 * most `max` marks, the oldest dropped first. Nothing of it is a JavaScript object per mark:
 * with a key string and a Map entry each (~150 B) kept minutes, every mark survived two
 * scavenges, was promoted and died in the old generation, whose mark-compacts then came 3–7
 * times per 10 s at 4 750 new messages a second (bench/tail.ts), against none for bare Koa.
 * Here a mark is a slot of typed arrays and its key's characters bytes of a ring, which the
 * collector never copies nor scans:
 *
 * - Slots in write order, a ring (its size a power of two): a mark is written once, when its
 *   delivery answers, so the oldest is at the front; past `max` it goes from there, and expired
 *   ones go from there as new ones come. Each holds its key's hash, where its key's bytes are,
 *   the second it was written, and its answer's place.
 * - An index, open addressing with linear probing (twice the slots: at most half full), holds
 *   slot numbers by key hash; a dropped slot leaves it by backward shifting, no tombstones.
 * - The keys' characters in a byte ring, in the slots' order: one byte each when all are below
 *   256 (a channel name and a MsgId of digits: ~45 bytes a key), two otherwise. Compared
 *   exactly with the key looked up (a false match would drop a genuinely new message).
 *
 * Everything starts small (~26 KB) and doubles when the marks inside their TTL need it, up to
 * `max` marks (100 000 by default: ~4.7 MB of slots and index and 8 MiB of key bytes, off the
 * JS heap, where the Map and key strings were ~15 MB on it).
 */
export class Marks {
  #ttlSeconds: number;
  /** Slots: a ring by sequence number (slot = sequence & mask). */
  #hashes = new Int32Array(FIRST_SLOTS);
  /** The second a mark was written ({@link REPLACED} once a newer mark of its key was). */
  #seconds = new Int32Array(FIRST_SLOTS);
  /** The absolute offset of its key's bytes in `#keys`. */
  #keyAt = new Float64Array(FIRST_SLOTS);
  /** Its key's length in characters, times two, plus one when they are two bytes each. */
  #keyShape = new Int32Array(FIRST_SLOTS);
  /** Its answer's place (AnswerRing), or SUCCESS_MARK. */
  #answers = new Float64Array(FIRST_SLOTS);
  /** Slot + 1 by hash (0: empty). */
  #index = new Int32Array(FIRST_SLOTS * 2);
  /** Sequence number of the oldest mark kept, and of the next one. */
  #first = 0;
  #next = 0;
  #replaced = 0;
  #keys = new Uint8Array(FIRST_KEY_BYTES);
  /** Absolute offset where the next key's bytes go. */
  #keyHead = 0;

  /**
   * @param onEarlyEviction called when a mark still inside the TTL is dropped for room (a table
   *   too small for the traffic: a replay could slip through); cheap, as it may come often.
   */
  constructor(
    ttlMs: number,
    readonly max: number,
    private readonly onEarlyEviction?: () => void,
  ) {
    this.#ttlSeconds = Math.ceil(ttlMs / 1000);
  }

  /** Marks live at least `ttlMs` from now on, those already written too (one store shared by bots of different TTLs: the longest asked for is every mark's). */
  ttlAtLeast(ttlMs: number): void {
    this.#ttlSeconds = Math.max(this.#ttlSeconds, Math.ceil(ttlMs / 1000));
  }

  /** Marks kept, expired ones not yet dropped included. */
  get size(): number {
    return this.#next - this.#first - this.#replaced;
  }

  /** Bytes the marks' arrays take (they only grow): for tests and figures. */
  get bytes(): number {
    return this.#hashes.length * 28 + this.#index.byteLength + this.#keys.byteLength;
  }

  /** {@link NO_MARK} (none, or expired), {@link SUCCESS_MARK}, or the place of the key's answer (`hash`: {@link hashOf} the key, when the caller has it). */
  get(key: string, hash = hashOf(key)): number {
    const slot = this.#find(key, hash);
    if (slot < 0 || this.#expired(this.#seconds[slot]!, nowSeconds())) return NO_MARK;
    return this.#answers[slot]!;
  }

  /** Records the mark of `key` (after a `get` found none: its delivery answered): `answer` is {@link SUCCESS_MARK} or its place. */
  set(key: string, answer: number, hash = hashOf(key)): void {
    if (this.max < 1) return;
    const now = nowSeconds();
    for (let i = 0; i < EXPIRED_DROPPED_A_WRITE && this.#next > this.#first && this.#frontExpired(now); i++) this.#dropFront();
    if (this.#next - this.#first >= this.max) {
      if (!this.#frontExpired(now)) this.onEarlyEviction?.();
      this.#dropFront();
    } else if (this.#next - this.#first === this.#hashes.length) this.#growSlots();
    const twoByte = needsTwoBytes(key);
    this.#makeKeyRoom(twoByte ? key.length * 2 : key.length, now);

    const slot = this.#next & (this.#hashes.length - 1);
    this.#hashes[slot] = hash;
    this.#seconds[slot] = now;
    this.#answers[slot] = answer;
    this.#keyAt[slot] = this.#keyHead;
    this.#keyShape[slot] = key.length * 2 + (twoByte ? 1 : 0);
    this.#keyHead += this.#writeKey(key, twoByte);
    this.#next++;
    // The index slot of an older mark of this key (expired: a live one would have been found
    // by the claim) now names the new one; the old stays in the ring until it reaches the front.
    const at = this.#probe(key, hash);
    const older = this.#index[at]! - 1;
    if (older >= 0) {
      this.#seconds[older] = REPLACED;
      this.#replaced++;
    }
    this.#index[at] = slot + 1;
  }

  #expired(second: number, now: number): boolean {
    return second === REPLACED || now - second > this.#ttlSeconds;
  }

  #frontExpired(now: number): boolean {
    return this.#expired(this.#seconds[this.#first & (this.#hashes.length - 1)]!, now);
  }

  /** The slot of `key`'s mark, expired or not, or -1. */
  #find(key: string, hash: number): number {
    return this.#index[this.#probe(key, hash)]! - 1;
  }

  /** The index slot holding `key`'s mark, or the empty one where it would go. */
  #probe(key: string, hash: number): number {
    const index = this.#index;
    const mask = index.length - 1;
    for (let at = hash & mask; ; at = (at + 1) & mask) {
      const slot = index[at]! - 1;
      if (slot < 0 || (this.#hashes[slot] === hash && this.#keyIs(slot, key))) return at;
    }
  }

  /** Whether the key of `slot` is `key`, character for character. */
  #keyIs(slot: number, key: string): boolean {
    const shape = this.#keyShape[slot]!;
    if (shape >> 1 !== key.length) return false;
    const keys = this.#keys;
    const mask = keys.length - 1;
    const at = ringPosition(this.#keyAt[slot]!, keys.length);
    if (shape & 1) {
      for (let i = 0; i < key.length; i++) {
        const p = at + 2 * i;
        if ((keys[p & mask]! | (keys[(p + 1) & mask]! << 8)) !== key.charCodeAt(i)) return false;
      }
    } else {
      for (let i = 0; i < key.length; i++) if (keys[(at + i) & mask] !== key.charCodeAt(i)) return false;
    }
    return true;
  }

  /** Writes `key`'s characters at the head (room made): the bytes written. */
  #writeKey(key: string, twoByte: boolean): number {
    const keys = this.#keys;
    const mask = keys.length - 1;
    const at = ringPosition(this.#keyHead, keys.length);
    if (twoByte) {
      for (let i = 0; i < key.length; i++) {
        const code = key.charCodeAt(i);
        keys[(at + 2 * i) & mask] = code;
        keys[(at + 2 * i + 1) & mask] = code >> 8;
      }
      return key.length * 2;
    }
    for (let i = 0; i < key.length; i++) keys[(at + i) & mask] = key.charCodeAt(i);
    return key.length;
  }

  /** Room for `bytes` more at the keys' head: expired marks at the front go, or the ring doubles. */
  #makeKeyRoom(bytes: number, now: number): void {
    for (;;) {
      const empty = this.#next === this.#first;
      const tail = empty ? this.#keyHead : this.#keyAt[this.#first & (this.#hashes.length - 1)]!;
      if (this.#keyHead + bytes - tail <= this.#keys.length) return;
      if (!empty && this.#frontExpired(now)) this.#dropFront();
      else {
        const grown = new Uint8Array(this.#keys.length * 2);
        copyRing(this.#keys, grown, tail, this.#keyHead);
        this.#keys = grown;
      }
    }
  }

  #dropFront(): void {
    const slot = this.#first & (this.#hashes.length - 1);
    this.#first++;
    if (this.#seconds[slot] === REPLACED) this.#replaced--;
    else this.#unindex(slot);
  }

  /** Takes `slot` out of the index, moving later entries of its probe run back (linear probing's deletion). */
  #unindex(slot: number): void {
    const index = this.#index;
    const mask = index.length - 1;
    let hole = this.#hashes[slot]! & mask;
    while (index[hole] !== slot + 1) hole = (hole + 1) & mask;
    for (let at = (hole + 1) & mask; index[at] !== 0; at = (at + 1) & mask) {
      if (movesIntoHole(this.#hashes[index[at]! - 1]! & mask, hole, at)) {
        index[hole] = index[at]!;
        hole = at;
      }
    }
    index[hole] = 0;
  }

  /** Twice the slots (the index too), the marks at their sequence numbers' new slots. */
  #growSlots(): void {
    const size = this.#hashes.length * 2;
    const hashes = new Int32Array(size);
    const seconds = new Int32Array(size);
    const keyAt = new Float64Array(size);
    const keyShape = new Int32Array(size);
    const answers = new Float64Array(size);
    const index = new Int32Array(size * 2);
    const oldMask = this.#hashes.length - 1;
    const mask = size - 1;
    const indexMask = index.length - 1;
    for (let sequence = this.#first; sequence < this.#next; sequence++) {
      const from = sequence & oldMask;
      const to = sequence & mask;
      hashes[to] = this.#hashes[from]!;
      seconds[to] = this.#seconds[from]!;
      keyAt[to] = this.#keyAt[from]!;
      keyShape[to] = this.#keyShape[from]!;
      answers[to] = this.#answers[from]!;
      if (seconds[to] === REPLACED) continue;
      let at = hashes[to]! & indexMask;
      while (index[at] !== 0) at = (at + 1) & indexMask;
      index[at] = to + 1;
    }
    this.#hashes = hashes;
    this.#seconds = seconds;
    this.#keyAt = keyAt;
    this.#keyShape = keyShape;
    this.#answers = answers;
    this.#index = index;
  }
}

/** Whether a character of `key` is above 255 (its bytes then two a character). */
function needsTwoBytes(key: string): boolean {
  for (let i = 0; i < key.length; i++) if (key.charCodeAt(i) > 255) return true;
  return false;
}

/** FNV-1a over the UTF-16 code units, then mixed (murmur3's finaliser) so the low bits the index uses vary with every character. */
export function hashOf(key: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) hash = Math.imul(hash ^ key.charCodeAt(i), 0x01000193);
  hash ^= hash >>> 16;
  hash = Math.imul(hash, 0x85ebca6b);
  hash ^= hash >>> 13;
  return hash;
}

/** Seconds on the monotonic clock: a small integer. */
export function nowSeconds(): number {
  return Math.floor(performance.now() / 1000);
}

/** The position in a ring of `size` bytes of absolute offset `at` (`%`, not `&`: offsets pass 2^31 after hours). */
function ringPosition(at: number, size: number): number {
  return at % size;
}

/**
 * Copies `from`'s bytes between absolute offsets `start` and `end` into `to` (twice its size) at
 * the same absolute offsets: each key's bytes are then where its absolute offset says.
 */
function copyRing(from: Uint8Array, to: Uint8Array, start: number, end: number): void {
  for (let at = start; at < end; ) {
    const source = ringPosition(at, from.length);
    const target = ringPosition(at, to.length);
    const length = Math.min(end - at, from.length - source, to.length - target);
    to.set(from.subarray(source, source + length), target);
    at += length;
  }
}
