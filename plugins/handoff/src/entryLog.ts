/**
 * A ring of 16-bit units that records are appended to, outside the JavaScript heap: where
 * everyone's recent history lives in process (recent.ts). What the garbage collector never
 * scans nor copies costs it nothing; the strings and slots of every user's last messages kept
 * on the heap were ~230 B a message that each scavenge copied and promoted, to die later in
 * the old generation (bench/alloc.ts with BENCH_LIVE=1, default bot, 20 000 messages).
 *
 * The ring is made of segments of {@link SEGMENT_UNITS}, each reached in turn: a bot with a
 * few users writes in one, and the log never grows by copying (doubling one array would copy
 * 32 MiB at once on the way to 64, a pause of the event loop). The segments are views of blocks
 * of {@link BLOCK_SEGMENTS} (64 MiB, the default budget's whole), each allocated when the log
 * first reaches one of its segments: V8 counts an ArrayBuffer's bytes as external memory
 * whether written or not, and external memory grown since the last mark-compact both starts one
 * (past 64 MiB) and is counted against the old generation's headroom, whose end starts
 * incremental marking; a segment allocated at a time grew it all through a busy bot's first
 * minutes, under its load. A block's pages not yet written are not the process's (the system
 * gives a page when it is first written): RSS grows by the segments reached, as before
 * (bench/ringsRss.ts).
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
  /**
   * The longest record the log takes, in units: a segment. A field, not a getter: read for every
   * record, and the getter was a call of its own (~90 instructions a message, callgrind).
   */
  readonly maxRecordUnits: number;
  /** The log's memory, a block at a time (see above). */
  readonly #blocks: (ArrayBuffer | undefined)[];
  /**
   * Views of the blocks, all of a block's made with it: a segment reached later has its view
   * ready (see {@link reserve}).
   */
  readonly #segments: (Uint16Array | undefined)[];
  /**
   * The same segments' bytes, as Buffers: a long string is copied into a record by Node's
   * UTF-16 write, one native call (see recent.ts's putString).
   */
  readonly #bytes: (Buffer | undefined)[];
  /** Segments reached so far: 0 to `#reached - 1` (in turn, see above). */
  #reached = 0;

  /** @param maxBytes what the log may take at most: two bytes a unit. */
  constructor(maxBytes: number) {
    const units = Math.floor(maxBytes / 2);
    this.#capacity = units > 0 ? Math.min(units, MAX_UNITS) : 0; // NaN: 0, Infinity: the most
    this.maxRecordUnits = Math.min(this.#capacity, SEGMENT_UNITS);
    this.#segments = new Array(Math.ceil(this.#capacity / SEGMENT_UNITS));
    this.#bytes = new Array(this.#segments.length);
    this.#blocks = new Array(Math.ceil(this.#segments.length / BLOCK_SEGMENTS));
  }

  /** The bytes of the segments the log has reached (written or being written). */
  get allocatedBytes(): number {
    let bytes = 0;
    for (let i = 0; i < this.#reached; i++) bytes += this.#segments[i]!.byteLength;
    return bytes;
  }

  /** The bytes allocated for segments, reached or not (the blocks). */
  get reservedBytes(): number {
    let bytes = 0;
    for (const block of this.#blocks) bytes += block?.byteLength ?? 0;
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
    // The rest of this segment stays empty when the record does not fit in it: the record
    // starts the next one, or the next lap when there is none or it is the last, shorter one
    // and the record does not fit in it. Every step of that is taken for every record, and the
    // next segment's view is there already (made with its block), rather than in a branch
    // first run when the first segment fills (~2 600 messages in): TurboFan deoptimizes code
    // at an operation it has never seen run, and the history's writer that inlines this
    // (recent.ts, ~10 KB of machine code) was deoptimized there and compiled again.
    const across = (offset & SEGMENT_MASK) + length > Math.min(SEGMENT_UNITS, capacity - (offset >>> SEGMENT_SHIFT) * SEGMENT_UNITS) ? 1 : 0;
    let segment = (offset >>> SEGMENT_SHIFT) + across;
    const start = segment * SEGMENT_UNITS;
    if (across === 1) offset = start;
    // Never so for a record that fits where it was (it ends by its segment's end, by capacity).
    if (offset >= capacity || offset + length > capacity) {
      this.#lapStart += capacity;
      offset = segment = 0;
    }
    // A new block: past the default budget's first 64 MiB only.
    if (this.#segments[segment] === undefined) this.#addBlock(segment);
    this.#reached = Math.max(this.#reached, segment + 1);
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

  /** The bytes of the segment holding the {@link intact} record at `position` (unit `i` of {@link segmentOf}'s is bytes `2i` and `2i + 1`). */
  bytesOf(position: number): Buffer {
    return this.#bytes[this.#offset(position) >>> SEGMENT_SHIFT]!;
  }

  /** Where the {@link intact} record at `position` starts in its segment. */
  indexOf(position: number): number {
    return this.#offset(position) & SEGMENT_MASK;
  }

  /**
   * The block of segment `segment`, allocated when the log first reaches one of its segments,
   * and the views of all its segments (the last may be shorter): a view is a small object on
   * the heap, its pages untouched until written.
   */
  #addBlock(segment: number): void {
    const index = Math.floor(segment / BLOCK_SEGMENTS);
    const blockStart = index * BLOCK_SEGMENTS * SEGMENT_UNITS;
    const block = new ArrayBuffer(Math.min(BLOCK_SEGMENTS * SEGMENT_UNITS, this.#capacity - blockStart) * 2);
    this.#blocks[index] = block;
    const end = Math.min((index + 1) * BLOCK_SEGMENTS, this.#segments.length);
    for (let i = index * BLOCK_SEGMENTS; i < end; i++) {
      const start = i * SEGMENT_UNITS;
      const units = Math.min(SEGMENT_UNITS, this.#capacity - start);
      this.#segments[i] = new Uint16Array(block, (start - blockStart) * 2, units);
      this.#bytes[i] = Buffer.from(block, (start - blockStart) * 2, units * 2);
    }
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
/** Segments a block holds: 256, 64 MiB, the default budget's whole (DEFAULT_RECENT_HISTORY_BYTES). */
const BLOCK_SEGMENTS = 256;
/** At most 2 GiB (2^30 units): distances between records then fit in 32 bits with room to spare. */
const MAX_UNITS = 2 ** 30;
