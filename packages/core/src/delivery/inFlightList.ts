/** A member of an {@link InFlightList}: the links the list writes into it. */
export interface InFlightLink<T> {
  /** The member added just before this one (undefined: the oldest, or not in a list). */
  inFlightPrevious: T | undefined;
  /** The member added just after this one (undefined: the newest, or not in a list). */
  inFlightNext: T | undefined;
  /** Whether the member is in a list now. */
  inFlight: boolean;
}

/**
 * The members in flight (messages in the pipeline), linked through fields of their own, oldest
 * first: adding and removing one allocates nothing. A Set of them, as before, lives as long as
 * its bot, so V8 allocated each new table of its rehashes (a Set with adds and deletes rehashes
 * every few dozen of them, growing, shrinking or dropping its deleted entries) in the old
 * generation: ~120 B a message there (bench/promoted.ts, safe at 3 000 req/s), freed only by
 * mark-compacts.
 */
export class InFlightList<T extends InFlightLink<T>> {
  #oldest: T | undefined;
  #newest: T | undefined;
  #size = 0;

  get size(): number {
    return this.#size;
  }

  /** Adds `member` as the newest (nothing if it is in a list already). */
  add(member: T): void {
    if (member.inFlight) return;
    member.inFlight = true;
    member.inFlightPrevious = this.#newest;
    member.inFlightNext = undefined;
    if (this.#newest) this.#newest.inFlightNext = member;
    else this.#oldest = member;
    this.#newest = member;
    this.#size++;
  }

  /** Removes `member` (nothing if it is not in flight); it keeps no link to the others. */
  delete(member: T): void {
    if (!member.inFlight) return;
    member.inFlight = false;
    const { inFlightPrevious: previous, inFlightNext: next } = member;
    if (previous) previous.inFlightNext = next;
    else this.#oldest = next;
    if (next) next.inFlightPrevious = previous;
    else this.#newest = previous;
    member.inFlightPrevious = undefined;
    member.inFlightNext = undefined;
    this.#size--;
  }

  /** The members, oldest first (one may be removed while the loop is at it). */
  *[Symbol.iterator](): IterableIterator<T> {
    for (let member = this.#oldest; member; ) {
      const next: T | undefined = member.inFlightNext;
      yield member;
      member = next;
    }
  }
}
