import { afterEach, describe, expect, it, vi } from 'vitest';
import { createTestBot } from '@wxbot/testing';
import { keyword } from '../src/index.ts';

afterEach(() => vi.restoreAllMocks());

describe('a message text is normalised once', () => {
  it('for all hand-off words and every rule keyword, however many there are', async () => {
    const rules = Array.from({ length: 30 }, (_, i) => ({ keywords: [`关键词${i}`, `KEY${i}`], reply: `r${i}` }));
    rules.push({ keywords: ['hello'], match: 'exact', reply: 'exact' } as (typeof rules)[number]);
    const kit = await createTestBot({ plugins: [keyword({ rules, handoffWords: ['人工', '客服', '转人工'] })] });
    const normalize = vi.spyOn(String.prototype, 'normalize');
    // A text of characters whose NFKC form is known (common Han, ASCII, full-width forms) is
    // not handed to ICU at all; another one once for the keywords and hand-off words (the FAQ,
    // empty here, is not consulted).
    expect((await kit.send('这句话不含任何关键词')).texts).toEqual([]);
    expect((await kit.send('这句话不含任何关键词é')).texts).toEqual([]);
    const calls = (text: string) => normalize.mock.contexts.filter((self) => String(self) === text).length;
    expect(calls('这句话不含任何关键词')).toBe(0);
    expect(calls('这句话不含任何关键词é')).toBe(1);
    // Still the same matches as before: case and width folded, exact ignores edge punctuation.
    normalize.mockRestore();
    expect((await kit.send('ＫＥＹ7 在这里')).texts).toEqual(['r7']);
    expect((await kit.send('Hello！')).texts).toEqual(['exact']);
  });
});
