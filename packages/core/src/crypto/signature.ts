import { createHash, timingSafeEqual } from 'node:crypto';

/**
 * WeChat's signature: sha1 over the lexicographically sorted parts, joined with nothing.
 * Plain mode signs [token, timestamp, nonce]; encrypted modes add the ciphertext.
 */
export function sortedSha1(...parts: string[]): string {
  return createHash('sha1').update(parts.sort().join('')).digest('hex');
}

/** Constant-time comparison of two hex signatures (a length mismatch is simply false). */
export function signaturesEqual(expected: string, received: string | undefined): boolean {
  if (received === undefined) return false;
  const a = Buffer.from(expected, 'utf8');
  const b = Buffer.from(received.toLowerCase(), 'utf8');
  return a.length === b.length && timingSafeEqual(a, b);
}
