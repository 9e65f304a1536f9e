/**
 * A ring of 16-bit units that records are appended to, outside the JavaScript heap: where
 * everyone's recent history lives in process (recent.ts). What the garbage collector never
 * scans nor copies costs it nothing; the strings and slots of every user's last messages kept
 * on the heap were ~230 B a message that each scavenge copied and promoted, to die later in
 * the old generation (bench/alloc.ts with BENCH_LIVE=1, default bot, 20 000 messages).
 *
 * The ring is made of segments of {@link SEGMENT_UNITS}, each allocated when the log first
 * reaches it: a bot with a few users takes one, and the log never grows by copying (doubling
 * one array would copy 32 MiB at once on the way to 64, a pause of the event loop).
 *
 * Positions are absolute: units written since the log was made, a number that only grows
 * (exact to 2^53, centuries at any traffic). A record stays in one segment (one that does not
 * fit in what is left of it starts the next, or the next lap when it does not fit in the last,
 * shorter one either), so a record at position `p` is intact exactly while
 * `p >= head - capacity`: what was written after it has not come round to it. A reader
 * checks that first, and reads nothing of a record that is (even partly) overwritten.
 */
export class EntryLog {
  /** The absolute position after the last record written. */
  head = 0;
  /** The absolute position of the current lap's start (a multiple of {@link capacity}). */
  #lapStart = 0;
  readonly #capacity: number;
  readonly #segments: (Uint16Array | undefined)[];

  /** @param maxBytes what the log may take at most: two bytes a unit. */
  constructor(maxBytes: number) {
    const units = Math.floor(maxBytes / 2);
    this.#capacity = units > 0 ? Math.min(units, MAX_UNITS) : 0; // NaN: 0, Infinity: the most
    this.#segments = new Array(Math.ceil(this.#capacity / SEGMENT_UNITS));
  }

  /** The longest record the log takes, in units: a segment. */
  get maxRecordUnits(): number {
    return Math.min(this.#capacity, SEGMENT_UNITS);
  }

  /** The bytes the log has allocated. */
  get allocatedBytes(): number {
    let bytes = 0;
    for (const segment of this.#segments) bytes += segment?.byteLength ?? 0;
    return bytes;
  }

  /**
   * Room for a record of `length` units (at most {@link maxRecordUnits}) after the last one;
   * returns its absolute position, for {@link segmentOf} and {@link indexOf}. The records it
   * overwrites are gone ({@link intact}).
   */
  reserve(length: number): number {
    const capacity = this.#capacity;
    let offset = this.head - this.#lapStart;
    let segment = offset >>> SEGMENT_SHIFT;
    if ((offset & SEGMENT_MASK) + length > Math.min(SEGMENT_UNITS, capacity - segment * SEGMENT_UNITS)) {
      // The rest of this segment stays empty: the record starts the next one, or the next lap
      // when there is none or it is the last, shorter one and the record does not fit in it.
      segment++;
      offset = segment * SEGMENT_UNITS;
      if (offset >= capacity || offset + length > capacity) {
        this.#lapStart += capacity;
        offset = segment = 0;
      }
    }
    if (this.#segments[segment] === undefined) this.#segments[segment] = new Uint16Array(Math.min(SEGMENT_UNITS, capacity - segment * SEGMENT_UNITS));
    const position = this.#lapStart + offset;
    this.head = position + length;
    return position;
  }

  /** Whether the record at absolute position `position` is still whole (nothing written over any of it). */
  intact(position: number): boolean {
    return position >= this.head - this.#capacity;
  }

  /** The segment holding the {@link intact} record at `position`. */
  segmentOf(position: number): Uint16Array {
    return this.#segments[this.#offset(position) >>> SEGMENT_SHIFT]!;
  }

  /** Where the {@link intact} record at `position` starts in its segment. */
  indexOf(position: number): number {
    return this.#offset(position) & SEGMENT_MASK;
  }

  /** A position's offset in the ring. */
  #offset(position: number): number {
    return position >= this.#lapStart ? position - this.#lapStart : position - this.#lapStart + this.#capacity;
  }
}

/**
 * Units a segment holds: 2^17, 256 KiB. What a bot with a few users allocates, and the longest
 * record: an agent's text up to the WebSocket's largest frame fits.
 */
const SEGMENT_SHIFT = 17;
const SEGMENT_UNITS = 1 << SEGMENT_SHIFT;
const SEGMENT_MASK = SEGMENT_UNITS - 1;
/** At most 2 GiB (2^30 units): distances between records then fit in 32 bits with room to spare. */
const MAX_UNITS = 2 ** 30;
