import { describe, expect, it } from 'vitest';
import { Claims } from '../src/delivery/claims.ts';
import { hashOf } from '../src/delivery/marks.ts';

const keyOf = (i: number) => `dedup:{officialAccount:${7_200_000_000_000_000_000n + BigInt(i)}}`;

describe('Claims (the dedup over a MemoryStore: deliveries in flight)', () => {
  it('gets, sets and deletes by key, a value of null being a claim in flight', () => {
    const claims = new Claims<string | null>();
    const key = keyOf(1);
    expect(claims.get(key, hashOf(key))).toBeUndefined();
    claims.set(key, hashOf(key), null);
    expect(claims.get(key, hashOf(key))).toBeNull();
    claims.set(key, hashOf(key), 'waiting');
    expect([claims.get(key, hashOf(key)), claims.size]).toEqual(['waiting', 1]);
    expect(claims.delete(key, hashOf(key))).toBe('waiting');
    expect([claims.get(key, hashOf(key)), claims.size, claims.delete(key, hashOf(key))]).toEqual([undefined, 0, undefined]);
  });

  it('grows past its first capacity, and many claims ending in any order leave exactly the others found', () => {
    const claims = new Claims<number>(4);
    const live = new Set<number>();
    // Deterministic churn: up to ~700 in flight at once, ended out of order (backward shifts through wrapped probe runs).
    for (let i = 0; i < 20_000; i++) {
      claims.set(keyOf(i), hashOf(keyOf(i)), i);
      live.add(i);
      const end = (i * 7919) % (i + 1);
      if (live.has(end) && i % 3 !== 0) {
        expect(claims.delete(keyOf(end), hashOf(keyOf(end)))).toBe(end);
        live.delete(end);
      }
      if (i % 5 === 0 && live.size > 500) {
        const first = live.values().next().value!;
        claims.delete(keyOf(first), hashOf(keyOf(first)));
        live.delete(first);
      }
    }
    expect(claims.size).toBe(live.size);
    for (let i = 0; i < 20_000; i++) expect(claims.get(keyOf(i), hashOf(keyOf(i)))).toBe(live.has(i) ? i : undefined);
  });

  it('tells keys of equal hashes apart, and deleting one leaves the other', () => {
    const [a, b] = ['dedup:{oa:139599}', 'dedup:{oa:322382}'];
    expect(hashOf(a)).toBe(hashOf(b));
    const claims = new Claims<string>();
    claims.set(a, hashOf(a), 'a');
    expect(claims.get(b, hashOf(b))).toBeUndefined();
    claims.set(b, hashOf(b), 'b');
    expect(claims.delete(a, hashOf(a))).toBe('a');
    expect([claims.get(a, hashOf(a)), claims.get(b, hashOf(b))]).toEqual([undefined, 'b']);
  });
});
