import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { aes256CbcNoPadding } from '../src/crypto/cbc.ts';

// aes256CbcNoPadding skips final(): it must give exactly what update() + final() give.
const reference = (direction: 'encrypt' | 'decrypt', key: Buffer, iv: Buffer, data: Buffer): Buffer => {
  const cipher = direction === 'encrypt' ? createCipheriv('aes-256-cbc', key, iv) : createDecipheriv('aes-256-cbc', key, iv);
  cipher.setAutoPadding(false);
  return Buffer.concat([cipher.update(data), cipher.final()]);
};

describe('aes256CbcNoPadding', () => {
  it('gives the bytes of update() + final(), both ways, from 1 to 64 blocks and 1 MiB', () => {
    for (const blocks of [1, 2, 3, 16, 31, 64, 65_536]) {
      const key = randomBytes(32);
      const iv = randomBytes(16);
      const data = randomBytes(blocks * 16);
      const encrypted = aes256CbcNoPadding('encrypt', key, iv, data);
      expect(encrypted.equals(reference('encrypt', key, iv, data))).toBe(true);
      expect(encrypted.equals(data)).toBe(false);
      const decrypted = aes256CbcNoPadding('decrypt', key, iv, encrypted);
      expect(decrypted.equals(reference('decrypt', key, iv, encrypted))).toBe(true);
      expect(decrypted.equals(data)).toBe(true);
    }
  });

  it('gives an empty buffer for no data', () => {
    const key = randomBytes(32);
    expect(aes256CbcNoPadding('decrypt', key, key.subarray(0, 16), Buffer.alloc(0)).length).toBe(0);
  });

  it('refuses a length that is not whole blocks (final() would have thrown)', () => {
    const key = randomBytes(32);
    for (const length of [1, 15, 17, 33]) {
      expect(() => aes256CbcNoPadding('decrypt', key, key.subarray(0, 16), randomBytes(length))).toThrow(RangeError);
      expect(() => reference('decrypt', key, key.subarray(0, 16), randomBytes(length))).toThrow();
    }
  });

  it('each call starts from the IV: the same input gives the same output every time', () => {
    const key = randomBytes(32);
    const iv = randomBytes(16);
    const data = randomBytes(96);
    const first = aes256CbcNoPadding('encrypt', key, iv, data);
    aes256CbcNoPadding('encrypt', key, iv, randomBytes(48));
    expect(aes256CbcNoPadding('encrypt', key, iv, data).equals(first)).toBe(true);
  });
});
