import http from 'node:http';
import type { AddressInfo } from 'node:net';
import zlib from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import { keepAliveFetch } from '../src/fetch.ts';

const servers: http.Server[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) {
    s.closeAllConnections();
    await new Promise((ok) => s.close(ok));
  }
});

async function server(handler: http.RequestListener) {
  let connections = 0;
  const s = http.createServer(handler);
  s.on('connection', () => (connections += 1));
  await new Promise<void>((ok) => s.listen(0, '127.0.0.1', ok));
  servers.push(s);
  return { url: `http://127.0.0.1:${(s.address() as AddressInfo).port}`, connections: () => connections };
}

const readBody = (req: http.IncomingMessage) =>
  new Promise<string>((ok) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => ok(body));
  });

describe('keepAliveFetch (the openai SDK’s fetch)', () => {
  it('sends method, headers and body; answers a standard Response; reuses one connection', async () => {
    const seen: string[] = [];
    const s = await server(async (req, res) => {
      seen.push(`${req.method} ${req.url} ${req.headers['authorization']} ${req.headers['content-type']} ${await readBody(req)}`);
      res.writeHead(200, { 'content-type': 'application/json', 'x-request-id': 'req_1' });
      res.end('{"ok":true}');
    });
    const fetch = keepAliveFetch();
    for (let i = 0; i < 20; i++) {
      const response = await fetch(`${s.url}/v1/chat/completions`, {
        method: 'POST',
        headers: new Headers({ authorization: 'Bearer k', 'content-type': 'application/json' }),
        body: `{"n":${i}}`,
      });
      expect(response).toBeInstanceOf(Response);
      expect(response.status).toBe(200);
      expect(response.headers.get('x-request-id')).toBe('req_1');
      expect(await response.json()).toEqual({ ok: true });
    }
    expect(seen[3]).toBe('POST /v1/chat/completions Bearer k application/json {"n":3}');
    expect(s.connections()).toBe(1);
  });

  it('rejects a status a Response cannot hold (600) instead of throwing outside the promise', async () => {
    const s = await server((_req, res) => {
      res.writeHead(600, 'Weird', { 'content-type': 'application/json' });
      res.end('{}');
    });
    await expect(keepAliveFetch()(`${s.url}/v1/chat/completions`, { method: 'POST', body: '{}' })).rejects.toThrow(/HTTP status 600/);
  });

  it('passes an event stream on as it comes, not at its end', async () => {
    let finish: () => void = () => {};
    const s = await server((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('data: one\n\n');
      finish = () => res.end('data: two\n\n');
    });
    const response = await keepAliveFetch()(`${s.url}/stream`, { method: 'POST', body: '{}' });
    const reader = response.body!.getReader();
    const first = await reader.read();
    expect(new TextDecoder().decode(first.value)).toBe('data: one\n\n');
    finish();
    const second = await reader.read();
    expect(new TextDecoder().decode(second.value)).toBe('data: two\n\n');
    expect((await reader.read()).done).toBe(true);
  });

  it('aborts: before the answer with the signal’s reason, and a stream cut mid-way with an error', async () => {
    const s = await server((req, res) => {
      if (req.url === '/slow') return; // never answers
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('data: one\n\n');
    });
    const fetch = keepAliveFetch();
    const early = new AbortController();
    const pending = fetch(`${s.url}/slow`, { signal: early.signal });
    setTimeout(() => early.abort(), 50);
    await expect(pending).rejects.toMatchObject({ name: 'AbortError' });

    const late = new AbortController();
    const response = await fetch(`${s.url}/stream`, { signal: late.signal });
    const reader = response.body!.getReader();
    await reader.read();
    late.abort();
    await expect(reader.read()).rejects.toMatchObject({ name: 'AbortError' });
  });

  it('decodes a gzip answer, and leaves redirects to the global fetch (which follows them)', async () => {
    const s = await server((req, res) => {
      if (req.url === '/old') {
        res.writeHead(307, { location: '/new' });
        return res.end();
      }
      res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': 'gzip' });
      res.end(zlib.gzipSync(JSON.stringify({ at: req.url })));
    });
    const fetch = keepAliveFetch();
    expect(await (await fetch(`${s.url}/new`)).json()).toEqual({ at: '/new' });
    expect(await (await fetch(`${s.url}/old`, { method: 'POST', body: '{}' })).json()).toEqual({ at: '/new' });
  });

  it('sends Host, Content-Length and the caller’s Accept-Encoding as fetch would; credentials in the URL as Basic auth', async () => {
    const seen: http.IncomingHttpHeaders[] = [];
    const s = await server(async (req, res) => {
      seen.push({ ...req.headers, 'x-path': req.url });
      await readBody(req);
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{}');
    });
    const fetch = keepAliveFetch();
    const body = '{"text":"你好"}';
    await (await fetch(`${s.url}/v1/chat/completions?api-version=1`, { method: 'POST', headers: { 'content-type': 'application/json', 'Content-Length': '1' }, body })).json();
    await (await fetch(`${s.url}/v1/models`, { headers: { 'accept-encoding': 'identity' } })).json();
    const withCredentials = s.url.replace('http://', 'http://user:pass@');
    await (await fetch(`${withCredentials}/v1/models`)).json();
    expect(seen[0]).toMatchObject({
      'x-path': '/v1/chat/completions?api-version=1',
      host: s.url.slice('http://'.length),
      'content-length': String(Buffer.byteLength(body)),
      'accept-encoding': 'gzip, deflate, br',
    });
    expect(seen[1]).toMatchObject({ host: s.url.slice('http://'.length), 'accept-encoding': 'identity' });
    expect(seen[1]).not.toHaveProperty('content-length');
    expect(seen[2]).toMatchObject({ authorization: `Basic ${Buffer.from('user:pass').toString('base64')}` });
  });
});
