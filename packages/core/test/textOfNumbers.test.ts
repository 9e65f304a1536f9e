import { describe, expect, it } from 'vitest';
import { stampAndNonce } from '../src/channels/base.ts';
import { splitText } from '../src/reply/split.ts';

describe('stampAndNonce (the passive reply nonce)', () => {
  it('stampAndNonce gives a decimal nonce below 10¹⁰ and the time in seconds', () => {
    for (let i = 0; i < 1000; i++) {
      const { timestamp, nonce } = stampAndNonce();
      expect(nonce).toMatch(/^(0|[1-9]\d{0,9})$/);
      expect(Math.abs(Number(timestamp) - Date.now() / 1000)).toBeLessThan(2);
    }
  });
});

describe('splitText', () => {
  it('keeps a text of up to maxBytes UTF-8 bytes whole, whatever its characters', () => {
    expect(splitText('你'.repeat(682), 2048)).toEqual(['你'.repeat(682)]); // 2046 bytes
    expect(splitText('你'.repeat(683), 2048)).toEqual(['你'.repeat(682), '你']); // 2049 bytes
    expect(splitText('a'.repeat(2048), 2048)).toHaveLength(1);
    expect(splitText('a'.repeat(2049), 2048)).toEqual(['a'.repeat(2048), 'a']);
    expect(splitText('😀'.repeat(512), 2048)).toHaveLength(1); // 4 bytes, two code units each
    expect(splitText('😀'.repeat(513), 2048)).toEqual(['😀'.repeat(512), '😀']);
  });
});
