import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ChainedCbc } from '../src/crypto/chainedCbc.ts';
import { seededRandom } from './helpers.ts';

// What a fresh cipher with the IV gives: the reference for every message of a chained run.
const fresh = (direction: 'encrypt' | 'decrypt', key: Buffer, iv: Buffer, data: Buffer): Buffer => {
  const cipher = direction === 'encrypt' ? createCipheriv('aes-256-cbc', key, iv) : createDecipheriv('aes-256-cbc', key, iv);
  cipher.setAutoPadding(false);
  return Buffer.concat([cipher.update(data), cipher.final()]);
};

const xor16 = (a: Buffer, b: Buffer, c: Buffer): Buffer => Buffer.from(a.subarray(0, 16).map((byte, k) => byte ^ b[k]! ^ c[k]!));

/** Lengths from 1 to 70 blocks, seeded: short callbacks, long ones, one block. */
function lengths(seed: number, count: number): number[] {
  const random = seededRandom(seed);
  return Array.from({ length: count }, () => 16 * (1 + Math.floor(random() * 70)));
}

describe('ChainedCbc', () => {
  const key = randomBytes(32);
  const iv = key.subarray(0, 16);

  it('decrypting: every block past the first is what a fresh decipher gives, whatever came before', () => {
    const chained = new ChainedCbc('decrypt', key, iv);
    let firstBlocksRight = 0;
    for (const length of lengths(1, 200)) {
      const ciphertext = randomBytes(length);
      const ours = chained.update(ciphertext);
      const reference = fresh('decrypt', key, iv, ciphertext);
      expect(ours.length).toBe(length);
      expect(ours.subarray(16).equals(reference.subarray(16))).toBe(true);
      if (ours.subarray(0, 16).equals(reference.subarray(0, 16))) firstBlocksRight++;
    }
    // Only the very first message starts from the IV: the others' first blocks are chained from the message before.
    expect(firstBlocksRight).toBe(1);
  });

  it('encrypting: a fresh decipher reads the data back, its first block as data ^ the previous last ciphertext block ^ IV', () => {
    const chained = new ChainedCbc('encrypt', key, iv);
    let previous: Buffer = iv;
    for (const length of lengths(2, 200)) {
      const data = randomBytes(length);
      const ours = chained.update(data);
      expect(ours.length).toBe(length);
      const read = fresh('decrypt', key, iv, ours);
      expect(read.subarray(16).equals(data.subarray(16))).toBe(true);
      expect(read.subarray(0, 16).equals(xor16(data, previous, iv))).toBe(true);
      // And the ciphertext is exactly a fresh cipher's for what the receiver reads.
      expect(fresh('encrypt', key, iv, read).equals(ours)).toBe(true);
      previous = ours.subarray(length - 16);
    }
  });

  it('refuses data that is not whole blocks, and chains on unharmed after it', () => {
    for (const direction of ['encrypt', 'decrypt'] as const) {
      const chained = new ChainedCbc(direction, key, iv);
      const before = randomBytes(64);
      const beforeOut = chained.update(before);
      for (const length of [1, 15, 17, 33]) expect(() => chained.update(randomBytes(length))).toThrow(RangeError);
      const data = randomBytes(96);
      const out = chained.update(data);
      // Chained from the last block of the call before the refused ones.
      const previous = direction === 'encrypt' ? beforeOut.subarray(48) : before.subarray(48);
      expect(out.equals(fresh(direction, key, previous, data))).toBe(true);
    }
  });

  it('gives an empty buffer for no data', () => {
    expect(new ChainedCbc('decrypt', key, iv).update(Buffer.alloc(0)).length).toBe(0);
  });
});
