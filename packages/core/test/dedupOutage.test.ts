import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WeChatPeer } from '@wxbot/testing';
import { MemoryStore, createBot, officialAccount, type Bot } from '../src/index.ts';
import { captureLogger } from './helpers.ts';

/** A store whose server went away while `down` (every command fails as a Redis client's would). */
class FailingStore extends MemoryStore {
  down = false;
  #check(op: string): void {
    if (this.down) throw new Error(`RedisStore: ${op} failed: connect ECONNREFUSED 127.0.0.1:6379`);
  }
  override async setIfAbsent(key: string, value: string, ttlMs?: number): Promise<boolean> {
    this.#check('SET NX');
    return super.setIfAbsent(key, value, ttlMs);
  }
  override async set(key: string, value: string, ttlMs?: number): Promise<void> {
    this.#check('SET');
    return super.set(key, value, ttlMs);
  }
  override async get(key: string): Promise<string | undefined> {
    this.#check('GET');
    return super.get(key);
  }
}

let bot: Bot;
let peer: WeChatPeer;
const store = new FailingStore();
const logs = captureLogger('debug');

beforeAll(async () => {
  bot = createBot({ channels: [officialAccount({ appId: 'wxdedup', token: 't' })], store, logger: logs.log });
  bot.on('text', (ctx) => ctx.reply(`got ${ctx.text}`));
  const { url } = await bot.start({ port: 0, host: '127.0.0.1' });
  peer = new WeChatPeer({ url: `${url}/wx`, kind: 'officialAccount', token: 't', receiveId: 'wxdedup' });
});
afterAll(() => bot.stop());

const dedupLines = (level: number) => logs.lines.filter((l) => l['level'] === level && /^dedup/.test(String(l['msg'])));

describe('the dedup store goes down and comes back', () => {
  it('one warning when the outage starts, one when it ends; each failure at debug with its stack; every message answered', async () => {
    expect((await peer.text('before')).reply).toMatchObject({ Content: 'got before' });
    store.down = true;
    for (let i = 0; i < 5; i++) expect((await peer.text(`during ${i}`)).reply).toMatchObject({ Content: `got during ${i}` });
    const started = dedupLines(40);
    expect(started).toHaveLength(1);
    expect(started[0]).toMatchObject({
      msg: expect.stringMatching(/^dedup store unavailable: messages are processed without dedup/),
      reason: 'RedisStore: SET NX failed: connect ECONNREFUSED 127.0.0.1:6379',
    });
    expect(started[0]!['err']).toBeUndefined();
    // Per message: the claim and the answer's record both failed, at debug, with the stack.
    const details = dedupLines(20);
    expect(details).toHaveLength(10);
    expect(details.every((l) => typeof (l['err'] as { stack?: unknown }).stack === 'string')).toBe(true);
    expect(details.filter((l) => l['msgId'] !== undefined)).toHaveLength(5);

    store.down = false;
    for (let i = 0; i < 3; i++) expect((await peer.text(`after ${i}`)).reply).toMatchObject({ Content: `got after ${i}` });
    const warnings = dedupLines(40);
    expect(warnings).toHaveLength(2);
    expect(warnings[1]).toMatchObject({ msg: 'dedup store answers again: retries are recognised again', failures: 10 });
    expect(dedupLines(20)).toHaveLength(10);

    expect(logs.lines.filter((l) => (l['level'] as number) >= 40).map((l) => l['msg'])).toEqual(warnings.map((l) => l['msg']));
    // A second outage is told again.
    store.down = true;
    await peer.text('again');
    expect(dedupLines(40)).toHaveLength(3);
  });
});
