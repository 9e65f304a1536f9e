import { describe, expect, it } from 'vitest';
import { dedupKeyOf } from '../src/delivery/dedup.ts';
import { owned, ownedCompact } from '../src/store/owned.ts';
import { heapAfterGc } from './helpers.ts';

describe('owned', () => {
  it('returns the same characters for every length, one- and two-byte, slices and concatenations', () => {
    const texts = ['', 'a', 'abcdefghijkl', 'abcdefghijklm', '7000016924000013549', '你好，想问一下 wxbot', 'x\ud800y lone surrogate here', 'é'.repeat(40)];
    const parent = `<xml>${texts.join('|')}</xml>`;
    for (const text of texts) {
      const at = parent.indexOf(text);
      const slice = parent.slice(at, at + text.length);
      expect(owned(slice)).toBe(text);
      expect(owned(`dedup:{oa:${slice}}`)).toBe(`dedup:{oa:${text}}`);
      expect(ownedCompact(slice)).toBe(text);
      expect(ownedCompact(`dedup:{oa:${slice}}`)).toBe(`dedup:{oa:${text}}`);
    }
    const long = `${'长'.repeat(100)}${'x'.repeat(100)}`;
    expect(ownedCompact(long.slice(50))).toBe(long.slice(50));
  });

  it('keeps no part of the string it was cut from alive (heap after GC)', () => {
    const kept: string[] = [];
    const before = heapAfterGc();
    for (let i = 0; i < 20; i++) {
      const parent = `${String(i).padStart(4, '0')}${'y'.repeat(500_000)}`; // ~0.5 MB each
      kept.push(owned(parent.slice(0, 40)), owned(`key:${parent.slice(0, 40)}`));
    }
    const grown = heapAfterGc() - before;
    expect(kept[0]).toBe(`0000${'y'.repeat(36)}`);
    expect(grown).toBeLessThan(1_000_000); // the parents are 10 MB
  });

  it('ownedCompact, dedupKeyOf: an id cut from a two-byte document (any Chinese in a callback) is kept one byte a character', () => {
    // Many keys: what else the heap gains between the two GCs (a few hundred KB in a busy run) is then a few bytes a key.
    const N = 100_000;
    const document = `<xml><Content>你好</Content><MsgId>${'0'.repeat(N.toString().length)}</MsgId></xml>`;
    const ids = Array.from({ length: N }, (_, i) => {
      const doc = document.replace(/<MsgId>\d+/, `<MsgId>7200000000000${String(i).padStart(6, '0')}`);
      const at = doc.indexOf('<MsgId>') + 7;
      return doc.slice(at, at + 19); // two bytes a character, as its document
    });
    const measure = (keyOf: (id: string) => string) => {
      const before = heapAfterGc();
      const keys = ids.map(keyOf);
      const perKey = (heapAfterGc() - before) / N - 8; // each key's slot in the array
      expect(keys[N - 1]).toBe(`dedup:{officialAccount:7200000000000${String(N - 1).padStart(6, '0')}}`);
      return perKey;
    };
    // 44 characters: 64 bytes one-byte, 104 two-byte.
    expect(measure((id) => dedupKeyOf('officialAccount', id))).toBeLessThan(80);
    expect(measure((id) => ownedCompact(`dedup:{officialAccount:${id}}`))).toBeLessThan(80);
    expect(measure((id) => owned(`dedup:{officialAccount:${id}}`))).toBeGreaterThan(90);
  });
});
