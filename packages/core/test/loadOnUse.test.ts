/**
 * A module loaded at its first use is loaded once, shared, and never kept failed: a transient
 * failure (EMFILE) fails the uses it met, and the next use loads again.
 */
import { describe, expect, it } from 'vitest';
import { loadOnUse } from '../src/loadOnUse.ts';

/** A loader that fails its first `failures` runs with EMFILE, then resolves its run number. */
function flakyLoader(failures: number) {
  let runs = 0;
  const load = async () => {
    runs++;
    if (runs <= failures) throw Object.assign(new Error('EMFILE: too many open files'), { code: 'EMFILE' });
    return runs;
  };
  return { load, runs: () => runs };
}

describe('loadOnUse', () => {
  it('loads once for every caller, at the first call, and keeps what it loaded', async () => {
    const loader = flakyLoader(0);
    const get = loadOnUse(loader.load);
    expect(loader.runs()).toBe(0);
    expect(await Promise.all([get(), get(), get()])).toEqual([1, 1, 1]);
    expect(await get()).toBe(1);
    expect(loader.runs()).toBe(1);
  });

  it('after a failure, the callers that waited get it and the next call loads again', async () => {
    const loader = flakyLoader(1);
    const get = loadOnUse(loader.load);
    const waiting = await Promise.allSettled([get(), get()]);
    expect(waiting.map((result) => result.status)).toEqual(['rejected', 'rejected']);
    expect(loader.runs()).toBe(1);
    expect(await get()).toBe(2);
    expect(await get()).toBe(2);
    expect(loader.runs()).toBe(2);
  });

  it('a loader that throws instead of rejecting is a failure tried again too', async () => {
    let runs = 0;
    const get = loadOnUse(() => {
      if (++runs === 1) throw new Error('thrown');
      return Promise.resolve('loaded');
    });
    await expect(get()).rejects.toThrow('thrown');
    expect(await get()).toBe('loaded');
  });
});
