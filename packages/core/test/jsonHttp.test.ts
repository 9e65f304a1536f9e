import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { HttpFailure, JsonHttp } from '../src/api/http.ts';

/** A tiny JSON server that counts connections and requests; `onRequest` may misbehave. */
async function server(onRequest: (req: http.IncomingMessage, res: http.ServerResponse, n: number) => void) {
  let connections = 0;
  let requests = 0;
  const s = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      requests += 1;
      (req as http.IncomingMessage & { body: string }).body = body;
      onRequest(req, res, requests);
    });
  });
  s.on('connection', () => (connections += 1));
  await new Promise<void>((ok) => s.listen(0, '127.0.0.1', ok));
  servers.push(s);
  return { url: `http://127.0.0.1:${(s.address() as AddressInfo).port}/prefix`, connections: () => connections, requests: () => requests };
}
const servers: http.Server[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) {
    s.closeAllConnections();
    await new Promise((ok) => s.close(ok));
  }
});

const ok = (res: http.ServerResponse, body: unknown) => {
  res.setHeader('content-type', 'application/json');
  res.end(JSON.stringify(body));
};

describe('JsonHttp (the API client’s JSON calls)', () => {
  it('keeps connections alive: 50 calls in a row use one connection; path prefix, query and body arrive', async () => {
    const seen: string[] = [];
    const s = await server((req, res) => {
      seen.push(`${req.method} ${req.url} ${(req as unknown as { body: string }).body}`);
      ok(res, { errcode: 0 });
    });
    const client = new JsonHttp({ baseUrl: s.url, timeoutMs: 2000, retries: 0 });
    for (let i = 0; i < 50; i++) {
      const answer = await client.request('cgi-bin/kf/send_msg', `access_token=t${i}`, JSON.stringify({ n: i }), false);
      expect(JSON.parse(answer.body.toString())).toEqual({ errcode: 0 });
    }
    expect(s.connections()).toBe(1);
    expect(seen[7]).toBe('POST /prefix/cgi-bin/kf/send_msg?access_token=t7 {"n":7}');
  });

  it('a send on a kept-alive connection the server drops before answering is sent again on a new one', async () => {
    const s = await server((req, res, n) => {
      // The second request arrives on the reused socket: the server closes it unanswered.
      if (n === 2) req.socket.destroy();
      else ok(res, { errcode: 0, n });
    });
    const client = new JsonHttp({ baseUrl: s.url, timeoutMs: 2000, retries: 2 });
    await client.request('cgi-bin/kf/send_msg', '', '{}', false);
    const answer = await client.request('cgi-bin/kf/send_msg', '', '{}', false);
    expect(JSON.parse(answer.body.toString())).toEqual({ errcode: 0, n: 3 });
    expect(s.connections()).toBe(2);
  });

  it('a send whose fresh connection is dropped is not sent again (it may have arrived)', async () => {
    const s = await server((req) => req.socket.destroy());
    const client = new JsonHttp({ baseUrl: s.url, timeoutMs: 2000, retries: 2 });
    const error = await client.request('cgi-bin/kf/send_msg', '', '{}', false).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(HttpFailure);
    expect((error as HttpFailure).reason).toBe('ECONNRESET');
    expect(s.requests()).toBe(1);
  });

  it('a read that times out is retried; the failure names only the reason', async () => {
    const s = await server((_req, res, n) => {
      if (n === 1) setTimeout(() => ok(res, { late: true }), 500);
      else ok(res, { errcode: 0 });
    });
    const client = new JsonHttp({ baseUrl: s.url, timeoutMs: 100, retries: 1 });
    expect(JSON.parse((await client.request('cgi-bin/kf/sync_msg', 'access_token=secret', '{}', true)).body.toString())).toEqual({ errcode: 0 });
    const slow = await server((_req, res) => setTimeout(() => ok(res, {}), 500));
    const failing = new JsonHttp({ baseUrl: slow.url, timeoutMs: 100, retries: 1 });
    const error = (await failing.request('cgi-bin/kf/sync_msg', 'access_token=secret', '{}', true).catch((e: unknown) => e)) as HttpFailure;
    expect(error.message).toBe('ETIMEDOUT');
    expect(slow.requests()).toBe(2);
  });

  it('a connection refused is retried for a send too (it never left), then reported', async () => {
    const s = await server((_req, res) => ok(res, {}));
    const url = s.url;
    const [closed] = servers.splice(0);
    await new Promise((resolve) => closed!.close(resolve));
    const client = new JsonHttp({ baseUrl: url, timeoutMs: 500, retries: 2 });
    const started = Date.now();
    const error = (await client.request('cgi-bin/kf/send_msg', '', '{}', false).catch((e: unknown) => e)) as HttpFailure;
    expect(error.reason).toBe('ECONNREFUSED');
    expect(Date.now() - started).toBeGreaterThanOrEqual(250); // 100 + 200 ms of backoff
  });
});
