import { connect, createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { WeChatPeer, shouldRunRedisTests } from '@wxbot/testing';
import { createBot, generateEncodingAESKey, wecomApp, type Bot } from '@wxbot/core';
import { RedisStore, StoreTimeoutError } from '../src/index.ts';
import { captureLogger } from '../../core/test/helpers.ts';
import { durableSetup, lateReplyBot } from './fixture.ts';

/**
 * A "Redis" that accepts connections and never answers: what a stopped (SIGSTOP), paused or
 * swapping server looks like from the client. Never the shared Redis: a fake on port 0.
 */
async function startHangingServer(): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('data', () => {}); // read and ignore everything
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    close: () => {
      for (const socket of sockets) socket.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

const KEY = generateEncodingAESKey();
let hanging: Awaited<ReturnType<typeof startHangingServer>>;
let bot: Bot;
let base: string;
const logs = captureLogger();

beforeAll(async () => {
  hanging = await startHangingServer();
  bot = createBot({
    channels: [wecomApp({ corpId: 'wwhung', token: 't', encodingAESKey: KEY })],
    store: new RedisStore({ url: `redis://127.0.0.1:${hanging.port}`, commandTimeoutMs: 300 }),
    logger: logs.log,
  });
  bot.on('text', (ctx) => ctx.reply('still here'));
  base = (await bot.start({ port: 0, host: '127.0.0.1' })).url;
});
afterAll(async () => {
  await bot.stop();
  await hanging.close();
});

describe('a Redis that hangs', () => {
  it('store calls reject at their deadline instead of waiting forever', async () => {
    const store = new RedisStore({ url: `redis://127.0.0.1:${hanging.port}`, commandTimeoutMs: 200 });
    await expect(store.get('k')).rejects.toThrow(/no answer within 200 ms/);
    await expect(store.get('k')).rejects.toMatchObject({ cause: expect.any(StoreTimeoutError) });
    await store.close();
  });

  it('callbacks are answered as with the store down (passively, in the window), and the outage is logged once', async () => {
    const peer = new WeChatPeer({ url: `${base}/wecom/callback`, kind: 'wecomApp', token: 't', encodingAESKey: KEY, receiveId: 'wwhung' });
    for (let i = 0; i < 3; i++) {
      const response = await peer.text(`hello ${i}`);
      expect(response.status).toBe(200);
      expect(response.reply?.['Content']).toBe('still here');
    }
    const outage = logs.lines.filter((l) => String(l['msg']).startsWith('Redis did not answer in time'));
    expect(outage).toHaveLength(1);
    expect(logs.text()).not.toContain('hello'); // message text never logged
  });

  it('/metrics answers, with no queue depth and wxbot_queue_up 0 (nothing read from Redis)', async () => {
    const started = Date.now();
    const text = await (await fetch(`${base}/metrics`)).text();
    expect(Date.now() - started).toBeLessThan(5000);
    expect(text).toMatch(/^wxbot_queue_up 0$/m);
    expect(text).not.toMatch(/^wxbot_queue_jobs\{/m);
  });
});

/**
 * A proxy to the real Redis that first swallows everything (a hung server), and once told
 * to forward, drops the hung connections (as a restarted server does) and pipes new ones.
 */
async function startSwitchingProxy(): Promise<{ port: number; forward(): void; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  let forwarding = false;
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    if (!forwarding) return void socket.on('data', () => {});
    const upstream = connect(6379, '127.0.0.1');
    upstream.on('error', () => socket.destroy());
    socket.on('close', () => upstream.destroy());
    upstream.on('close', () => socket.destroy());
    socket.pipe(upstream).pipe(socket);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    forward() {
      forwarding = true;
      for (const socket of sockets) socket.destroy();
    },
    close: () => {
      for (const socket of sockets) socket.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

const withRedis = await shouldRunRedisTests('durable mode on a hung Redis');

describe.runIf(withRedis)('durable mode on a Redis that hangs, then answers again', () => {
  const OA = { appId: 'wx-hung', appSecret: 'hung-secret', token: 'hung-token' };
  const setup = durableSetup([{ id: OA.appId, secret: OA.appSecret }]);
  const { prefix } = setup;
  let proxy: Awaited<ReturnType<typeof startSwitchingProxy>>;
  const durableLogs = captureLogger('info');

  beforeAll(async () => {
    proxy = await startSwitchingProxy();
    setup.onClose(() => proxy.close());
  });

  it('starts, answers slow messages from this process, says so once, queues durably again once Redis answers, and stops', async () => {
    const { api } = setup;
    const durableBot = lateReplyBot(setup, OA, {
      replyWindowMs: 100,
      delayMs: 300,
      store: { url: `redis://127.0.0.1:${proxy.port}`, commandTimeoutMs: 300, durable: { leaseMs: 1000 } },
      bot: { logger: durableLogs.log },
    });
    // start() finishes although no Redis command is ever answered.
    const { url } = await durableBot.start({ port: 0, host: '127.0.0.1' });
    expect(durableBot.durable).toBe(true);
    const peer = new WeChatPeer({ url: `${url}/wx`, kind: 'officialAccount', token: OA.token, receiveId: OA.appId });
    for (const text of ['one', 'two']) expect((await peer.text(text, { from: 'hung-user' })).body).toBe('success');
    await api.waitFor(() => api.textsTo('hung-user').length === 2, 10_000);
    expect(api.textsTo('hung-user')).toEqual(['late:one', 'late:two']);
    const fallback = durableLogs.lines.filter((l) => String(l['msg']).startsWith('durable delivery unavailable'));
    expect(fallback).toHaveLength(1);
    expect(String(fallback[0]!['msg'])).toContain('falling back to in-process delivery');

    // Redis answers again: the engine notices by itself, and a slow message is a job again
    // (stored as a lease: it got its arrival number), whose run sends its reply and leaves
    // the reply's done-record.
    proxy.forward();
    const deadline = Date.now() + 15_000;
    while (!durableLogs.lines.some((l) => String(l['msg']).startsWith('durable delivery available again')) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(durableLogs.lines.some((l) => String(l['msg']).startsWith('durable delivery available again'))).toBe(true);
    const msgId = '7100000000000000003';
    expect((await peer.text('three', { from: 'hung-user', msgId })).body).toBe('success');
    await api.waitFor(() => api.textsTo('hung-user').length === 3, 15_000);
    expect(api.textsTo('hung-user')).toEqual(['late:one', 'late:two', 'late:three']);
    const admin = new Redis('redis://127.0.0.1:6379');
    try {
      expect(await admin.exists(`${prefix}q:order:seq:officialAccount:${msgId}`)).toBe(1);
      expect(await admin.exists(`${prefix}q:sent:officialAccount:${msgId}:0`)).toBe(1);
    } finally {
      admin.disconnect();
    }
  });
});
