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
/**
 * Slots whose memory is allocated up front at most (2^20: 36 MiB with their index, and 64 MiB of
 * key bytes): past it a table grows by allocating anew, as every table did before.
 */
const RESERVED_SLOTS_MOST = 2 ** 20;
/** Key bytes allocated up front a mark of `max`: the ~45 of a channel name and a MsgId, and room. */
const RESERVED_KEY_BYTES_A_MARK = 64;
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
 * JS heap, where the Map and key strings were ~15 MB on it). The arrays are views of memory
 * allocated once, when the table is made, for `max` marks (two buffers: slots with their
 * index, and key bytes), and grow in place: V8 counts an ArrayBuffer's bytes as external memory
 * whether written or not, and external memory grown since the last mark-compact is counted
 * against the old generation's headroom (and starts one past 64 MiB), so new arrays at every
 * doubling (with the old ones left for a mark-compact to free) started mark-compacts under a
 * fresh bot's load. Pages beyond the views are never written, and the system gives a process a
 * page only when it is first written: the resident memory grows with the views, as before.
 */
export class Marks {
  #ttlSeconds: number;
  /** The memory of the slots and the index (36 bytes a slot), and the slots it holds. */
  #slotMemory: ArrayBuffer;
  #slotRoom: number;
  /** Slots: a ring by sequence number (slot = sequence & mask). */
  #hashes!: Int32Array;
  /** The second a mark was written ({@link REPLACED} once a newer mark of its key was). */
  #seconds!: Int32Array;
  /** The absolute offset of its key's bytes in `#keys`. */
  #keyAt!: Float64Array;
  /** Its key's length in characters, times two, plus one when they are two bytes each. */
  #keyShape!: Int32Array;
  /** Its answer's place (AnswerRing), or SUCCESS_MARK. */
  #answers!: Float64Array;
  /** Slot + 1 by hash (0: empty). */
  #index!: Int32Array;
  /** Sequence number of the oldest mark kept, and of the next one. */
  #first = 0;
  #next = 0;
  #replaced = 0;
  /** A view of `#keyMemory`, from its start. */
  #keys: Uint8Array;
  #keyMemory: ArrayBuffer;
  /** All of `#keyMemory` as a Buffer, for its native Latin-1 write (made again when the memory is). */
  #keyBytes: LatinWrite;
  /** Absolute offset where the next key's bytes go. */
  #keyHead = 0;

  /**
   * @param onEarlyEviction called when a mark still inside the TTL is dropped for room (a table
   *   too small for the traffic: a replay could slip through); cheap, as it may come often.
   * @param slotsReservedAtMost the most slots whose memory is allocated up front (a power of
   *   two; tests lower it to see a table grow past its reserved memory)
   */
  constructor(
    ttlMs: number,
    readonly max: number,
    private readonly onEarlyEviction?: () => void,
    slotsReservedAtMost = RESERVED_SLOTS_MOST,
  ) {
    this.#ttlSeconds = Math.ceil(ttlMs / 1000);
    this.#slotRoom = Math.max(FIRST_SLOTS, Math.min(pow2AtLeast(max), slotsReservedAtMost));
    this.#slotMemory = new ArrayBuffer(this.#slotRoom * 36);
    this.#viewSlots(FIRST_SLOTS);
    this.#keyMemory = new ArrayBuffer(Math.max(FIRST_KEY_BYTES, pow2AtLeast(Math.min(max, this.#slotRoom) * RESERVED_KEY_BYTES_A_MARK)));
    this.#keys = new Uint8Array(this.#keyMemory, 0, FIRST_KEY_BYTES);
    this.#keyBytes = latinWriter(this.#keyMemory);
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

  /** Bytes allocated for them, taken or not: for tests and figures. */
  get reservedBytes(): number {
    return this.#slotMemory.byteLength + this.#keyMemory.byteLength;
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
    // One byte a character: an ASCII key that does not wrap round the ring's end by one native
    // copy; any other checked as it is written (one pass over the key, not a check and a write),
    // and a character above 255 has it written again, two bytes each.
    this.#makeKeyRoom(key.length, now);
    let twoByte = false;
    if (!this.#writeAsciiKey(key) && !this.#writeOneByteKey(key)) {
      twoByte = true;
      this.#makeKeyRoom(key.length * 2, now);
      this.#writeTwoByteKey(key);
    }

    const slot = this.#next & (this.#hashes.length - 1);
    this.#hashes[slot] = hash;
    this.#seconds[slot] = now;
    this.#answers[slot] = answer;
    this.#keyAt[slot] = this.#keyHead;
    this.#keyShape[slot] = key.length * 2 + (twoByte ? 1 : 0);
    this.#keyHead += twoByte ? key.length * 2 : key.length;
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

  /**
   * Writes `key` at the head, a byte each, by one native Latin-1 copy (room made), when all its
   * characters are ASCII (its UTF-8 length is its length: a channel name and a MsgId) and it does
   * not wrap round the ring's end; false otherwise, nothing written. {@link #writeOneByteKey}'s
   * loop over a key's ~45 characters cost ~2k instructions; this ~1k less a mark with its two
   * native calls (bench/coreInstructions.ts dedup). `latin1Write` (checked at load: NATIVE_LATIN1_WRITE), not `write(key, at, 'latin1')`:
   * that one looks the encoding up first, ~190 more.
   */
  #writeAsciiKey(key: string): boolean {
    const at = ringPosition(this.#keyHead, this.#keys.length);
    if (at + key.length > this.#keys.length || Buffer.byteLength(key) !== key.length) return false;
    this.#keyBytes.latin1Write(key, at);
    return true;
  }

  /**
   * Writes `key`'s characters at the head, a byte each (room made); false, with the head's
   * bytes left as garbage, when a character is above 255. The position is a 31-bit integer (it
   * is below the ring's size), so the loop indexes with integers; a key that does not wrap
   * round the ring's end (nearly all) is written without a mask a character.
   */
  #writeOneByteKey(key: string): boolean {
    const keys = this.#keys;
    const at = ringPosition(this.#keyHead, keys.length) | 0;
    let codes = 0;
    if (at + key.length <= keys.length) {
      for (let i = 0; i < key.length; i++) {
        const code = key.charCodeAt(i);
        codes |= code;
        keys[at + i] = code;
      }
    } else {
      const mask = keys.length - 1;
      for (let i = 0; i < key.length; i++) {
        const code = key.charCodeAt(i);
        codes |= code;
        keys[(at + i) & mask] = code;
      }
    }
    return codes <= 0xff;
  }

  /** Writes `key`'s characters at the head, two bytes each, low byte first (room made). */
  #writeTwoByteKey(key: string): void {
    const keys = this.#keys;
    const mask = keys.length - 1;
    const at = ringPosition(this.#keyHead, keys.length) | 0;
    for (let i = 0; i < key.length; i++) {
      const code = key.charCodeAt(i);
      keys[(at + 2 * i) & mask] = code;
      keys[(at + 2 * i + 1) & mask] = code >> 8;
    }
  }

  /** Room for `bytes` more at the keys' head: expired marks at the front go, or the ring doubles. */
  #makeKeyRoom(bytes: number, now: number): void {
    for (;;) {
      const empty = this.#next === this.#first;
      const tail = empty ? this.#keyHead : this.#keyAt[this.#first & (this.#hashes.length - 1)]!;
      if (this.#keyHead + bytes - tail <= this.#keys.length) return;
      if (!empty && this.#frontExpired(now)) this.#dropFront();
      else if (this.#keys.length * 2 <= this.#keyMemory.byteLength) {
        const grown = new Uint8Array(this.#keyMemory, 0, this.#keys.length * 2);
        moveRingUp(grown, this.#keys.length, tail, this.#keyHead);
        this.#keys = grown;
      } else {
        // Keys longer than their reserved room: new memory, twice the ring, which then grows in place.
        this.#keyMemory = new ArrayBuffer(this.#keys.length * 4);
        this.#keyBytes = latinWriter(this.#keyMemory);
        const grown = new Uint8Array(this.#keyMemory, 0, this.#keys.length * 2);
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

  /**
   * The slot arrays and the index as views of `#slotMemory`, `size` slots: the five slot arrays
   * side by side at offsets of its whole room, then the index (two entries a slot).
   */
  #viewSlots(size: number): void {
    const room = this.#slotRoom;
    const memory = this.#slotMemory;
    this.#hashes = new Int32Array(memory, 0, size);
    this.#seconds = new Int32Array(memory, room * 4, size);
    this.#keyShape = new Int32Array(memory, room * 8, size);
    this.#keyAt = new Float64Array(memory, room * 12, size);
    this.#answers = new Float64Array(memory, room * 20, size);
    this.#index = new Int32Array(memory, room * 28, size * 2);
  }

  /** Twice the slots (the index too), the marks at their sequence numbers' new slots. */
  #growSlots(): void {
    const old = { hashes: this.#hashes, seconds: this.#seconds, keyAt: this.#keyAt, keyShape: this.#keyShape, answers: this.#answers };
    const oldSize = old.hashes.length;
    const size = oldSize * 2;
    if (size > this.#slotRoom) {
      // Past the room reserved (a table of over RESERVED_SLOTS_MOST marks): new memory, for twice the slots.
      this.#slotRoom = size;
      this.#slotMemory = new ArrayBuffer(size * 36);
    }
    this.#viewSlots(size);
    const moved = old.hashes.buffer !== this.#slotMemory;
    const oldMask = oldSize - 1;
    const mask = size - 1;
    // Each mark to the slot of its sequence number: in place, the same slot or one in the new
    // upper half (never a slot another mark still needs: the ring's sequence numbers have
    // distinct low bits); from the old arrays when the memory is new.
    for (let sequence = this.#first; sequence < this.#next; sequence++) {
      const from = sequence & oldMask;
      const to = sequence & mask;
      if (from === to && !moved) continue;
      this.#hashes[to] = old.hashes[from]!;
      this.#seconds[to] = old.seconds[from]!;
      this.#keyAt[to] = old.keyAt[from]!;
      this.#keyShape[to] = old.keyShape[from]!;
      this.#answers[to] = old.answers[from]!;
    }
    // The index, built again from the slots.
    const index = this.#index;
    const indexMask = index.length - 1;
    index.fill(0);
    for (let sequence = this.#first; sequence < this.#next; sequence++) {
      const slot = sequence & mask;
      if (this.#seconds[slot] === REPLACED) continue;
      let at = this.#hashes[slot]! & indexMask;
      while (index[at] !== 0) at = (at + 1) & indexMask;
      index[at] = slot + 1;
    }
  }
}

/**
 * Node's Latin-1 write of a Buffer (`buf.write(s, at, 'latin1')` without the encoding's look-up):
 * at least since Node 8, but undocumented and not in @types/node. Returns the bytes written.
 */
interface LatinWrite {
  latin1Write(text: string, offset: number): number;
}

/**
 * Whether this Node's Buffers have a `latin1Write` that writes as documented `write(text,
 * offset, 'latin1')` does: checked once, at load, by a probe write (a method that is missing,
 * throws, or writes other bytes or another count says no). An undocumented API may go or change
 * in any release; without it every key is written by the documented call instead (the same
 * bytes, ~190 instructions more a key for its encoding's look-up).
 */
const NATIVE_LATIN1_WRITE = hasNativeLatin1Write();

function hasNativeLatin1Write(): boolean {
  const probe = Buffer.alloc(4);
  const write = (probe as unknown as Partial<LatinWrite>).latin1Write;
  if (typeof write !== 'function') return false;
  try {
    return write.call(probe, 'a\u00e9', 1) === 2 && probe[0] === 0 && probe[1] === 0x61 && probe[2] === 0xe9 && probe[3] === 0;
  } catch {
    return false;
  }
}

/** All of `memory` as a Buffer, written through {@link LatinWrite}: the Buffer's own method where {@link NATIVE_LATIN1_WRITE}, else the documented write. */
function latinWriter(memory: ArrayBuffer): LatinWrite {
  const bytes = Buffer.from(memory);
  return NATIVE_LATIN1_WRITE ? (bytes as unknown as LatinWrite) : new DocumentedLatinWrite(bytes);
}

/** {@link LatinWrite} by Buffer's documented `write(text, offset, 'latin1')`. */
class DocumentedLatinWrite implements LatinWrite {
  readonly #bytes: Buffer;
  constructor(bytes: Buffer) {
    this.#bytes = bytes;
  }
  latin1Write(text: string, offset: number): number {
    return this.#bytes.write(text, offset, 'latin1');
  }
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

/** The least power of two at least `n` (1 for n below 1). */
function pow2AtLeast(n: number): number {
  let p = 1;
  while (p < n) p *= 2;
  return p;
}

/**
 * A ring of keys doubled in place: `ring` is the new view (twice `oldLength`, the old one its
 * first half); the bytes between absolute offsets `start` and `end` move to where their offset
 * says in the doubled ring: each stays, or goes up by `oldLength` into the new half.
 */
function moveRingUp(ring: Uint8Array, oldLength: number, start: number, end: number): void {
  for (let at = start; at < end; ) {
    const source = ringPosition(at, oldLength);
    const target = ringPosition(at, ring.length);
    const length = Math.min(end - at, oldLength - source, ring.length - target);
    if (target !== source) ring.copyWithin(target, source, source + length);
    at += length;
  }
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
