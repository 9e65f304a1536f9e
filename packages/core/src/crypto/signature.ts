import * as crypto from 'node:crypto';

/** One-shot hashing (Node ≥ 20.12): no Hash object, ~2× faster for a signature's few short parts. */
const hashOnce = (crypto as { hash?: (algorithm: string, data: string, encoding: 'hex') => string }).hash;
/** Up to this many characters the parts are joined and hashed at once; beyond, streamed. */
const JOIN_LIMIT = 16 * 1024;

/**
 * WeChat's signature: sha1 over the lexicographically sorted parts, joined with nothing.
 * Plain mode signs [token, timestamp, nonce]; encrypted modes add the ciphertext.
 */
export function sortedSha1(...parts: string[]): string {
  sortInPlace(parts);
  let length = 0;
  for (const part of parts) length += part.length;
  if (hashOnce && length <= JOIN_LIMIT) return hashOnce('sha1', parts.join(''), 'hex');
  // Each part hashed in turn (same digest as hashing the join): no copy of a 1 MiB ciphertext.
  const hash = crypto.createHash('sha1');
  for (const part of parts) hash.update(part, 'utf8');
  return hash.digest('hex');
}

/**
 * The order of `Array.prototype.sort()` (UTF-16 code units) for the 3–4 parts of a signature,
 * by insertion: the built-in sort allocates ~0.8 KB a call for its work arrays (measured).
 */
function sortInPlace(parts: string[]): void {
  for (let i = 1; i < parts.length; i++) {
    const part = parts[i]!;
    let j = i - 1;
    while (j >= 0 && parts[j]! > part) {
      parts[j + 1] = parts[j]!;
      j--;
    }
    parts[j + 1] = part;
  }
}

/**
 * Constant-time comparison of two hex signatures (a length mismatch is simply false). On the
 * character codes, not on two Buffers (~0.3 µs less a callback): equal codes are equal UTF-8 bytes.
 */
export function signaturesEqual(expected: string, received: string | undefined): boolean {
  if (received === undefined) return false;
  const lower = received.toLowerCase();
  if (lower.length !== expected.length) return false;
  let difference = 0;
  for (let i = 0; i < expected.length; i++) difference |= expected.charCodeAt(i) ^ lower.charCodeAt(i);
  return difference === 0;
}
