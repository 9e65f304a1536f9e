import { MemoryStore } from '@wxbot/core';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ConversationMemory } from '../src/memory.ts';

const options = { turns: 3, ttlMs: 60_000 };
const turn = (n: number, at = 1_000 + n) => ({ user: `q${n}`, assistant: `a${n}`, at });

afterEach(() => vi.restoreAllMocks());

describe('ConversationMemory', () => {
  it('keeps a turn another message saved between load and append (the stored text is read again)', async () => {
    const store = new MemoryStore();
    const now = () => 2_000;
    const first = new ConversationMemory(store, options, now);
    const second = new ConversationMemory(store, options, now);
    await first.append('k', turn(1));
    expect(await first.load('k')).toEqual([turn(1)]);
    await second.append('k', turn(2)); // finished while the first was waiting for its model
    await first.append('k', turn(3));
    expect(await second.load('k')).toEqual([turn(1), turn(2), turn(3)]);
    await first.append('k', turn(4));
    expect(await second.load('k')).toEqual([turn(2), turn(3), turn(4)]);
  });

  it('keeps both turns of two appends at once (answers that end together), in the order they came', async () => {
    const store = new MemoryStore();
    const now = () => 2_000;
    await new ConversationMemory(store, options, now).append('k', turn(1));
    await Promise.all([new ConversationMemory(store, options, now).append('k', turn(2)), new ConversationMemory(store, options, now).append('k', turn(3))]);
    expect(await new ConversationMemory(store, options, now).load('k')).toEqual([turn(1), turn(2), turn(3)]);
  });

  it('goes on with the next append of a key after one whose store write failed', async () => {
    const store = new MemoryStore();
    const memory = new ConversationMemory(store, options, () => 2_000);
    const set = store.set.bind(store);
    let fail = true;
    store.set = async (key, value, ttlMs) => {
      if (fail) {
        fail = false;
        throw new Error('store down');
      }
      return set(key, value, ttlMs);
    };
    const [first, second] = await Promise.allSettled([memory.append('k', turn(1)), memory.append('k', turn(2))]);
    expect(first).toMatchObject({ status: 'rejected', reason: { message: 'store down' } });
    expect(second.status).toBe('fulfilled');
    expect(await memory.load('k')).toEqual([turn(2)]);
  });

  it('saves the turns as they were, whatever a hook did to the ones load() gave it', async () => {
    const store = new MemoryStore();
    const memory = new ConversationMemory(store, options, () => 2_000);
    await memory.append('k', turn(1));
    const history = await memory.load('k');
    history[0]!.assistant = '[trimmed for the prompt]'; // what a buildMessages hook may do
    await memory.append('k', turn(2));
    expect(await memory.load('k')).toEqual([turn(1), turn(2)]);
  });

  it('parses the stored text once for a load and the append after it when nothing changed', async () => {
    const store = new MemoryStore();
    const memory = new ConversationMemory(store, options, () => 2_000);
    await memory.append('k', turn(1));
    const answering = new ConversationMemory(store, options, () => 2_000);
    const parse = vi.spyOn(JSON, 'parse');
    await answering.load('k');
    await answering.append('k', turn(2));
    expect(parse).toHaveBeenCalledTimes(1);
    expect(await memory.load('k')).toEqual([turn(1), turn(2)]);
  });

  it('forgets turns older than ttlMs, keeps the last `turns`, and throws on a stored text that is not JSON', async () => {
    const store = new MemoryStore();
    let clock = 1_000;
    const memory = new ConversationMemory(store, { turns: 2, ttlMs: 100 }, () => clock);
    for (const n of [1, 2, 3]) await memory.append('k', turn(n, 1_000 + n * 10));
    expect(await memory.load('k')).toEqual([turn(2, 1_020), turn(3, 1_030)]);
    clock = 1_125;
    expect(await memory.load('k')).toEqual([turn(3, 1_030)]);
    await store.set('k', '{"v":1,"turns":[{"user":1}]}');
    expect(await memory.load('k')).toEqual([]);
    await store.set('k', '{"v":1,');
    await expect(memory.load('k')).rejects.toThrow(SyntaxError);
  });
});
