/** What a mark says of its message: it was answered `success`, or with a passive answer (kept apart for a while). */
export type Mark = 'success' | 'answered';

/**
 * The callback dedup's marks over a MemoryStore: for each message answered, by its key, what it
 * was answered, for the dedup TTL, at most `max` marks. One plain Map in the order the marks
 * were written: a mark is written once, when its delivery answers, so the oldest are at the
 * front, and going past `max` drops from there (the oldest first, as an LRU's least recent:
 * a mark is never read again but by a retry). Its value is a small integer (the second it was
 * written, and whether it was answered), so a mark is its key and one Map entry: no object,
 * no time to live and clock work per key as in an LRU cache, and a new message costs one
 * lookup and one insert. Expired marks read as absent and go from the front as new ones come.
 */
export class Marks {
  readonly #marks = new Map<string, number>();
  #ttlSeconds: number;
  /** Where dropping goes on at the front (a Map iterator skips deleted keys cheaply). */
  #front: MapIterator<[string, number]> | undefined;
  #peeked: [string, number] | undefined;

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

  /** Marks written from now on live at least `ttlMs` (one store shared by bots of different TTLs). */
  ttlAtLeast(ttlMs: number): void {
    this.#ttlSeconds = Math.max(this.#ttlSeconds, Math.ceil(ttlMs / 1000));
  }

  /** Marks kept, expired ones not yet dropped included. */
  get size(): number {
    return this.#marks.size;
  }

  get(key: string): Mark | undefined {
    const value = this.#marks.get(key);
    if (value === undefined || this.#expired(value, nowSeconds())) return undefined;
    return value & 1 ? 'answered' : 'success';
  }

  /** Records the mark of `key` (after a `get` found none: its delivery answered). */
  set(key: string, mark: Mark): void {
    const marks = this.#marks;
    const now = nowSeconds();
    const value = now * 2 + (mark === 'answered' ? 1 : 0);
    const before = marks.size;
    marks.set(key, value);
    if (marks.size === before) {
      // An expired mark of the same key: written again at the end, where its age puts it.
      marks.delete(key);
      marks.set(key, value);
      if (this.#peeked?.[0] === key) this.#peeked = undefined;
    }
    // Drop the expired at the front (at most two a write: the table shrinks as traffic falls),
    // then whatever is past `max`.
    for (let i = 0; i < 2 && marks.size > 0 && this.#expired(this.#peek(marks), now); i++) this.#dropFront(marks);
    while (marks.size > this.max) {
      if (!this.#expired(this.#peek(marks), now)) this.onEarlyEviction?.();
      this.#dropFront(marks);
    }
  }

  #expired(value: number, now: number): boolean {
    return now - (value >> 1) > this.#ttlSeconds;
  }

  /** The value of the oldest mark (the table is not empty). */
  #peek(marks: Map<string, number>): number {
    return this.#oldest(marks)[1];
  }

  #dropFront(marks: Map<string, number>): void {
    marks.delete(this.#oldest(marks)[0]);
    this.#peeked = undefined;
  }

  /** The oldest mark, read once from the iterator (with its value: no lookup) and kept until it is dropped. */
  #oldest(marks: Map<string, number>): [string, number] {
    if (this.#peeked !== undefined) return this.#peeked;
    let next = this.#front?.next();
    // A fresh iterator when there was none, or when it ran out before newer marks were written.
    if (!next || next.done) next = (this.#front = marks.entries()).next();
    this.#peeked = next.value!;
    return this.#peeked;
  }
}

/** Seconds on the monotonic clock: a small integer (a value V8 keeps unboxed in a Map). */
function nowSeconds(): number {
  return Math.floor(performance.now() / 1000);
}
