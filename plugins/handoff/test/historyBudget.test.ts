import { MemoryStore } from '@wxbot/core';
import { describe, expect, it } from 'vitest';
import { History, type HistoryEntry } from '../src/history.ts';
import { KeyedLocks } from '../src/locks.ts';

/**
 * Issue 12, defect 7: everyone's recent history is kept in process over a memory store; by
 * conversation count alone (100 000 of 50 entries) it could grow to GBs. It has a byte budget.
 */
const entry = (i: number, text: string): HistoryEntry => ({ id: `m${i}`, at: Date.now(), direction: 'in', from: 'user', type: 'text', text });

describe("everyone's recent history in process", () => {
  it('stays within its byte budget: the conversations least recently written go first', async () => {
    const store = new MemoryStore();
    const history = new History({ recent: 'process', kept: store, locks: new KeyedLocks(store), size: 50, ttlMs: 3600_000, maxRecentBytes: 1024 * 1024 });
    const text = '长'.repeat(1000); // ~2 KB an entry
    for (let c = 0; c < 2000; c++) for (let i = 0; i < 10; i++) await history.append(`oa:user${c}`, entry(c * 10 + i, text), false);
    // 20 000 entries of ~2 KB were written (~44 MB); 1 MiB holds the last ~47 conversations of 10.
    expect(await history.read('oa:user0')).toEqual([]);
    expect(await history.read('oa:user1900')).toEqual([]);
    expect(await history.read('oa:user1999')).toHaveLength(10);
    expect(await history.read('oa:user1960')).toHaveLength(10);
  });

  it('keeps the last `size` entries in order once a conversation has more, and skips a redelivered msgid', async () => {
    const store = new MemoryStore();
    const history = new History({ recent: 'process', kept: store, locks: new KeyedLocks(store), size: 5, ttlMs: 3600_000 });
    for (let i = 0; i < 12; i++) await history.append('oa:wraps', entry(i, `text ${i}`), false);
    expect((await history.read('oa:wraps')).map((e) => e.id)).toEqual(['m7', 'm8', 'm9', 'm10', 'm11']);
    await history.append('oa:wraps', entry(11, 'text 11'), false); // the same msgid again
    await history.append('oa:wraps', { id: 'r1', at: 1_700_000_000_123, direction: 'out', from: 'agent', agent: 'alice', type: 'image', mediaId: 'MEDIA' }, false);
    const entries = await history.read('oa:wraps');
    expect(entries.map((e) => e.id)).toEqual(['m8', 'm9', 'm10', 'm11', 'r1']);
    expect(entries.at(-2)).toMatchObject({ id: 'm11', direction: 'in', from: 'user', type: 'text', text: 'text 11' });
    expect(entries.at(-1)).toEqual({ id: 'r1', at: 1_700_000_000_123, direction: 'out', from: 'agent', agent: 'alice', type: 'image', mediaId: 'MEDIA' });
    // Moved to the kept shelf as they were, in order.
    await history.keep('oa:wraps');
    expect((await history.read('oa:wraps')).map((e) => e.id)).toEqual(['m8', 'm9', 'm10', 'm11', 'r1']);
  });

  it('a conversation opened to agents moves to the kept shelf, outside the budget', async () => {
    const store = new MemoryStore();
    const history = new History({ recent: 'process', kept: store, locks: new KeyedLocks(store), size: 50, ttlMs: 3600_000, maxRecentBytes: 64 * 1024 });
    await history.append('oa:held', entry(1, 'help me'), false);
    await history.keep('oa:held');
    for (let c = 0; c < 500; c++) await history.append(`oa:user${c}`, entry(100 + c, 'x'.repeat(500)), false);
    expect((await history.read('oa:held')).map((e) => e.text)).toEqual(['help me']);
  });
});
