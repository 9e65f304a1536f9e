/**
 * Byte rings of the callback dedup (marks.ts's keys, answers.ts's bodies): a Uint8Array whose
 * size is a power of two, addressed by absolute offsets (what was ever written before a byte:
 * a JS number, exact to 2^53) taken modulo its size. An absolute offset tells a byte that was
 * overwritten (below the head less the size) from one still there, and survives the ring being
 * grown: the live bytes are copied to the same absolute offsets modulo the new size.
 */

/** The ring's position of absolute offset `at` (`%`, not `&`: offsets pass 2^31 after a few hours). */
export function ringPosition(at: number, size: number): number {
  return at % size;
}

/**
 * A ring of `size` bytes (twice `from`'s) holding `from`'s bytes between absolute offsets
 * `start` and `end` at the same absolute offsets. A run of bytes that does not cross a multiple
 * of `from`'s size crosses none of the new one (its multiples are multiples of the old).
 */
export function grownRing<T extends Uint8Array>(from: T, to: T, start: number, end: number): T {
  for (let at = start; at < end; ) {
    const source = ringPosition(at, from.length);
    const target = ringPosition(at, to.length);
    const length = Math.min(end - at, from.length - source, to.length - target);
    to.set(from.subarray(source, source + length), target);
    at += length;
  }
  return to;
}
