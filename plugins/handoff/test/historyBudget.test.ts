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

  it('a conversation opened to agents moves to the kept shelf, outside the budget', async () => {
    const store = new MemoryStore();
    const history = new History({ recent: 'process', kept: store, locks: new KeyedLocks(store), size: 50, ttlMs: 3600_000, maxRecentBytes: 64 * 1024 });
    await history.append('oa:held', entry(1, 'help me'), false);
    await history.keep('oa:held');
    for (let c = 0; c < 500; c++) await history.append(`oa:user${c}`, entry(100 + c, 'x'.repeat(500)), false);
    expect((await history.read('oa:held')).map((e) => e.text)).toEqual(['help me']);
  });
});
