import { FlatKeys } from './flatKeys.ts';

/**
 * A least-recently-used cache of strings with a time to live per key, like the `LRUCache` of
 * lru-cache as MemoryStore uses it (the same reads, writes, eviction and staleness), but with
 * its keys in {@link FlatKeys} and its times in a Float64Array: a key costs no object on the
 * heap. For MemoryStore's `dedup:` space, written for every message; values there are a few
 * constants, so a value costs nothing either (another value is kept as the string given).
 */
export class FlatLru {
  readonly #keys: FlatKeys;
  /** By slot: the value. */
  #values: (string | undefined)[] = [];
  /** By slot: when the key goes stale (performance.now() ms), 0 for never. */
  #expires = new Float64Array(0);

  constructor(readonly max: number) {
    this.#keys = new FlatKeys(max, (slots) => {
      const expires = new Float64Array(slots);
      expires.set(this.#expires);
      this.#expires = expires;
    });
  }

  get size(): number {
    return this.#keys.size;
  }

  /** The value of a live key, which becomes the most recently used; a stale key is dropped. */
  get(key: string): string | undefined {
    const slot = this.#keys.find(key);
    if (slot < 0) return undefined;
    if (this.#stale(slot, performance.now())) {
      this.#remove(slot);
      return undefined;
    }
    this.#keys.touch(slot);
    return this.#values[slot];
  }

  /** Whether a live key is there (its recency unchanged). */
  has(key: string): boolean {
    const slot = this.#keys.find(key);
    return slot >= 0 && !this.#stale(slot, performance.now());
  }

  /**
   * Sets `key` as the most recently used, for `ttl` ms (none or 0: no time limit); a new key
   * in a full cache evicts the least recently used first (live or not, as lru-cache does).
   */
  set(key: string, value: string, options: { readonly ttl?: number } = {}): this {
    let slot = this.#keys.find(key);
    if (slot >= 0) this.#keys.touch(slot);
    else {
      if (this.#keys.full) this.#remove(this.#keys.oldest);
      slot = this.#keys.add(key);
    }
    this.#values[slot] = value;
    const ttl = options.ttl;
    this.#expires[slot] = ttl ? performance.now() + ttl : 0;
    return this;
  }

  delete(key: string): boolean {
    const slot = this.#keys.find(key);
    if (slot < 0) return false;
    this.#remove(slot);
    return true;
  }

  /** Drops every stale key. */
  purgeStale(): void {
    const now = performance.now();
    for (let slot = this.#keys.oldest; slot >= 0; ) {
      const next = this.#keys.newerThan(slot);
      if (this.#stale(slot, now)) this.#remove(slot);
      slot = next;
    }
  }

  #stale(slot: number, now: number): boolean {
    const expires = this.#expires[slot]!;
    return expires !== 0 && now > expires;
  }

  #remove(slot: number): void {
    this.#keys.remove(slot);
    this.#values[slot] = undefined;
  }
}
