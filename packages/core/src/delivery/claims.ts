import { movesIntoHole } from './probing.ts';

/**
 * The callback dedup's claims in flight over a MemoryStore, by key: what a Map did, without its
 * garbage. A Map that lives as long as the bot, with an add and a delete a message, rehashes its
 * table every few dozen of them, and V8 allocates the new table in the Map's own generation: the
 * old one, straight, where only mark-compacts free it (bench/promoted.ts, safe 3 000 req/s: 156 B
 * a request of the old generation, the default bot's largest). Here an open-addressing table
 * (linear probing, deletion by backward shift, at most half full) in arrays made once and
 * doubled only when more messages are in flight at once than ever before: a claim writes a
 * reference to its key and a value into slots, allocating nothing.
 */
export class Claims<V> {
  /** A key's slot holds its string (a reference: the caller's own copy, see dedupKeyOf) while in flight. */
  #keys: (string | undefined)[];
  #hashes: Int32Array;
  #values: (V | undefined)[];
  #size = 0;

  /** @param capacity the slots it starts with: a power of two (a slot's probe runs by masking), at least 1 */
  constructor(capacity = 64) {
    this.#keys = new Array<string | undefined>(capacity).fill(undefined);
    this.#hashes = new Int32Array(capacity);
    this.#values = new Array<V | undefined>(capacity).fill(undefined);
  }

  /** Claims in flight. */
  get size(): number {
    return this.#size;
  }

  /** The value of `key` (its hash `hash`, see hashOf), or undefined when it is not in flight. */
  get(key: string, hash: number): V | undefined {
    const slot = this.#slotOf(key, hash);
    return this.#keys[slot] === undefined ? undefined : this.#values[slot];
  }

  /** Sets the value of `key`, in flight or not yet. */
  set(key: string, hash: number, value: V): void {
    let slot = this.#slotOf(key, hash);
    if (this.#keys[slot] === undefined) {
      if ((this.#size + 1) * 2 > this.#keys.length) {
        this.#grow();
        slot = this.#slotOf(key, hash);
      }
      this.#keys[slot] = key;
      this.#hashes[slot] = hash;
      this.#size++;
    }
    this.#values[slot] = value;
  }

  /** Ends the claim of `key`: its value, or undefined when it was not in flight. */
  delete(key: string, hash: number): V | undefined {
    const keys = this.#keys;
    let hole = this.#slotOf(key, hash);
    if (keys[hole] === undefined) return undefined;
    const value = this.#values[hole];
    this.#size--;
    const mask = keys.length - 1;
    for (let at = (hole + 1) & mask; keys[at] !== undefined; at = (at + 1) & mask) {
      if (movesIntoHole(this.#hashes[at]! & mask, hole, at)) {
        keys[hole] = keys[at];
        this.#hashes[hole] = this.#hashes[at]!;
        this.#values[hole] = this.#values[at];
        hole = at;
      }
    }
    keys[hole] = undefined;
    this.#values[hole] = undefined;
    return value;
  }

  /** The slot holding `key`, or the empty one where it would go. */
  #slotOf(key: string, hash: number): number {
    const keys = this.#keys;
    const mask = keys.length - 1;
    for (let at = hash & mask; ; at = (at + 1) & mask) {
      const held = keys[at];
      if (held === undefined || (this.#hashes[at] === hash && held === key)) return at;
    }
  }

  #grow(): void {
    const keys = this.#keys;
    const hashes = this.#hashes;
    const values = this.#values;
    const capacity = keys.length * 2;
    this.#keys = new Array<string | undefined>(capacity).fill(undefined);
    this.#hashes = new Int32Array(capacity);
    this.#values = new Array<V | undefined>(capacity).fill(undefined);
    const mask = capacity - 1;
    for (let i = 0; i < keys.length; i++) {
      if (keys[i] === undefined) continue;
      let at = hashes[i]! & mask;
      while (this.#keys[at] !== undefined) at = (at + 1) & mask;
      this.#keys[at] = keys[i];
      this.#hashes[at] = hashes[i]!;
      this.#values[at] = values[i];
    }
  }
}
