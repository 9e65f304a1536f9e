import { grownRing, ringPosition } from './rings.ts';
import { nowSeconds } from './marks.ts';

/** What {@link AnswerRing.write} returns for an answer it does not keep (longer than its budget, or none kept at all). */
export const NOT_KEPT = -1;
/** A record that only fills the ring's end up to the next lap (an answer did not fit before it). */
const PAD = -1;
/** Each record: the second it was written and its body's byte length (two int32), then the body, to a multiple of 8. */
const HEADER = 8;
/** Bytes the ring starts with: ~90 default-bot answers in safe mode. A bot that gets ten messages allocates no more. */
const FIRST_BYTES = 64 * 1024;

/**
 * The passive answers of the callbacks recorded in one MemoryStore, kept for WeChat's retries
 * (see Marks, which holds each answer's place): each as the HTTP body alone, in UTF-8 bytes, in
 * one ring of bytes (a Buffer, outside the JavaScript heap): no object per answer, which the
 * collector would copy and promote (a Buffer object and a Map entry each, ~70 B a message, kept
 * 60–80 s), nor a string of the body (two bytes a character for a Chinese reply: ~0.6 KB). A
 * retry gets the bytes decoded: what the first answer's bytes on the wire were.
 *
 * An answer is kept its lifetime (ANSWER_TTL_MS: to a second more), and the ring grows (doubling,
 * lazily: a quiet bot keeps a small one) while the answer its next write would overwrite is
 * still inside that time, up to `budget` bytes; past that, and past `max` answers, the oldest
 * go first. An answer's place is its absolute offset: below the ring's tail it was overwritten
 * and reads as absent, so a place never reads another answer's bytes.
 */
export class AnswerRing {
  #lifetimeSeconds: number;
  #bytes: Buffer;
  /** The same bytes as int32, for the records' headers (records start at multiples of 8). */
  #headers: Int32Array;
  /** Absolute offsets of the oldest record kept and of the next one's. */
  #tail = 0;
  #head = 0;
  #count = 0;

  /**
   * @param max the most answers kept at once
   * @param budget the most bytes the ring grows to (a power of two)
   */
  constructor(
    lifetimeMs: number,
    readonly max: number,
    readonly budget: number,
  ) {
    this.#lifetimeSeconds = Math.ceil(lifetimeMs / 1000);
    this.#bytes = Buffer.allocUnsafeSlow(Math.min(FIRST_BYTES, budget));
    this.#headers = headersOf(this.#bytes);
  }

  /** Answers kept, expired ones not yet overwritten included. */
  get size(): number {
    return this.#count;
  }

  /** Bytes the ring takes (it only grows): for tests and figures. */
  get bytes(): number {
    return this.#bytes.length;
  }

  /** Keeps `body`: its place, for {@link read}, or {@link NOT_KEPT}. */
  write(body: string): number {
    const length = Buffer.byteLength(body);
    const record = HEADER + ((length + 7) & ~7);
    if (record > this.budget || this.max < 1) return NOT_KEPT;
    const now = nowSeconds();
    for (;;) {
      const size = this.#bytes.length;
      const position = ringPosition(this.#head, size);
      // A record is never split at the ring's end: what is left of the lap is a pad record.
      const pad = size - position < record ? size - position : 0;
      if (this.#count === 0) {
        // Nothing to keep (pads at most): start afresh at the next lap, if the record needs it.
        this.#head += pad;
        this.#tail = this.#head;
        if (record > size) this.#grow();
        else break;
      } else if (this.#count >= this.max) this.#dropOldest();
      else if (this.#head + pad + record - this.#tail <= size) {
        if (pad) this.#writeHeader(position, PAD, pad - HEADER);
        this.#head += pad;
        break;
      } else if (size < this.budget && this.#live(this.#tail, now)) this.#grow();
      else this.#dropOldest();
    }
    const position = ringPosition(this.#head, this.#bytes.length);
    this.#writeHeader(position, now, length);
    this.#bytes.write(body, position + HEADER, length, 'utf8');
    const place = this.#head;
    this.#head += record;
    this.#count++;
    return place;
  }

  /** The answer kept at `place` ({@link write}), or undefined when it was overwritten or is past its time. */
  read(place: number): string | undefined {
    if (place < this.#tail || place >= this.#head) return undefined;
    const position = ringPosition(place, this.#bytes.length);
    if (!this.#live(place, nowSeconds())) return undefined;
    const start = position + HEADER;
    return this.#bytes.toString('utf8', start, start + this.#headers[(position >> 2) + 1]!);
  }

  /** Whether the record at `place` (kept) is an answer inside its time. */
  #live(place: number, now: number): boolean {
    const second = this.#headers[ringPosition(place, this.#bytes.length) >> 2]!;
    return second !== PAD && now - second <= this.#lifetimeSeconds;
  }

  #writeHeader(position: number, second: number, length: number): void {
    this.#headers[position >> 2] = second;
    this.#headers[(position >> 2) + 1] = length;
  }

  /** Drops the record at the tail (a pad, or the oldest answer). */
  #dropOldest(): void {
    const position = ringPosition(this.#tail, this.#bytes.length);
    if (this.#headers[position >> 2] !== PAD) this.#count--;
    this.#tail += HEADER + ((this.#headers[(position >> 2) + 1]! + 7) & ~7);
  }

  #grow(): void {
    this.#bytes = grownRing(this.#bytes, Buffer.allocUnsafeSlow(this.#bytes.length * 2), this.#tail, this.#head);
    this.#headers = headersOf(this.#bytes);
  }
}

function headersOf(bytes: Buffer): Int32Array {
  return new Int32Array(bytes.buffer, bytes.byteOffset, bytes.length >> 2);
}
