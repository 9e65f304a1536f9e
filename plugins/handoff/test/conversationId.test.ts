import { describe, expect, it } from 'vitest';
import { conversationId } from '../src/conversations.ts';

/** The id as written out: each part URI-encoded unless it only holds [\w.~-]. */
const expected = (channel: string, user: string, openKfId = '') => [channel, openKfId, user].map((part) => (/^[\w.~-]*$/.test(part) ? part : encodeURIComponent(part))).join('/');

describe('conversationId (kept per channel and user)', () => {
  it('gives the written-out id on first and later calls, per channel, with and without a KF account, past the number kept', () => {
    const users = ['o_user1', 'o/user 2', '用户', '', 'a%b', ...Array.from({ length: 12_000 }, (_, i) => `oUser${i}`)];
    for (let round = 0; round < 2; round++) {
      for (const user of users) {
        expect(conversationId('officialAccount', user)).toBe(expected('officialAccount', user));
        expect(conversationId('wecom app', user)).toBe(expected('wecom app', user));
        expect(conversationId('officialAccount', user, undefined)).toBe(expected('officialAccount', user));
        expect(conversationId('wecomKf', user, 'wk/1')).toBe(expected('wecomKf', user, 'wk/1'));
      }
    }
    // The same user on two channels, and a KF account or none, are different conversations.
    expect(conversationId('a', 'u')).not.toBe(conversationId('b', 'u'));
    expect(conversationId('a', 'u', 'kf')).not.toBe(conversationId('a', 'u'));
  });
});
