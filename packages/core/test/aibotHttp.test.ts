/**
 * The AI bot's own HTTP calls (response_url posts, media downloads) go through got, loaded at
 * their first use: a failed call is still a WeChatApiError that names the HTTP status or the
 * network error, and never the URL's query (its one-time code).
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WeChatApiError } from '../src/index.ts';
import { downloadAiBotMedia, ResponseUrlSender } from '../src/channels/aibot/http.ts';

const SECRET_QUERY = 'response_code=one-time-code-0123456789';

/** Answers every request with the status its path names (/status/503), or 200 `{}`. */
let server: Server;
let base: string;
beforeAll(async () => {
  server = createServer((request, response) => {
    const status = Number(/^\/status\/(\d+)/.exec(request.url ?? '')?.[1] ?? 200);
    response.writeHead(status, { 'content-type': 'application/json' }).end('{}');
  });
  await new Promise<void>((listening) => server.listen(0, '127.0.0.1', listening));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((closed) => server.close(() => closed())));

/** A port nothing listens on (it was free a moment ago). */
async function refusedUrl(): Promise<string> {
  const closed = createServer();
  await new Promise<void>((listening) => closed.listen(0, '127.0.0.1', listening));
  const { port } = closed.address() as AddressInfo;
  await new Promise((done) => closed.close(done));
  return `http://127.0.0.1:${port}`;
}

async function failure(call: Promise<unknown>): Promise<WeChatApiError> {
  const error = await call.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(WeChatApiError);
  const apiError = error as WeChatApiError;
  expect(apiError.message + String(apiError.stack) + JSON.stringify(apiError)).not.toContain('one-time-code');
  return apiError;
}

describe('AI-bot HTTP calls that fail', () => {
  it('a response_url post answered 500, or refused, names the status or the error code', async () => {
    const sender = new ResponseUrlSender();
    expect((await failure(sender.post(`${base}/status/500?${SECRET_QUERY}`, { msgtype: 'text' }))).message).toContain('request failed: HTTP 500');
    const refused = await failure(sender.post(`${await refusedUrl()}/r?${SECRET_QUERY}`, { msgtype: 'text' }));
    expect(refused.message).toContain('request failed: ECONNREFUSED');
  });

  it('a response_url whose request never left (refused) keeps its one call; one answered 500 spent it', async () => {
    const sender = new ResponseUrlSender();
    const refusedAt = `${await refusedUrl()}/r?${SECRET_QUERY}`;
    await failure(sender.post(refusedAt, { msgtype: 'text' }));
    expect((await failure(sender.post(refusedAt, { msgtype: 'text' }))).message).toContain('request failed: ECONNREFUSED');
    const answered = `${base}/status/500?${SECRET_QUERY}`;
    await failure(sender.post(answered, { msgtype: 'text' }));
    expect((await failure(sender.post(answered, { msgtype: 'text' }))).message).toContain('used already');
  });

  it('a media download answered 404 names the status and the URLs’ 5-minute life', async () => {
    const error = await failure(downloadAiBotMedia(`${base}/status/404?${SECRET_QUERY}`, Buffer.alloc(32)));
    expect(error.message).toContain('download failed: HTTP 404 (AI-bot media URLs expire after 5 minutes)');
  });
});
