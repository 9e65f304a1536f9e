/**
 * got is loaded at the first call that needs it (media up/downloads, the AI bot's response_url
 * posts and media downloads). A load that fails is a WeChatApiError like any failed call, spends
 * nothing (a response_url keeps its one call), and the next call loads got again.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startFakeWeChatApi, type FakeWeChatApi } from '@wxbot/testing';
import { MemoryStore, WeChatApiError } from '../src/index.ts';
import { WeChatApiClient } from '../src/protocol.ts';
import { downloadAiBotMedia, ResponseUrlSender } from '../src/channels/aibot/http.ts';
import { captureLogger } from './helpers.ts';

/** The loader's next `failures` calls fail as a process out of file descriptors would; then got loads. */
const gotLoads = vi.hoisted(() => ({ failures: 0 }));
vi.mock('../src/api/loadGot.ts', async (importOriginal) => {
  const real = await importOriginal<typeof import('../src/api/loadGot.ts')>();
  return {
    loadGot: () => {
      if (gotLoads.failures === 0) return real.loadGot();
      gotLoads.failures--;
      return Promise.reject(Object.assign(new Error("EMFILE: too many open files, open '/app/node_modules/got/dist/source/index.js'"), { code: 'EMFILE' }));
    },
  };
});

const CORP = 'ww-got-load';
const SECRET = 'got-load-secret';
let api: FakeWeChatApi;
/** Answers every request 200 `{}` and counts them. */
let server: Server;
let base: string;
let posts = 0;

beforeAll(async () => {
  api = await startFakeWeChatApi({ credentials: [{ id: CORP, secret: SECRET }] });
  server = createServer((request, response) => {
    posts++;
    request.resume();
    response.writeHead(200, { 'content-type': 'application/json' }).end('{}');
  });
  await new Promise<void>((listening) => server.listen(0, '127.0.0.1', listening));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await api.close();
  await new Promise<void>((closed) => server.close(() => closed()));
});

async function apiError(call: Promise<unknown>): Promise<WeChatApiError> {
  const error = await call.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(WeChatApiError);
  return error as WeChatApiError;
}

describe('got that fails to load', () => {
  it("is the API client's WeChatApiError and a log line; the next media call loads it and succeeds", async () => {
    const logs = captureLogger();
    const client = new WeChatApiClient({ credential: { kind: 'wecom', corpId: CORP, secret: SECRET }, baseUrl: api.url, store: new MemoryStore(), log: logs.log });
    const file = { data: Buffer.from([0x89, 0x50, 0x4e, 0x47, 1, 2]), fileName: 'a.png', contentType: 'image/png' };
    gotLoads.failures = 1;
    const error = await apiError(client.uploadMedia('image', file));
    expect(error).toMatchObject({ endpoint: 'cgi-bin/media/upload', errcode: -1 });
    expect(error.message).toContain('request failed: got could not be loaded (EMFILE: too many open files');
    expect(logs.lines.find((line) => line['level'] === 50)).toMatchObject({ endpoint: 'cgi-bin/media/upload', msg: expect.stringContaining('got could not be loaded') });
    const mediaId = await client.uploadMedia('image', file);
    expect((await client.downloadMedia(mediaId)).data.equals(file.data)).toBe(true);
  });

  it('leaves a response_url unspent: the answer is sent at the next try', async () => {
    const sender = new ResponseUrlSender();
    const url = `${base}/cgi-bin/aibot/response?response_code=one-time`;
    const before = posts;
    gotLoads.failures = 1;
    const error = await apiError(sender.post(url, { msgtype: 'markdown', markdown: { content: 'hi' } }));
    expect(error.message).toContain('request failed: got could not be loaded');
    expect(error.message).not.toContain('one-time');
    await sender.post(url, { msgtype: 'markdown', markdown: { content: 'hi' } });
    expect(posts - before).toBe(1);
    // Sent once: its one call is spent now.
    expect((await apiError(sender.post(url, { msgtype: 'markdown' }))).message).toContain('used already');
  });

  it("is an AI-bot media download's WeChatApiError", async () => {
    gotLoads.failures = 1;
    const error = await apiError(downloadAiBotMedia(`${base}/media?token=secret-media-token`, Buffer.alloc(32)));
    expect(error.message).toContain('got could not be loaded');
    expect(error.message).not.toContain('secret-media-token');
  });
});
