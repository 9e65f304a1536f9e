import { describe, expect, it } from 'vitest';
import { CallbackDedup, answerKeyOf } from '../src/delivery/dedup.ts';
import { MemoryStore } from '../src/index.ts';

/** A MemoryStore that records its writes (overriding them: the dedup must call these). */
class RecordingStore extends MemoryStore {
  readonly writes: string[] = [];
  override async set(key: string, value: string, ttlMs?: number): Promise<void> {
    this.writes.push(`set ${key}`);
    return super.set(key, value, ttlMs);
  }
  override async setIfAbsent(key: string, value: string, ttlMs?: number): Promise<boolean> {
    this.writes.push(`setIfAbsent ${key}`);
    return super.setIfAbsent(key, value, ttlMs);
  }
}

/**
 * A plain MemoryStore takes the dedup's synchronous path, any other store (a subclass that
 * overrides its writes included) the Store interface: both must answer retries alike.
 */
describe.each([
  ['MemoryStore (synchronous path)', () => new MemoryStore()],
  ['a MemoryStore subclass overriding its writes (Store path)', () => new RecordingStore()],
])('CallbackDedup over %s', (_name, makeStore) => {
  it('first delivery claims; an in-process retry waits for its answer; a later retry reads it from the store', async () => {
    const store = makeStore();
    const dedup = new CallbackDedup(store);
    expect(await dedup.claim('dedup:oa:1')).toEqual({ first: true });
    const retry = await dedup.claim('dedup:oa:1');
    expect(retry.first).toBe(false);
    await dedup.complete('dedup:oa:1', '<xml>answer</xml>');
    expect(retry.first === false && (await retry.response)).toBe('<xml>answer</xml>');
    // Another instance's view: only the store.
    const other = new CallbackDedup(store);
    const later = await other.claim('dedup:oa:1');
    expect(later.first === false && (await later.response)).toBe('<xml>answer</xml>');
    // Through the Store interface the answer has a key of its own; a plain MemoryStore's are
    // kept beside it (an AnswerRing), where every dedup over that store finds them.
    if (store instanceof RecordingStore) expect(await store.get(answerKeyOf('dedup:oa:1'))).toBe('<xml>answer</xml>');
    // `success` is kept as the mark itself.
    expect(await dedup.claim('dedup:oa:2')).toEqual({ first: true });
    await dedup.complete('dedup:oa:2', 'success');
    const again = await other.claim('dedup:oa:2');
    expect(again.first === false && (await again.response)).toBe('success');
    if (store instanceof RecordingStore) {
      expect(store.writes).toEqual([
        'setIfAbsent dedup:oa:1',
        `set ${answerKeyOf('dedup:oa:1')}`,
        'set dedup:oa:1',
        'setIfAbsent dedup:oa:1',
        'setIfAbsent dedup:oa:2',
        'set dedup:oa:2',
        'setIfAbsent dedup:oa:2',
      ]);
    }
  });

  it('a store failure while recording the answer is reported, and in-process retries still get it', async () => {
    const store = makeStore();
    const failing = Object.assign(store, {
      set: async () => {
        throw new Error('store down');
      },
    });
    const errors: unknown[] = [];
    const dedup = new CallbackDedup(failing);
    dedup.onError = (error) => errors.push(error);
    expect(await dedup.claim('dedup:oa:3')).toEqual({ first: true });
    const retry = await dedup.claim('dedup:oa:3');
    await expect(Promise.resolve(dedup.complete('dedup:oa:3', '<xml>a</xml>'))).resolves.toBeUndefined();
    expect(errors).toEqual([new Error('store down')]);
    expect(retry.first === false && (await retry.response)).toBe('<xml>a</xml>');
  });
});

it('over a plain MemoryStore, claims and answers are recorded before the calls return, beside the store (no write to it)', () => {
  const store = new MemoryStore();
  const dedup = new CallbackDedup(store);
  const other = new CallbackDedup(store);
  expect(dedup.claim('dedup:oa:9')).toEqual({ first: true });
  // The claim of a message in flight is its in-flight entry, shared by the dedups over the store.
  expect(other.claim('dedup:oa:9')).toMatchObject({ first: false });
  expect(dedup.complete('dedup:oa:9', '<xml>x</xml>')).toBeUndefined();
  expect(store.size).toBe(0); // mark and answer beside the store: no other process sees it
  const retry = other.claim('dedup:oa:9');
  expect(retry).toMatchObject({ first: false });
  return expect((retry as { response: Promise<string> }).response).resolves.toBe('<xml>x</xml>');
});

it('getJson: absent, parsed, and failures (rejected, thrown, bad JSON) all as a promise', async () => {
  const { getJson, setJson } = await import('../src/index.ts');
  const store = new MemoryStore();
  expect(await getJson(store, 'none')).toBeUndefined();
  await setJson(store, 'k', { a: [1, '二'] });
  expect(await getJson(store, 'k')).toEqual({ a: [1, '二'] });
  await store.set('bad', '{not json');
  await expect(getJson(store, 'bad')).rejects.toThrow(SyntaxError);
  const throwing = Object.assign(new MemoryStore(), {
    get: () => {
      throw new Error('sync failure');
    },
  });
  const result = getJson(throwing, 'k');
  expect(result).toBeInstanceOf(Promise);
  await expect(result).rejects.toThrow('sync failure');
  // A store whose get returns a plain value (not a promise) still works, as `await` allowed.
  const plain = Object.assign(new MemoryStore(), { get: () => '"x"' }) as unknown as MemoryStore;
  expect(await getJson(plain, 'k')).toBe('x');
});
