import { describe, expect, it } from 'vitest';
import { conversationId } from '../src/conversations.ts';

describe('conversationId', () => {
  it('joins channel, KF account and user, each URI-encoded where needed', () => {
    expect(conversationId('officialAccount', 'o_user1')).toBe('officialAccount//o_user1');
    expect(conversationId('wecomKf', 'wm-ann', 'wk-main')).toBe('wecomKf/wk-main/wm-ann');
    expect(conversationId('kf 2', 'a/b', 'wk~1')).toBe('kf%202/wk~1/a%2Fb');
    expect(conversationId('', '')).toBe('//');
  });

  it('leaves a part as it is exactly when it is letters, digits and _.~- (the first version: a RegExp test), else URI-encodes it', () => {
    const first = (part: string) => (/^[\w.~-]*$/.test(part) ? part : encodeURIComponent(part));
    const characters = [...Array.from({ length: 0x80 }, (_, c) => String.fromCharCode(c)), 'é', '长', '😀', '\u00a0', 'ａ'];
    for (const ch of characters) {
      for (const user of [ch, `a${ch}`, `${ch}9`, `o_${ch}-x`]) expect(conversationId('officialAccount', user), JSON.stringify(user)).toBe(`officialAccount//${first(user)}`);
      expect(conversationId(`kf${ch}`, 'u', `wk${ch}`)).toBe(`${first(`kf${ch}`)}/${first(`wk${ch}`)}/u`);
    }
  });

  it('calls in a row that differ in any one part get their own id (the last id is reused only for the same parts)', () => {
    const calls: [string, string, string | undefined, string][] = [
      ['wecomKf', 'u1', 'kf1', 'wecomKf/kf1/u1'],
      ['wecomKf', 'u1', 'kf1', 'wecomKf/kf1/u1'],
      ['wecomKf', 'u1', undefined, 'wecomKf//u1'],
      ['wecomKf', 'u1', 'kf2', 'wecomKf/kf2/u1'],
      ['wecomApp', 'u1', 'kf2', 'wecomApp/kf2/u1'],
      ['wecomApp', 'u2', 'kf2', 'wecomApp/kf2/u2'],
      ['wecomApp', ['u', '2'].join(''), 'kf2', 'wecomApp/kf2/u2'], // an equal user in another string
      ['', '', undefined, '//'],
      ['', '', undefined, '//'],
    ];
    for (const [channel, user, openKfId, id] of calls) expect(conversationId(channel, user, openKfId)).toBe(id);
  });

  it('gives every user of many, in any order, the id of their parts: ids made earlier are reused only for the same parts, past the bound too', () => {
    // More users than the ids kept (16 384), so the kept ones start over on the way.
    const users = Array.from({ length: 20_000 }, (_, i) => `o_${i.toString(36)}${i % 7 === 0 ? '/x' : ''}`);
    const want = (channel: string, user: string, openKfId?: string) => [channel, openKfId ?? '', user].map(encodeURIComponent).join('/');
    const wrong: string[] = [];
    const check = (channel: string, user: string, openKfId?: string) => {
      const id = conversationId(channel, user, openKfId);
      if (id !== want(channel, user, openKfId)) wrong.push(`${channel} ${openKfId} ${user}: ${id}`);
    };
    for (let round = 0; round < 3; round++) {
      for (let i = 0; i < users.length; i += 1 + round) {
        const user = [users[i]!.slice(0, 1), users[i]!.slice(1)].join(''); // an equal user in another string
        // Every 50th user writes on another channel and KF account in the second round, then back.
        const kf = i % 50 === 0 && round === 1 ? 'wk-2' : undefined;
        const channel = kf ? 'wecomKf' : 'officialAccount';
        check(channel, user, kf);
        check(channel, user);
        check('officialAccount', user);
      }
    }
    expect(wrong).toEqual([]);
  });
});
