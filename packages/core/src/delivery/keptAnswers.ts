import { FlatKeys } from '../store/flatKeys.ts';

/** Bytes the ring starts with; it doubles when the answers kept need more. */
const FIRST_BYTES = 64 * 1024;

/**
 * The passive answers of the callbacks recorded in one MemoryStore, kept for WeChat's retries:
 * each as the HTTP body alone, in UTF-8 bytes, under its mark's key, for `lifetimeMs`, at
 * most `max` of them (the store's `dedup-answer:` space size; the oldest go first). A retry
 * gets the bytes decoded: what the first answer's bytes on the wire were.
 *
 * Nothing of an answer is an object on the JavaScript heap: its key lives in a
 * {@link FlatKeys} slot, its bytes in one ring buffer written in the order the answers come
 * (they leave in that order too: by age, or the oldest past `max`), its place and time in
 * typed arrays. A Map of a Buffer per answer kept ~10 000 objects alive for a minute at a
 * time, each copied by two scavenges and promoted, then marked by every major GC. The ring
 * grows (doubling) when the answers kept do not fit, and keeps that size.
 */
export class KeptAnswers {
  readonly #keys: FlatKeys;
  /**
   * By slot: where its bytes start in the ring, how many, and when it was kept. Each answer
   * takes one byte more than its length (so that none, not even an empty one, takes none).
   */
  #starts = new Int32Array(0);
  #lengths = new Int32Array(0);
  #times = new Float64Array(0);
  #ring: Buffer = Buffer.allocUnsafeSlow(FIRST_BYTES);
  /** Where the next answer's bytes go. */
  #head = 0;

  constructor(
    private readonly lifetimeMs: number,
    max: number,
  ) {
    this.#keys = new FlatKeys(max, (slots) => {
      const grow = <T extends Int32Array | Float64Array>(old: T, next: T): T => {
        next.set(old);
        return next;
      };
      this.#starts = grow(this.#starts, new Int32Array(slots));
      this.#lengths = grow(this.#lengths, new Int32Array(slots));
      this.#times = grow(this.#times, new Float64Array(slots));
    });
  }

  get size(): number {
    this.#expire(performance.now());
    return this.#keys.size;
  }

  set(key: string, body: string): void {
    const now = performance.now();
    this.#expire(now);
    const keys = this.#keys;
    const old = keys.find(key);
    if (old >= 0) keys.remove(old);
    else if (keys.full) keys.remove(keys.oldest);
    // Room for the body at its longest (3 UTF-8 bytes a UTF-16 unit); it takes what it writes.
    const at = this.#room(body.length * 3 + 1);
    const length = this.#ring.write(body, at, 'utf8');
    const slot = keys.add(key);
    this.#starts[slot] = at;
    this.#lengths[slot] = length;
    this.#times[slot] = now;
    this.#head = at + length + 1;
  }

  get(key: string): string | undefined {
    this.#expire(performance.now());
    const slot = this.#keys.find(key);
    if (slot < 0) return undefined;
    const start = this.#starts[slot]!;
    return this.#ring.toString('utf8', start, start + this.#lengths[slot]!);
  }

  /** Drops the answers older than their lifetime (the oldest first: they came in that order). */
  #expire(now: number): void {
    const keys = this.#keys;
    for (let slot = keys.oldest; slot >= 0 && now - this.#times[slot]! > this.lifetimeMs; slot = keys.oldest) keys.remove(slot);
  }

  /**
   * Where `need` bytes fit after the newest answer's without touching the kept ones: the
   * ring's free span after the head, or from its start up to the oldest answer's bytes (every
   * answer takes a byte at least, so a head at the tail means full). When neither holds them,
   * the ring doubles (the answers copied to its start, in order).
   */
  #room(need: number): number {
    const keys = this.#keys;
    const ring = this.#ring;
    if (keys.size === 0) return need <= ring.length ? 0 : this.#grow(need);
    const tail = this.#starts[keys.oldest]!;
    const head = this.#head;
    if (head > tail) {
      if (ring.length - head >= need) return head;
      if (tail >= need) return 0;
    } else if (tail - head >= need) return head;
    return this.#grow(need);
  }

  /** A ring of twice the size (or more, for `need`), the answers laid out from its start; returns the head. */
  #grow(need: number): number {
    const keys = this.#keys;
    let kept = 0;
    for (let slot = keys.oldest; slot >= 0; slot = keys.newerThan(slot)) kept += this.#lengths[slot]! + 1;
    let size = this.#ring.length * 2;
    while (size < kept + need) size *= 2;
    const ring = Buffer.allocUnsafeSlow(size);
    let at = 0;
    for (let slot = keys.oldest; slot >= 0; slot = keys.newerThan(slot)) {
      const start = this.#starts[slot]!;
      const length = this.#lengths[slot]!;
      this.#ring.copy(ring, at, start, start + length);
      this.#starts[slot] = at;
      at += length + 1;
    }
    this.#ring = ring;
    this.#head = at;
    return at;
  }
}
