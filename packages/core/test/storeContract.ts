import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { getJson, setJson, type Store } from '../src/index.ts';

/** One Store implementation, as the contract suite sees it. */
export interface StoreHarness {
  name: string;
  /** A fresh, empty store; `reopen` opens another instance over the same data, where that exists. */
  create(): { store: Store; reopen?: () => Store };
  /** Neither durable nor shared: no second instance to open. */
  single?: boolean;
}

/**
 * The behaviour every Store must have (get/set/TTL/setIfAbsent/lock races). Shared with the
 * stores of other packages (@wxbot/redis) so each runs the same suite.
 */
export function storeContract(harness: StoreHarness): void {
  describe(`${harness.name} (Store contract)`, () => {
    let store: Store;
    let reopen: (() => Store) | undefined;
    let opened: Store[] = [];

    beforeEach(() => {
      const created = harness.create();
      store = created.store;
      opened.push(store);
      reopen =
        created.reopen &&
        (() => {
          const other = created.reopen!();
          opened.push(other);
          return other;
        });
    });

    afterEach(async () => {
      await Promise.all(opened.map((s) => s.close?.()));
      opened = [];
    });

    it('gets, sets, overwrites and deletes', async () => {
      expect(await store.get('missing')).toBeUndefined();
      await store.set('k', 'v1');
      expect(await store.get('k')).toBe('v1');
      await store.set('k', 'v2');
      expect(await store.get('k')).toBe('v2');
      await store.set('empty', '');
      expect(await store.get('empty')).toBe('');
      await store.set('unicode', '客服 cursor ✓');
      expect(await store.get('unicode')).toBe('客服 cursor ✓');
      await store.delete('k');
      expect(await store.get('k')).toBeUndefined();
      await expect(store.delete('never-set')).resolves.toBeUndefined();
    });

    it('getMany (where offered): the values in order, undefined for missing and expired keys', async () => {
      if (!store.getMany) return;
      await store.set('m:a', '1');
      await store.set('m:gone', 'x', 30);
      await store.set('m:c', '3');
      await sleep(80);
      expect(await store.getMany(['m:c', 'm:missing', 'm:a', 'm:gone'])).toEqual(['3', undefined, '1', undefined]);
      expect(await store.getMany([])).toEqual([]);
    });

    it('setMany (where offered): every key with its own TTL, none for an entry without', async () => {
      if (!store.setMany) return;
      await store.setMany([
        { key: 's:short', value: 'gone soon', ttlMs: 500 },
        { key: 's:long', value: '答复 ✓', ttlMs: 60_000 },
        { key: 's:ever', value: 'kept' },
      ]);
      expect([await store.get('s:short'), await store.get('s:long'), await store.get('s:ever')]).toEqual(['gone soon', '答复 ✓', 'kept']);
      await sleep(600);
      expect([await store.get('s:short'), await store.get('s:long'), await store.get('s:ever')]).toEqual([undefined, '答复 ✓', 'kept']);
      await expect(store.setMany([])).resolves.toBeUndefined();
    });

    it('round-trips JSON through getJson and setJson', async () => {
      await setJson(store, 'json', { cursor: 'abc', n: 3 });
      expect(await getJson(store, 'json')).toEqual({ cursor: 'abc', n: 3 });
      expect(await getJson(store, 'no-json')).toBeUndefined();
    });

    it('expires keys after their TTL, and a later set without TTL keeps the key', async () => {
      // What must still be there is given a TTL no test run comes near (a busy machine can take
      // longer than a short TTL between two calls); what must be gone, a short one and the wait.
      await store.set('short', 'v', 100);
      expect(await store.setIfAbsent('nx-short', 'v', 100)).toBe(true);
      await store.set('long', 'v', 60_000);
      expect(await store.setIfAbsent('nx-long', 'v', 60_000)).toBe(true);
      await store.set('forever', 'v');
      await store.set('renewed', 'old', 100);
      await store.set('renewed', 'new');
      await sleep(180);
      expect(await store.get('short')).toBeUndefined();
      expect(await store.get('nx-short')).toBeUndefined();
      expect(await store.get('long')).toBe('v');
      expect(await store.setIfAbsent('nx-long', 'again', 60_000)).toBe(false);
      expect(await store.get('nx-long')).toBe('v');
      expect(await store.get('forever')).toBe('v');
      expect(await store.get('renewed')).toBe('new');
      // An expired key is absent for setIfAbsent too.
      expect(await store.setIfAbsent('nx-short', 'again')).toBe(true);
      expect(await store.get('nx-short')).toBe('again');
    });

    it('setIfAbsent: exactly one of 50 concurrent callers wins, and it never overwrites', async () => {
      const results = await Promise.all(Array.from({ length: 50 }, (_, i) => store.setIfAbsent('race', `caller-${i}`, 5_000)));
      const winners = results.flatMap((won, i) => (won ? [i] : []));
      expect(winners).toHaveLength(1);
      expect(await store.get('race')).toBe(`caller-${winners[0]}`);

      await store.set('taken', 'first');
      expect(await store.setIfAbsent('taken', 'second')).toBe(false);
      expect(await store.get('taken')).toBe('first');
    });

    it('lock: exactly one of 50 concurrent callers holds it until release', async () => {
      const releases = await Promise.all(Array.from({ length: 50 }, () => store.lock('job', 5_000)));
      const held = releases.filter((release) => release !== undefined);
      expect(held).toHaveLength(1);
      expect(await store.lock('job', 5_000)).toBeUndefined();
      await held[0]!();
      const again = await store.lock('job', 5_000);
      expect(again).toBeTypeOf('function');
      await again!();
      // Releasing twice is harmless.
      await again!();
    });

    it('lock: expires after its TTL, and a stale release does not free the next holder', async () => {
      const stale = await store.lock('lease', 80);
      expect(stale).toBeTypeOf('function');
      await sleep(150);
      const current = await store.lock('lease', 5_000);
      expect(current).toBeTypeOf('function');
      await stale!();
      expect(await store.lock('lease', 5_000)).toBeUndefined();
      await current!();
      expect(await store.lock('lease', 5_000)).toBeTypeOf('function');
    });

    // A store that is neither durable nor shared has no second instance to open.
    if (!harness.single)
      it('a second instance over the same data sees the writes', async () => {
        await store.set('kept', 'v');
        await store.set('gone', 'v');
        await store.delete('gone');
        await store.set('brief', 'v', 100);
        await setJson(store, 'kf:cursor', { cursor: 'c-42' });
        // Closing first shows the data outlives the instance that wrote it.
        await store.close?.();

        const other = reopen!();
        expect(await other.get('kept')).toBe('v');
        expect(await other.get('gone')).toBeUndefined();
        expect(await getJson(other, 'kf:cursor')).toEqual({ cursor: 'c-42' });
        expect(await other.setIfAbsent('kept', 'other')).toBe(false);
        await sleep(180);
        expect(await other.get('brief')).toBeUndefined();
      });
  });
}
