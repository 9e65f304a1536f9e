import { createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WeChatPeer } from '@wxbot/testing';
import { createBot, generateEncodingAESKey, wecomApp, type Bot } from '@wxbot/core';
import { RedisStore, StoreTimeoutError } from '../src/index.ts';
import { captureLogger } from '../../core/test/helpers.ts';

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
});
