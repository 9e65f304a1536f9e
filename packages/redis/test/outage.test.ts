import { connect, createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { beforeAll, describe, expect, it } from 'vitest';
import { WeChatPeer, shouldRunRedisTests } from '@wxbot/testing';
import { captureLogger } from '../../core/test/helpers.ts';
import { durableSetup, lateReplyBot } from './fixture.ts';

/**
 * A Redis that goes away and comes back, as a restarted server does: a proxy to the shared
 * Redis on its own port that, when stopped, drops every connection and refuses new ones
 * (nothing listens), and when started listens on the same port again. The shared Redis
 * itself is never touched.
 */
async function startRestartableRedis(): Promise<{ port: number; stop(): Promise<void>; start(): Promise<void>; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => undefined);
    const upstream = connect(6379, '127.0.0.1');
    upstream.on('error', () => socket.destroy());
    socket.on('close', () => {
      sockets.delete(socket);
      upstream.destroy();
    });
    upstream.on('close', () => socket.destroy());
    socket.pipe(upstream).pipe(socket);
  });
  const listen = (port: number) => new Promise<void>((resolve, reject) => server.once('error', reject).listen(port, '127.0.0.1', () => resolve()));
  await listen(0);
  const port = (server.address() as AddressInfo).port;
  const stop = () =>
    new Promise<void>((resolve) => {
      for (const socket of sockets) socket.destroy();
      if (!server.listening) return resolve();
      server.close(() => resolve());
    });
  return { port, stop, start: () => listen(port), close: stop };
}

const withRedis = await shouldRunRedisTests('Redis outage logging');

describe.runIf(withRedis)('a Redis outage in durable mode', () => {
  const OA = { appId: 'wx-outage', appSecret: 'outage-secret', token: 'outage-token' };
  const setup = durableSetup([{ id: OA.appId, secret: OA.appSecret }]);
  let redis: Awaited<ReturnType<typeof startRestartableRedis>>;
  const logs = captureLogger('debug');

  beforeAll(async () => {
    redis = await startRestartableRedis();
    setup.onClose(() => redis.close());
  });

  it('logs one line when it starts and one when it ends, no stack above debug, and delivers from memory meanwhile', async () => {
    const { api } = setup;
    const bot = lateReplyBot(setup, OA, {
      replyWindowMs: 50,
      delayMs: 150,
      // Deadlines no busy machine's pause reaches: what ends the engine's use of Redis here is the
      // lost connection (an outage that a deadline would also end says 'did not answer' instead).
      store: { url: `redis://127.0.0.1:${redis.port}`, commandTimeoutMs: 3000, durable: { timeoutMs: 3000 } },
      bot: { logger: logs.log },
    });
    const { url } = await bot.start({ port: 0, host: '127.0.0.1' });
    expect(bot.delivery).toBe('durable');
    const peer = new WeChatPeer({ url: `${url}/wx`, kind: 'officialAccount', token: OA.token, receiveId: OA.appId });
    await peer.text('before', { from: 'u-outage' });
    await api.waitFor(() => api.textsTo('u-outage').includes('late:before'), 20_000);

    const scrape = async () => (await fetch(`${url}/metrics`)).text();
    const depthLines = (text: string) => text.split('\n').filter((line) => line.startsWith('wxbot_queue_jobs{'));
    const upBefore = await scrape();
    expect(upBefore).toMatch(/^wxbot_queue_up 1$/m);
    expect(depthLines(upBefore).length).toBeGreaterThan(0);

    const from = logs.lines.length;
    await redis.stop();
    // Every connection (the engine's, BullMQ's blocking ones, the store's) retries meanwhile.
    const connectionErrors = () => logs.lines.slice(from).filter((l) => l['msg'] === 'durable delivery: connection error').length;
    await api.waitFor(() => bot.delivery === 'memory-fallback' && connectionErrors() > 2, 15_000);
    // The depth gauge does not repeat the last counts it read: it is absent, and up says 0.
    const down = await scrape();
    expect(down).toMatch(/^wxbot_queue_up 0$/m);
    expect(depthLines(down)).toEqual([]);
    await peer.text('during', { from: 'u-outage' });
    await api.waitFor(() => api.textsTo('u-outage').includes('late:during'), 20_000);
    await redis.start();
    await api.waitFor(() => bot.delivery === 'durable', 15_000);
    const upAgain = await scrape();
    expect(upAgain).toMatch(/^wxbot_queue_up 1$/m);
    expect(depthLines(upAgain).length).toBeGreaterThan(0);
    await peer.text('after', { from: 'u-outage' });
    await api.waitFor(() => api.textsTo('u-outage').includes('late:after'), 20_000);

    const outage = logs.lines.slice(from);
    const loud = outage.filter((l) => Number(l['level']) >= 40);
    const engine = loud.filter((l) => /durable delivery (unavailable|available again)/.test(String(l['msg'])));
    expect(engine.map((l) => String(l['msg']).slice(0, 34))).toEqual(['durable delivery unavailable: lost', 'durable delivery available again: ']);
    // Nothing else of the engine's at warn or above, and no stack but at debug.
    expect(loud.filter((l) => /queue|worker|lease/i.test(String(l['msg'])) && !engine.includes(l))).toEqual([]);
    // (Core's dedup says per message that it runs without its store, with the error: not the engine's.)
    expect(outage.filter((l) => Number(l['level']) > 20 && !String(l['msg']).startsWith('dedup') && JSON.stringify(l).includes('"stack"'))).toEqual([]);
    // The errors were there: at debug, with their stacks.
    expect(connectionErrors()).toBeGreaterThan(2);
    expect(api.textsTo('u-outage')).toEqual(['late:before', 'late:during', 'late:after']);
  }, 90_000);
});
