import { nowSeconds } from './marks.ts';

/** What {@link AnswerRing.write} returns for an answer it does not keep (longer than a chunk, or none kept at all). */
export const NOT_KEPT = -1;
/** Each record: the second it was written and its body's byte length (two int32), then the body, to a multiple of 8. */
const HEADER = 8;
/**
 * The ring's unit of growth and of dropping: ~360 of the default bot's safe-mode answers (~720
 * bytes each with their header). Entered a chunk at a time, the ring writes what the traffic
 * needs and copies nothing: doubling one buffer instead allocated 8 + 16 + 32 + 64 MiB within a
 * fresh bot's first 10 s at 4 750 answers a second (each a memcpy of the last, ms on the loop),
 * ~2× the external memory whose growth starts V8's mark-compacts.
 */
export const CHUNK_BYTES = 256 * 1024;
/**
 * The chunks' memory is allocated in blocks of this many bytes (the default budget's whole:
 * one allocation, at the first answer kept), not a chunk at a time. V8 counts an ArrayBuffer's
 * bytes as external memory whether or not they were ever written, and external memory grown
 * since the last mark-compact both starts one (past 64 MiB) and is counted against the old
 * generation's headroom, whose end starts incremental marking: chunk by chunk it grew all
 * through a fresh bot's first ~90 000 answers, under its load. Pages of a block not yet written
 * are not the process's (the system gives a page when it is first written): a quiet bot's RSS
 * grows by the chunks it enters, as before (bench/ringsRss.ts). Blocks, not the whole budget at
 * once: a budget set far above the machine's memory still grows only as it is used.
 */
const BLOCK_BYTES = 64 * 1024 * 1024;
/**
 * A place is its chunk's epoch × 2^26 + its offset in the chunk (a chunk is at most 64 MiB).
 * Exact as a double (offsets are multiples of 8) up to epoch 2^30: ~2.6 years of 4 750 answers
 * a second of ~720 bytes (13 chunks a second); past that places would round.
 */
const OFFSET_SPAN = 2 ** 26;
/** Chunks by epoch, the last EPOCHS epochs (more than a ring's chunks: every chunk is entered once a lap). */
const EPOCHS = 4096;

/**
 * The passive answers of the callbacks recorded in one MemoryStore, kept for WeChat's retries
 * (see Marks, which holds each answer's place): each as the HTTP body alone, in UTF-8 bytes, in
 * chunks of bytes (Buffers, outside the JavaScript heap) written in turn as a ring: no object
 * per answer, which the collector would copy and promote (a Buffer object and a Map entry each,
 * ~70 B a message, kept 60–80 s), nor a string of the body (two bytes a character for a
 * Chinese reply: ~0.6 KB). A retry gets the bytes decoded: what the first answer's bytes on the
 * wire were.
 *
 * An answer is kept its lifetime (ANSWER_TTL_MS: to a second more). When the chunk being written
 * is full, the next one in the ring (the oldest) is overwritten, its answers dropped whole,
 * unless one of them is still inside its lifetime: then a new chunk goes in between, while the
 * chunks stay within `budget` bytes (a quiet bot keeps one or two). Past `max` answers the
 * oldest chunk holding any goes early (the head's own, when it is the only one). A place names its chunk's epoch (a number given each time the ring
 * enters a chunk), so an answer whose chunk was overwritten since reads as absent, never as
 * another answer's bytes.
 */
export class AnswerRing {
  readonly #lifetimeSeconds: number;
  readonly #chunkBytes: number;
  /** The most chunks the budget holds (at least one). */
  readonly #maxChunks: number;
  /**
   * The memory of the chunks, allocated a block at a time: the chunks are slices of blocks of
   * BLOCK_BYTES (the default budget's whole), each allocated when the ring first enters one of
   * its chunks. See BLOCK_BYTES for why.
   */
  readonly #blocks: Buffer[] = [];
  readonly #chunksPerBlock: number;
  readonly #chunks: Buffer[] = [];
  /** The same bytes as int32, for the records' headers (records start at multiples of 8). */
  readonly #headers: Int32Array[] = [];
  /** The ring's order: the chunk after each. */
  readonly #after: number[] = [];
  /** Each chunk's epoch since the ring last entered it (-1 once its answers were dropped). */
  readonly #epochs: number[] = [];
  /** Each chunk's answers, and the second its newest was written. */
  readonly #counts: number[] = [];
  readonly #newest: number[] = [];
  /** The chunk of each of the last EPOCHS epochs. */
  readonly #chunkOfEpoch = new Int32Array(EPOCHS);
  #epoch = 0;
  /** The chunk being written (-1: none yet), and where its next record goes. */
  #head = -1;
  #offset = 0;
  #count = 0;

  /**
   * @param max the most answers kept at once
   * @param budget the most bytes the chunks take together (at least one chunk's)
   * @param chunkBytes a chunk's size (a multiple of 8, at most 64 MiB): the longest answer kept is 8 bytes less (its header), in UTF-8
   */
  constructor(
    lifetimeMs: number,
    readonly max: number,
    readonly budget: number,
    chunkBytes = CHUNK_BYTES,
  ) {
    this.#lifetimeSeconds = Math.ceil(lifetimeMs / 1000);
    this.#chunkBytes = Math.min(chunkBytes, OFFSET_SPAN);
    const fit = Math.floor(budget / this.#chunkBytes);
    this.#maxChunks = fit >= 1 ? Math.min(fit, EPOCHS - 1) : 1;
    this.#chunksPerBlock = Math.max(1, Math.floor(BLOCK_BYTES / this.#chunkBytes));
  }

  /** Answers kept, expired ones not yet overwritten included. */
  get size(): number {
    return this.#count;
  }

  /** Bytes of the chunks the ring has entered (they are never given back): for tests and figures. */
  get bytes(): number {
    return this.#chunks.length * this.#chunkBytes;
  }

  /** Bytes allocated for chunks, entered or not (the blocks): for tests and figures. */
  get reservedBytes(): number {
    let bytes = 0;
    for (const block of this.#blocks) bytes += block.length;
    return bytes;
  }

  /** Keeps `body`: its place, for {@link read}, or {@link NOT_KEPT}. */
  write(body: string): number {
    // A character is one to three bytes (a surrogate pair four, for two): no room for it in a chunk.
    if (body.length > this.#chunkBytes - HEADER || this.max < 1) return NOT_KEPT;
    // One that may be longer than a chunk in UTF-8 is measured before anything is dropped or
    // allocated for it (an answer not kept took the oldest chunk's answers with it at `max`).
    if (body.length * 3 > this.#chunkBytes - HEADER && HEADER + Buffer.byteLength(body) > this.#chunkBytes) return NOT_KEPT;
    const now = nowSeconds();
    if (this.#head < 0) this.#enter(this.#addChunk());
    while (this.#count >= this.max) this.#dropOldest();
    let length: number;
    if (this.#offset + HEADER + body.length * 3 <= this.#chunkBytes) {
      // Room for the longest the body can be: encoded once, straight in (Buffer.byteLength
      // first is a second pass over it, ~0.1 µs for a Chinese reply).
      length = this.#chunks[this.#head]!.write(body, this.#offset + HEADER, 'utf8');
    } else {
      length = Buffer.byteLength(body);
      if (this.#offset + HEADER + length > this.#chunkBytes) this.#advance(now);
      this.#chunks[this.#head]!.write(body, this.#offset + HEADER, length, 'utf8');
    }
    const head = this.#head;
    const offset = this.#offset;
    const headers = this.#headers[head]!;
    headers[offset >> 2] = now;
    headers[(offset >> 2) + 1] = length;
    this.#offset += HEADER + ((length + 7) & ~7);
    this.#counts[head]!++;
    this.#newest[head] = now;
    this.#count++;
    return this.#epochs[head]! * OFFSET_SPAN + offset;
  }

  /** The answer kept at `place` ({@link write}), or undefined when its chunk was overwritten since or it is past its time. */
  read(place: number): string | undefined {
    if (!(place >= OFFSET_SPAN)) return undefined; // NOT_KEPT, or not a place at all
    const epoch = Math.floor(place / OFFSET_SPAN);
    const chunk = this.#chunkOfEpoch[epoch % EPOCHS]!;
    if (this.#epochs[chunk] !== epoch) return undefined;
    const offset = place - epoch * OFFSET_SPAN;
    const headers = this.#headers[chunk]!;
    if (nowSeconds() - headers[offset >> 2]! > this.#lifetimeSeconds) return undefined;
    const start = offset + HEADER;
    return this.#chunks[chunk]!.toString('utf8', start, start + headers[(offset >> 2) + 1]!);
  }

  /** The head chunk is full: on to the next, or to a new one before it while it holds live answers and the budget allows. */
  #advance(now: number): void {
    const next = this.#after[this.#head]!;
    const live = this.#counts[next]! > 0 && now - this.#newest[next]! <= this.#lifetimeSeconds;
    const room = this.#chunks.length < this.#maxChunks;
    if (live && room) this.#enter(this.#addChunk());
    else {
      this.#drop(next);
      this.#enter(next);
    }
  }

  /** A new chunk, after the head in the ring. */
  #addChunk(): number {
    const id = this.#chunks.length;
    const per = this.#chunksPerBlock;
    const at = id % per;
    // The chunks are added in order: the first of a block allocates it, as many chunks as the budget has left.
    if (at === 0) this.#blocks.push(Buffer.allocUnsafeSlow(Math.min(per, this.#maxChunks - id) * this.#chunkBytes));
    const bytes = this.#blocks[(id - at) / per]!.subarray(at * this.#chunkBytes, (at + 1) * this.#chunkBytes);
    this.#chunks.push(bytes);
    this.#headers.push(new Int32Array(bytes.buffer, bytes.byteOffset, bytes.length >> 2));
    const head = this.#head;
    this.#after.push(head < 0 ? id : this.#after[head]!);
    if (head >= 0) this.#after[head] = id;
    this.#epochs.push(-1);
    this.#counts.push(0);
    this.#newest.push(0);
    return id;
  }

  /** Writes go to `chunk` (empty) from its start, under a new epoch. */
  #enter(chunk: number): void {
    this.#head = chunk;
    this.#offset = 0;
    this.#epoch++;
    this.#epochs[chunk] = this.#epoch;
    this.#chunkOfEpoch[this.#epoch % EPOCHS] = chunk;
  }

  /** Drops the answers of `chunk`: their places read as absent from now on. */
  #drop(chunk: number): void {
    this.#count -= this.#counts[chunk]!;
    this.#counts[chunk] = 0;
    this.#epochs[chunk] = -1;
  }

  /** Drops the oldest chunk holding answers (the head's own when it is the only one: writes then start it afresh). */
  #dropOldest(): void {
    let chunk = this.#after[this.#head]!;
    while (this.#counts[chunk] === 0 && chunk !== this.#head) chunk = this.#after[chunk]!;
    this.#drop(chunk);
    if (chunk === this.#head) this.#enter(chunk);
  }
}
