import type { IncomingMessage } from 'node:http';
import { startFakeWeChatApi, type FakeWeChatApi } from '@wxbot/testing';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { clientAddress, LoginThrottle } from '../src/throttle.ts';
import { AgentClient, ALICE, CORP, KF_SECRET, sleep, startKfBot, type KfBot } from './helpers.ts';

/** Issue 12, defect 8: 30,000 wrong agent tokens went through in 5.3 s. */
let api: FakeWeChatApi;
const running: KfBot[] = [];
const clients: AgentClient[] = [];
beforeAll(async () => {
  api = await startFakeWeChatApi({ credentials: [{ id: CORP, secret: KF_SECRET }] });
});
afterAll(() => api.close());
afterEach(async () => {
  for (const client of clients.splice(0)) client.close();
  await Promise.all(running.splice(0).map((kf) => kf.bot.stop()));
});

const statusOf = (kf: KfBot, token: string) =>
  AgentClient.connect(kf.url, { token }).then(
    (client) => {
      clients.push(client);
      return 101;
    },
    (error: { status?: number }) => error.status ?? 0,
  );
const refusedBadToken = (kf: KfBot) => kf.logs.filter((l) => l['msg'] === 'agent connection refused: bad or missing token').length;
const throttled = (kf: KfBot) => kf.logs.filter((l) => String(l['msg']).startsWith('agent login throttled'));

describe('agent login throttle (WebSocket token; the console signs in through it)', () => {
  it('blocks an address after its bad tokens: 429 without looking at the token, one log line per block', async () => {
    const kf = await startKfBot(api, { loginThrottle: { maxFailures: 3, blockMs: 60_000 } });
    running.push(kf);
    const statuses: number[] = [];
    for (let i = 0; i < 200; i++) statuses.push(await statusOf(kf, `wrong-token-${i}-0123456789`));
    expect(statuses.slice(0, 3)).toEqual([401, 401, 401]);
    expect(new Set(statuses.slice(3))).toEqual(new Set([429]));
    // Only the first three tokens were checked; one line says the address is blocked.
    expect(refusedBadToken(kf)).toBe(3);
    expect(throttled(kf)).toHaveLength(1);
    expect(throttled(kf)[0]).toMatchObject({ level: 40, remote: '127.0.0.1', blockMs: 60_000 });
    // Even the right token waits out the block.
    expect(await statusOf(kf, ALICE)).toBe(429);
  });

  it('lets the right token in once the block ends, and a good login clears the count', async () => {
    const kf = await startKfBot(api, { loginThrottle: { maxFailures: 2, blockMs: 200 } });
    running.push(kf);
    expect([await statusOf(kf, 'wrong-token-a-0123456789'), await statusOf(kf, 'wrong-token-b-0123456789')]).toEqual([401, 401]);
    expect(await statusOf(kf, ALICE)).toBe(429);
    await sleep(250);
    expect(await statusOf(kf, ALICE)).toBe(101);
    // Cleared: one bad token is again only a 401, not a block.
    expect(await statusOf(kf, 'wrong-token-c-0123456789')).toBe(401);
    expect(await statusOf(kf, ALICE)).toBe(101);
  });

  it('can be turned off', async () => {
    const kf = await startKfBot(api, { loginThrottle: false });
    running.push(kf);
    for (let i = 0; i < 20; i++) expect(await statusOf(kf, `wrong-token-${i}-0123456789`)).toBe(401);
    expect(await statusOf(kf, ALICE)).toBe(101);
  });
});

describe('LoginThrottle', () => {
  it('doubles each further block of an address up to the longest, and forgets a quiet one', () => {
    const throttle = new LoginThrottle({ maxFailures: 2, blockMs: 1000, maxBlockMs: 5000 });
    const blocks: number[] = [];
    let now = 0;
    for (let round = 0; round < 5; round++) {
      expect(throttle.fail('a', now)).toBe(0);
      const ms = throttle.fail('a', now);
      blocks.push(ms);
      expect(throttle.blockedFor('a', now)).toBe(ms);
      expect(throttle.blockedFor('b', now)).toBe(0);
      now += ms;
      expect(throttle.blockedFor('a', now)).toBe(0);
    }
    expect(blocks).toEqual([1000, 2000, 4000, 5000, 5000]);
    // Quiet longer than the longest block: starts over at the first block.
    now += 5001;
    throttle.fail('a', now);
    expect(throttle.fail('a', now)).toBe(1000);
  });

  it('remembers at most 10 000 addresses', () => {
    const throttle = new LoginThrottle();
    for (let i = 0; i < 12_000; i++) throttle.fail(`10.0.${i >> 8}.${i & 255}`, 0);
    expect(throttle.size).toBe(10_000);
  });

  it('counts the TCP peer, the proxy-appended X-Forwarded-For only when trusted, IPv6 per /64', () => {
    const request = (remoteAddress: string, forwarded?: string) =>
      ({ socket: { remoteAddress }, headers: forwarded ? { 'x-forwarded-for': forwarded } : {} }) as unknown as IncomingMessage;
    expect(clientAddress(request('10.0.0.5', '1.2.3.4, 5.6.7.8'), false)).toBe('10.0.0.5');
    expect(clientAddress(request('10.0.0.5', '1.2.3.4, 5.6.7.8'), true)).toBe('5.6.7.8');
    expect(clientAddress(request('::ffff:127.0.0.1'), false)).toBe('::ffff:127.0.0.1');
    expect(clientAddress(request('2001:db8:0:1:aaaa::1'), false)).toBe('2001:db8:0:1::/64');
    expect(clientAddress(request('2001:0db8:0000:0001:ffff:1:2:3'), false)).toBe('2001:db8:0:1::/64');
    expect(clientAddress(request('2001:db8::1'), false)).toBe('2001:db8:0:0::/64');
  });
});
