import { describe, expect, it } from 'vitest';
import { Claims } from '../src/delivery/claims.ts';
import { hashOf } from '../src/delivery/marks.ts';
import { seededRandom } from './helpers.ts';

/**
 * Claims against a Map, driven by long seeded random sequences of sets, gets and deletes:
 * growth from a capacity of 1, hashes that collide on purpose (probe runs that wrap round the
 * table, deletions that shift entries back across its end), keys of any characters, values
 * undefined and null.
 */

const HASHES: Record<string, (key: string) => number> = {
  real: hashOf,
  twoBuckets: (key) => hashOf(key) & 1,
  allEqual: () => -1,
  highBits: (key) => hashOf(key) & 0xf0000003,
};

function drive(seed: number, capacity: number, keyCount: number, steps: number, hashName: string): void {
  const random = seededRandom(seed);
  const hash = HASHES[hashName]!;
  const pieces = ['', 'a', 'é', '消', '😀', '\ud800', '\u0000', '1', '2'];
  const keys = new Set<string>(['']);
  while (keys.size < keyCount)
    keys.add(
      random() < 0.5
        ? `dedup:{oa:${Math.floor(random() * keyCount * 3)}}`
        : Array.from({ length: 1 + Math.floor(random() * 5) }, () => pieces[Math.floor(random() * pieces.length)]).join(''),
    );
  const pool = [...keys];
  const claims = new Claims<number | null | undefined>(capacity);
  const model = new Map<string, number | null | undefined>();
  // Phases that fill up and drain: the table grows, then runs near empty with its probe runs shifted.
  let fill = 0.5;
  for (let step = 0; step < steps; step++) {
    if (step % 500 === 0) fill = random();
    const key = pool[Math.floor(random() * pool.length)]!;
    const r = random();
    if (r < fill * 0.6) {
      const value = random() < 0.1 ? null : random() < 0.05 ? undefined : step;
      claims.set(key, hash(key), value);
      model.set(key, value);
    } else if (r < 0.6) {
      const got = claims.delete(key, hash(key));
      const want = model.get(key);
      model.delete(key);
      if (got !== want) throw new Error(`seed ${seed}: delete(${JSON.stringify(key)}) = ${got}, model ${want}`);
    } else {
      const got = claims.get(key, hash(key));
      if (got !== model.get(key)) throw new Error(`seed ${seed}: get(${JSON.stringify(key)}) = ${got}, model ${model.get(key)}`);
    }
    if (claims.size !== model.size) throw new Error(`seed ${seed}: size ${claims.size}, model ${model.size}`);
    if (step % 997 === 0) for (const k of pool) if (claims.get(k, hash(k)) !== model.get(k)) throw new Error(`seed ${seed}: get(${JSON.stringify(k)}) differs`);
  }
  for (const k of pool) expect(claims.get(k, hash(k))).toBe(model.get(k));
}

describe('Claims against a Map (seeded random sequences)', () => {
  it.each([
    [21, 1, 40, 20_000, 'allEqual'],
    [22, 2, 300, 30_000, 'twoBuckets'],
    [23, 4, 3000, 60_000, 'real'],
    [24, 64, 200, 30_000, 'highBits'],
    [25, 1, 8, 5_000, 'real'],
  ])('seed %i: capacity %i, %i keys, %i steps, hashes %s', (seed, capacity, keys, steps, hash) => drive(seed, capacity, keys, steps, hash));
});
