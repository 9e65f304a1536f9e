/**
 * The HTTP layer as WeChat and operators see it: statuses, bodies, content types and log lines
 * of callbacks (answered, refused, failed), and the other routes beside them. The handler is
 * a small stand-in for the bot so each outcome can be produced on purpose.
 */
import type { IncomingMessage, Server } from 'node:http';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { connect, type AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ChannelError, officialAccount, type Channel } from '../src/index.ts';
import { parse as parseQuery } from 'node:querystring';
import { bodyAtHand, createHttpServer, queryOf } from '../src/server.ts';
import type { Query } from '../src/protocol.ts';
import { captureLogger } from './helpers.ts';

const logs = captureLogger();
const channel = officialAccount({ appId: 'wx-app', token: 'tok', path: '/wx' });
const calls: { query: Query; body: string }[] = [];
const refusals: string[] = [];

let server: Server;
let base: string;

beforeAll(async () => {
  server = createHttpServer(
    {
      channels: [channel as Channel],
      log: logs.log,
      async handleCallback(_channel, query, body) {
        calls.push({ query, body });
        if (body === 'refuse') throw new ChannelError(401, 'signature does not match');
        if (body === 'crash') throw new Error('database on fire');
        return body === 'quiet' ? 'success' : '<xml><Content><![CDATA[好]]></Content></xml>';
      },
      recordRefusal: (c) => refusals.push(c.name),
      routes: [(router) => router.get('/extra', (ctx) => void (ctx.body = 'extra route'))],
    },
    { bodyLimitBytes: 1024, bodyTimeoutMs: 500 },
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

const post = (path: string, body: string, headers: Record<string, string> = {}) =>
  fetch(`${base}${path}`, { method: 'POST', body, headers: { 'content-type': 'text/xml', ...headers } });

describe('callback POSTs', () => {
  it('an XML answer: 200, application/xml, the query decoded for the channel', async () => {
    const res = await post('/wx?signature=abc&timestamp=1&nonce=n%20n&encrypt_type=aes', '<xml/>');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/xml');
    expect(await res.text()).toBe('<xml><Content><![CDATA[好]]></Content></xml>');
    expect(calls.at(-1)).toEqual({ query: { signature: 'abc', timestamp: '1', nonce: 'n n', encrypt_type: 'aes' }, body: '<xml/>' });
  });

  it('"success": 200, text/plain', async () => {
    const res = await post('/wx?a=1', 'quiet');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/plain; charset=utf-8');
    expect(await res.text()).toBe('success');
  });

  it('a repeated query parameter reaches the channel as a list (which refuses it)', async () => {
    await post('/wx?signature=a&signature=b', 'quiet');
    expect(calls.at(-1)?.query['signature']).toEqual(['a', 'b']);
  });

  it('a refusal: its status and reason, counted, one warning', async () => {
    const before = refusals.length;
    const res = await post('/wx?x=1', 'refuse');
    expect(res.status).toBe(401);
    expect(res.headers.get('content-type')).toBe('text/plain; charset=utf-8');
    expect(await res.text()).toBe('signature does not match');
    expect(refusals.length).toBe(before + 1);
    expect(logs.lines.at(-1)).toMatchObject({ level: 40, msg: 'callback refused', path: '/wx', method: 'POST', status: 401, reason: 'signature does not match' });
  });

  it('an unexpected error: 500 "internal error", counted, logged with the error', async () => {
    const before = refusals.length;
    const res = await post('/wx', 'crash');
    expect(res.status).toBe(500);
    expect(await res.text()).toBe('internal error');
    expect(refusals.length).toBe(before + 1);
    expect(logs.lines.at(-1)).toMatchObject({ level: 50, msg: 'callback failed', path: '/wx', method: 'POST' });
    expect(JSON.stringify(logs.lines.at(-1)?.['err'])).toMatch(/database on fire/);
  });

  it('an empty body: 400 "empty body", counted, one warning naming the channel', async () => {
    const before = refusals.length;
    const res = await post('/wx?x=1', '');
    expect(res.status).toBe(400);
    expect(await res.text()).toBe('empty body');
    expect(refusals.length).toBe(before + 1);
    expect(logs.lines.at(-1)).toMatchObject({ level: 40, msg: 'callback refused: empty body', channel: 'officialAccount', status: 400 });
  });

  it('a body over the limit: 413 "request body too large"', async () => {
    const res = await post('/wx', 'x'.repeat(2048));
    expect(res.status).toBe(413);
    expect(await res.text()).toBe('request body too large');
    expect(logs.lines.at(-1)).toMatchObject({ msg: 'callback refused', status: 413 });
  });

  it('a body that trickles in past bodyTimeoutMs: 408 and the connection closed, the handler never called', async () => {
    const before = calls.length;
    const socket = connect((server.address() as AddressInfo).port, '127.0.0.1');
    let received = '';
    socket.on('data', (chunk) => (received += String(chunk)));
    const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
    socket.write('POST /wx?signature=s&timestamp=1&nonce=n HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n<xml>');
    // One byte now and then, as a slowloris client does: activity never stops, the body never ends.
    const trickle = setInterval(() => socket.writable && socket.write('a'), 100);
    await closed;
    clearInterval(trickle);
    expect(received).toMatch(/^HTTP\/1\.1 408 /);
    expect(calls.length).toBe(before);
    expect(logs.lines.some((l) => l['msg'] === 'callback refused' && l['status'] === 408)).toBe(true);
  });

  /** Writes `parts` to a fresh connection (`pauseMs` apart) and resolves with all it got back once it closes or has `responses` responses. */
  const raw = (parts: string[], responses: number, pauseMs = 0) =>
    new Promise<string>((resolve) => {
      const socket = connect((server.address() as AddressInfo).port, '127.0.0.1');
      let received = '';
      const done = () => {
        socket.destroy();
        resolve(received);
      };
      socket.on('data', (chunk) => {
        received += String(chunk);
        if (received.split('HTTP/1.1 ').length - 1 >= responses && /\r\n\r\n[\s\S]*$/.test(received)) setTimeout(done, 50);
      });
      socket.on('close', done);
      void (async () => {
        for (const part of parts) {
          socket.write(part);
          if (pauseMs) await new Promise((r) => setTimeout(r, pauseMs));
        }
      })();
    });
  const head = (length: number | 'chunked') =>
    `POST /wx?signature=s&timestamp=1&nonce=n HTTP/1.1\r\nHost: x\r\n${length === 'chunked' ? 'Transfer-Encoding: chunked' : `Content-Length: ${length}`}\r\n\r\n`;

  it('a body read whole whether it comes with its headers, after them, in pieces or chunked', async () => {
    const body = '<xml><Content><![CDATA[你好]]></Content></xml>';
    const bytes = Buffer.byteLength(body);
    const cases: [string[], number][] = [
      [[head(bytes) + body], 0], // one read: taken at once
      [[head(bytes), body], 30], // headers first, then the body
      [[head(bytes) + body.slice(0, 10), body.slice(10)], 30], // in two pieces
      [[`${head('chunked')}${bytes.toString(16)}\r\n${body}\r\n0\r\n\r\n`], 0], // chunked, one read
      [[`${head('chunked')}5\r\n${body.slice(0, 5)}\r\n`, `${(bytes - Buffer.byteLength(body.slice(0, 5))).toString(16)}\r\n${body.slice(5)}\r\n0\r\n\r\n`], 30],
    ];
    for (const [parts, pause] of cases) {
      const before = calls.length;
      expect(await raw(parts, 1, pause)).toMatch(/^HTTP\/1\.1 200 /);
      expect(calls.length).toBe(before + 1);
      expect(calls.at(-1)?.body).toBe(body);
    }
  });

  it('two requests in one write (pipelined) each get their own body', async () => {
    const before = calls.length;
    const answer = await raw([`${head(6)}quiet!${head(5)}quiet`], 2);
    expect(answer.match(/HTTP\/1\.1 200 /g)).toHaveLength(2);
    expect(calls.slice(before).map((c) => c.body)).toEqual(['quiet!', 'quiet']);
  });

  it('a request read at hand ends, and is let go once a later one is answered while its keep-alive connection stays open', async () => {
    // Node's server lets a request go (its connection's parser holds the last one) only once the
    // request stream has emitted 'end'; a body taken at hand and left paused never would. The
    // server itself keeps the last answered request and response (their maps outlive a full GC,
    // see createHttpServer): a later request answered on another connection lets the first go.
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const port = (server.address() as AddressInfo).port;
    const answer = (socket: ReturnType<typeof connect>, body: string) => {
      const answered = new Promise<void>((resolve) => socket.once('data', () => resolve()));
      socket.write(head(Buffer.byteLength(body)) + body); // headers and body in one read: taken at hand
      return answered;
    };
    for (const body of ['<xml>at hand</xml>', '']) {
      const refs: WeakRef<IncomingMessage>[] = [];
      const seen = (req: IncomingMessage) => void refs.push(new WeakRef(req));
      server.on('request', seen);
      const first = connect(port, '127.0.0.1');
      await answer(first, body);
      expect(refs[0]?.deref()?.readableEnded).toBe(true);
      // Two more, each on a connection of its own left open: every one but the last is let go.
      const others = [connect(port, '127.0.0.1'), connect(port, '127.0.0.1')];
      for (const socket of others) await answer(socket, body);
      server.off('request', seen);
      await new Promise((resolve) => setImmediate(resolve)); // a WeakRef holds its target until the job that made it ends
      gc();
      expect(refs.map((ref) => ref.deref() === undefined)).toEqual([true, true, false]);
      for (const socket of [first, ...others]) socket.destroy();
    }
  });

  it('Content-Length: 0 is an empty body', async () => {
    const answer = await raw([head(0)], 1);
    expect(answer).toMatch(/^HTTP\/1\.1 400 [\s\S]*empty body$/);
  });

  it('a channel path with a trailing slash or another case is not the callback', async () => {
    const count = calls.length;
    expect((await post('/wx/', 'x')).status).toBe(404);
    expect((await post('/WX', 'x')).status).toBe(404);
    expect(calls.length).toBe(count);
  });
});

describe('the body at hand', () => {
  // A stand-in for the request stream as the parser left it.
  const request = (fields: { size: number; complete: boolean; headers?: Record<string, string> }) =>
    ({
      readableLength: fields.size,
      complete: fields.complete,
      readableEncoding: null,
      readableFlowing: null,
      destroyed: false,
      headers: fields.headers ?? {},
      read: () => Buffer.alloc(fields.size, 0x61),
      resume: () => undefined,
    }) as unknown as Parameters<typeof bodyAtHand>[0];

  it('is taken when the parser holds the Content-Length bytes or ended the message, else left to raw-body', () => {
    expect(bodyAtHand(request({ size: 5, complete: false }), 5, 1024)?.toString()).toBe('aaaaa');
    expect(bodyAtHand(request({ size: 3, complete: false }), 5, 1024)).toBeUndefined();
    expect(bodyAtHand(request({ size: 3, complete: true }), undefined, 1024)?.toString()).toBe('aaa');
    expect(bodyAtHand(request({ size: 3, complete: false }), undefined, 1024)).toBeUndefined();
    expect(bodyAtHand(request({ size: 5, complete: true }), 5, 4)).toBeUndefined(); // over the limit: raw-body's 413
  });

  it('with Transfer-Encoding beside Content-Length (an insecure parser reads it chunked), only a complete message is taken', () => {
    const chunked = { 'transfer-encoding': 'chunked', 'content-length': '5' };
    expect(bodyAtHand(request({ size: 5, complete: false, headers: chunked }), 5, 1024)).toBeUndefined();
    expect(bodyAtHand(request({ size: 5, complete: true, headers: chunked }), 5, 1024)?.toString()).toBe('aaaaa');
  });
});

describe('the callback query', () => {
  it('is what node:querystring makes of it, for any query', () => {
    const many = (n: number, piece: (i: number) => string) => Array.from({ length: n }, (_, i) => piece(i)).join('&');
    const queries = [
      'signature=abc&timestamp=1&nonce=2&openid=o_x-Y',
      '',
      'a',
      'a=',
      '=a',
      '=',
      '&',
      '&&a=1&&',
      'a=1&a=2&a=3',
      'a=&a',
      'a=1=2',
      'a&b=2&',
      'a=1&=',
      '__proto__=x&constructor=1&toString=2&hasOwnProperty=3',
      'x=%41&y=%zz',
      'x=a+b',
      'nonce=n%20n',
      many(1005, (i) => `k${i}=${i}`),
      `${many(1005, () => '')}a=1`,
      `a=1&${'&'.repeat(999)}b=2`,
    ];
    for (const query of queries) {
      const ours = queryOf(query);
      expect(Object.getPrototypeOf(ours), query.slice(0, 30)).toBe(null);
      expect(Object.entries(ours), query.slice(0, 30)).toEqual(Object.entries(parseQuery(query)));
    }
  });
});

describe('other routes', () => {
  it('GET on the callback path is the URL verification', async () => {
    const res = await fetch(`${base}/wx?signature=bad&timestamp=1&nonce=2&echostr=hi`);
    expect(res.status).toBe(401);
  });

  it('other methods on the callback path: 405 with Allow', async () => {
    const res = await fetch(`${base}/wx`, { method: 'PUT', body: 'x' });
    expect(res.status).toBe(405);
    expect(res.headers.get('allow')).toBe('GET, POST');
  });

  it('health, extra routes and 404 are served as before', async () => {
    expect(await (await fetch(`${base}/healthz`)).text()).toBe('ok');
    expect(await (await fetch(`${base}/extra`)).text()).toBe('extra route');
    expect((await fetch(`${base}/nope`)).status).toBe(404);
  });
});
