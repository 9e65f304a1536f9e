import { createHash, timingSafeEqual } from 'node:crypto';

/**
 * WeChat's signature: sha1 over the lexicographically sorted parts, joined with nothing.
 * Plain mode signs [token, timestamp, nonce]; encrypted modes add the ciphertext.
 */
export function sortedSha1(...parts: string[]): string {
  // Each part hashed in turn (same digest as hashing the join): no copy of a 1 MiB ciphertext.
  const hash = createHash('sha1');
  for (const part of parts.sort()) hash.update(part, 'utf8');
  return hash.digest('hex');
}

/** Constant-time comparison of two hex signatures (a length mismatch is simply false). */
export function signaturesEqual(expected: string, received: string | undefined): boolean {
  if (received === undefined) return false;
  const a = Buffer.from(expected, 'utf8');
  const b = Buffer.from(received.toLowerCase(), 'utf8');
  return a.length === b.length && timingSafeEqual(a, b);
}
