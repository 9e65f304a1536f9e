/**
 * A bounded set of string keys kept in typed arrays, outside the JavaScript heap: each key is
 * a numbered slot (its characters, its hash, its place in a least-to-most-recent list), found
 * through an open-addressing table. For tables written for every message (callback dedup
 * marks, the answers kept for retries): a Map of strings keeps a key string and an entry per
 * message alive for minutes, which every scavenge copies and promotes and every major GC marks
 * (100 000 marks were ~200 000 objects), and the Map rebuilds its whole table every few tens of
 * thousands of deletes. Here a key costs no object: its characters are copied into the slot.
 *
 * Keys of Latin-1 characters up to {@link KEY_CHARS} long (dedup keys: `dedup:<channel>:<MsgId>`)
 * are stored as bytes; any other key is kept as its string in a side array (rare, and only as
 * costly as before). Callers keep what a slot holds (values, times) in arrays of their own,
 * indexed by slot; a slot is reused once its key is removed.
 */

/** Characters of a key stored in its slot; longer (or non-Latin-1) keys are kept as strings. */
export const KEY_CHARS = 80;
/** `#lengths` value of a slot whose key is kept as a string in `#spilled`. */
const SPILLED = 0xff;
/** Slots the table starts with; it doubles up to its capacity as keys come. */
const FIRST_SLOTS = 256;

export class FlatKeys {
  /** The most keys held; `add` past it is the caller's to prevent (see {@link FlatKeys.full}). */
  readonly capacity: number;
  #slots = 0;
  /** Slots in use. */
  #size = 0;
  /** Slots handed out so far (those below are in use or on the free list). */
  #used = 0;
  /** A removed slot to reuse, linked through `#next`; -1 when none. */
  #free = -1;
  #chars = new Uint8Array(0);
  #lengths = new Uint8Array(0);
  #hashes = new Int32Array(0);
  /** Least to most recent: `#older[slot]` / `#newer[slot]`, -1 at the ends. */
  #older = new Int32Array(0);
  #newer = new Int32Array(0);
  #oldest = -1;
  #newest = -1;
  /** Keys not stored as bytes, by slot. */
  #spilled: (string | undefined)[] = [];
  /** Open addressing, linear probing: slot + 1, 0 where empty. Twice the slots or more. */
  #table = new Int32Array(0);
  #mask = 0;

  /** `onGrow(slots)`: the caller's per-slot arrays must now hold `slots` entries (copying theirs). */
  constructor(
    capacity: number,
    private readonly onGrow: (slots: number) => void,
  ) {
    if (!(capacity >= 1)) throw new Error('FlatKeys capacity must be at least 1');
    this.capacity = Math.floor(capacity);
  }

  get size(): number {
    return this.#size;
  }

  /** Whether `add` needs a key removed first. */
  get full(): boolean {
    return this.#size >= this.capacity;
  }

  /** The least recent slot, or -1 when empty. */
  get oldest(): number {
    return this.#oldest;
  }

  /** The slot after `slot` towards the most recent, or -1. */
  newerThan(slot: number): number {
    return this.#newer[slot]!;
  }

  /** The slot of `key`, or -1. */
  find(key: string): number {
    if (this.#size === 0) return -1;
    const hash = hashOf(key);
    const table = this.#table;
    const mask = this.#mask;
    for (let i = hash & mask; ; i = (i + 1) & mask) {
      const slot = table[i]! - 1;
      if (slot < 0) return -1;
      if (this.#hashes[slot] === hash && this.#holds(slot, key)) return slot;
    }
  }

  /** Adds `key` (absent, and not {@link FlatKeys.full}) as the most recent; returns its slot. */
  add(key: string): number {
    if (this.#size >= this.capacity) throw new Error('FlatKeys is full');
    let slot = this.#free;
    if (slot >= 0) this.#free = this.#next(slot);
    else {
      if (this.#used === this.#slots) this.#grow();
      slot = this.#used++;
    }
    const hash = hashOf(key);
    this.#hashes[slot] = hash;
    const n = key.length;
    let bytes = n <= KEY_CHARS;
    if (bytes) {
      const at = slot * KEY_CHARS;
      const chars = this.#chars;
      for (let i = 0; i < n; i++) {
        const c = key.charCodeAt(i);
        if (c > 0xff) {
          bytes = false;
          break;
        }
        chars[at + i] = c;
      }
    }
    if (bytes) this.#lengths[slot] = n;
    else {
      this.#lengths[slot] = SPILLED;
      this.#spilled[slot] = key;
    }
    this.#link(slot);
    const table = this.#table;
    const mask = this.#mask;
    let i = hash & mask;
    while (table[i] !== 0) i = (i + 1) & mask;
    table[i] = slot + 1;
    this.#size++;
    return slot;
  }

  /** Removes the key of `slot` (in use); the slot is reused by a later `add`. */
  remove(slot: number): void {
    const table = this.#table;
    const mask = this.#mask;
    let i = this.#hashes[slot]! & mask;
    while (table[i] !== slot + 1) i = (i + 1) & mask;
    // Backward-shift deletion: entries after the hole that probed past it move back into it,
    // so lookups never need tombstones.
    for (let j = (i + 1) & mask; table[j] !== 0; j = (j + 1) & mask) {
      const home = this.#hashes[table[j]! - 1]! & mask;
      // Whether `home` lies cyclically outside (i, j]: the entry at j may fill the hole at i.
      if (i <= j ? home <= i || home > j : home <= i && home > j) {
        table[i] = table[j]!;
        i = j;
      }
    }
    table[i] = 0;
    this.#unlink(slot);
    if (this.#lengths[slot] === SPILLED) this.#spilled[slot] = undefined;
    this.#newer[slot] = this.#free; // the free list goes through `#newer`
    this.#free = slot;
    this.#size--;
  }

  /** Makes `slot` the most recent. */
  touch(slot: number): void {
    if (this.#newest === slot) return;
    this.#unlink(slot);
    this.#link(slot);
  }

  /** The key of `slot` (tests, diagnostics). */
  keyOf(slot: number): string {
    const n = this.#lengths[slot]!;
    if (n === SPILLED) return this.#spilled[slot]!;
    const at = slot * KEY_CHARS;
    return String.fromCharCode(...this.#chars.subarray(at, at + n));
  }

  #next(slot: number): number {
    return this.#newer[slot]!;
  }

  #holds(slot: number, key: string): boolean {
    const n = this.#lengths[slot]!;
    if (n === SPILLED) return this.#spilled[slot] === key;
    if (n !== key.length) return false;
    const chars = this.#chars;
    const at = slot * KEY_CHARS;
    for (let i = 0; i < n; i++) if (chars[at + i] !== key.charCodeAt(i)) return false;
    return true;
  }

  #link(slot: number): void {
    this.#older[slot] = this.#newest;
    this.#newer[slot] = -1;
    if (this.#newest >= 0) this.#newer[this.#newest] = slot;
    else this.#oldest = slot;
    this.#newest = slot;
  }

  #unlink(slot: number): void {
    const older = this.#older[slot]!;
    const newer = this.#newer[slot]!;
    if (older >= 0) this.#newer[older] = newer;
    else this.#oldest = newer;
    if (newer >= 0) this.#older[newer] = older;
    else this.#newest = older;
  }

  /** Twice the slots (up to the capacity), the table rebuilt at twice that or more. */
  #grow(): void {
    const slots = Math.min(this.capacity, Math.max(FIRST_SLOTS, this.#slots * 2));
    const grown = <T extends Uint8Array | Int32Array>(old: T, make: (n: number) => T, per = 1): T => {
      const next = make(slots * per);
      next.set(old);
      return next;
    };
    this.#chars = grown(this.#chars, (n) => new Uint8Array(n), KEY_CHARS);
    this.#lengths = grown(this.#lengths, (n) => new Uint8Array(n));
    this.#hashes = grown(this.#hashes, (n) => new Int32Array(n));
    this.#older = grown(this.#older, (n) => new Int32Array(n));
    this.#newer = grown(this.#newer, (n) => new Int32Array(n));
    this.#slots = slots;
    let size = 4;
    while (size < slots * 2) size *= 2;
    if (size !== this.#table.length) {
      const table = new Int32Array(size);
      const mask = size - 1;
      for (let slot = this.#oldest; slot >= 0; slot = this.#newer[slot]!) {
        let i = this.#hashes[slot]! & mask;
        while (table[i] !== 0) i = (i + 1) & mask;
        table[i] = slot + 1;
      }
      this.#table = table;
      this.#mask = mask;
    }
    this.onGrow(slots);
  }
}

/**
 * The last key hashed and its hash: a message's key is looked up and then added, in the marks
 * and again in the answers, so it is hashed once instead of five times (V8 keeps a string's
 * own hash for its Maps; this one is ours to keep).
 */
let lastKey: string | undefined;
let lastHash = 0;

/** FNV-1a over the UTF-16 code units, mixed at the end so the low bits (the table's index) spread. */
function hashOf(key: string): number {
  if (key === lastKey) return lastHash;
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193);
  h ^= h >>> 15;
  h = Math.imul(h, 0x2c1b3c6d);
  h ^= h >>> 13;
  lastKey = key;
  lastHash = h;
  return h;
}
