/** One generation: its entries, and when it took its last one at the latest (Infinity while it is the youngest). */
interface Generation<V> {
  readonly entries: Map<string, V>;
  endedAt: number;
}

/**
 * Entries kept for at least a lifetime and at most `max` at once (the callback dedup's kept
 * answers, see KeptAnswers), in generations of plain Maps rather than in an LRU
 * with a time to live per key: an entry is one Map entry (no object of its own, no copy of its
 * key), with no clock, recency list or eviction work of its own; a lookup is one `get` per
 * generation (a handful). The youngest generation takes new entries for a span of time (a
 * third of the lifetime) or until it holds a quarter of `max`; a generation goes whole when
 * the newest of its entries is past the lifetime, or, when there are more than `max`
 * entries, the oldest goes early (`onEarlyEviction` is told if any of its entries was live).
 * So an entry lives from its lifetime to a third more, and a full table keeps from three
 * quarters of `max` to `max` of the newest entries.
 */
export class Generations<V> {
  /** Youngest first. */
  readonly #generations: Generation<V>[] = [];
  #lifetimeMs: number;
  #size = 0;
  /** When the youngest generation began. */
  #youngestSince = 0;
  /** How many entries the youngest generation takes at most. */
  readonly #capacity: number;

  constructor(
    lifetimeMs: number,
    readonly max: number,
    private readonly onEarlyEviction?: () => void,
  ) {
    this.#lifetimeMs = lifetimeMs;
    this.#capacity = Math.max(1, Math.floor(max / 4));
    this.#begin(performance.now());
  }

  /** Entries added from now on live at least `lifetimeMs` (one store shared by dedups of different TTLs). */
  lifetimeAtLeast(lifetimeMs: number): void {
    this.#lifetimeMs = Math.max(this.#lifetimeMs, lifetimeMs);
  }

  get size(): number {
    this.#expire(performance.now());
    return this.#size;
  }

  get(key: string): V | undefined {
    this.#expire(performance.now());
    for (const generation of this.#generations) {
      const value = generation.entries.get(key);
      if (value !== undefined) return value;
    }
    return undefined;
  }

  /** Adds an entry the caller knows is in no generation (it just looked): no lookup in the older ones. */
  add(key: string, value: V): void {
    const now = performance.now();
    this.#expire(now);
    let youngest = this.#generations[0]!.entries;
    if (youngest.size >= this.#capacity || now - this.#youngestSince >= this.#lifetimeMs / 3) youngest = this.#begin(now);
    const before = youngest.size;
    youngest.set(key, value);
    this.#size += youngest.size - before;
    while (this.#size > this.max) this.#dropOldest(now, true);
  }

  /** Drops the generations whose newest entry is past the lifetime. */
  #expire(now: number): void {
    const generations = this.#generations;
    while (now - this.#endOf(generations[generations.length - 1]!) >= this.#lifetimeMs) this.#dropOldest(now, false);
  }

  /** When a generation took its last entry (at the latest): the youngest takes new ones for a third of the lifetime at most. */
  #endOf(generation: Generation<V>): number {
    return generation === this.#generations[0] ? this.#youngestSince + this.#lifetimeMs / 3 : generation.endedAt;
  }

  #begin(now: number): Map<string, V> {
    const youngest = this.#generations[0];
    if (youngest) youngest.endedAt = Math.min(now, this.#youngestSince + this.#lifetimeMs / 3);
    const entries = new Map<string, V>();
    this.#generations.unshift({ entries, endedAt: Number.POSITIVE_INFINITY });
    this.#youngestSince = now;
    return entries;
  }

  #dropOldest(now: number, forRoom: boolean): void {
    const oldest = this.#generations[this.#generations.length - 1]!;
    // Its newest entries still inside their lifetime: the table is too small for the traffic.
    if (forRoom && oldest.entries.size > 0 && now - this.#endOf(oldest) < this.#lifetimeMs) this.onEarlyEviction?.();
    this.#generations.pop();
    this.#size -= oldest.entries.size;
    if (this.#generations.length === 0) this.#begin(now);
  }
}
