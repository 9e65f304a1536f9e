import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { parse as parseQuery } from 'node:querystring';
import Router from '@koa/router';
import Koa from 'koa';
import getRawBody from 'raw-body';
import type { Logger } from 'pino';
import type { Channel, Query } from './channels/types.ts';
import { ChannelError, httpErrorOf } from './errors.ts';

/** What the HTTP layer needs from the bot: the channels and the callback handler. */
export interface CallbackHandler {
  readonly channels: readonly Channel[];
  readonly log: Logger;
  handleCallback(channel: Channel, query: Query, body: string): Promise<string>;
  /** Told about a callback refused before it reached the pipeline. */
  recordRefusal?(channel: Channel): void;
  /** Extra routes (metrics, consoles) mounted by the bot or plugins. */
  readonly routes?: readonly ((router: Router) => void)[];
}

export interface HttpAppOptions {
  /** Largest accepted body in bytes (default 1 MiB); larger gets 413. */
  bodyLimitBytes?: number;
  /**
   * How long a callback's body may take to arrive (default 10 s): a connection that trickles
   * its body in is answered 408 and closed, instead of being held for Node's 300 s. One sweep
   * timer for all callbacks (checked every second at most), no timer per request.
   */
  bodyTimeoutMs?: number;
}

const DEFAULT_LIMIT = 1024 * 1024;
const DEFAULT_BODY_TIMEOUT_MS = 10_000;

/**
 * The Koa app: GET `path` verifies, POST `path` handles a callback, `/healthz` answers 200.
 * Errors become a status and a short text body plus one log line; nothing crashes the server.
 * {@link createHttpServer} puts a faster path for callback POSTs in front of it.
 */
export function createHttpApp(handler: CallbackHandler, options: HttpAppOptions = {}): Koa {
  const app = new Koa();
  const router = new Router();
  const log = handler.log;
  const limit = options.bodyLimitBytes ?? DEFAULT_LIMIT;
  const deadlines = new BodyDeadlines(options.bodyTimeoutMs ?? DEFAULT_BODY_TIMEOUT_MS);

  app.on('error', () => {}); // everything is logged below; keep Koa from printing stacks
  app.use(async (ctx, next) => {
    try {
      await next();
    } catch (error) {
      const { status, body } = refusal(log, error, ctx.path, ctx.method);
      ctx.status = status;
      ctx.body = body;
    }
  });

  router.get('/healthz', (ctx) => {
    ctx.body = 'ok';
  });

  const byPath = new Map(handler.channels.map((channel) => [channel.path, channel]));
  const callbacks: Koa.Middleware = async (ctx, next) => {
    const channel = byPath.get(ctx.path);
    if (!channel) return next();
    if (ctx.method === 'GET') {
      ctx.type = 'text/plain';
      ctx.body = channel.verify(ctx.query as Query);
      return;
    }
    if (ctx.method !== 'POST') {
      ctx.status = 405;
      ctx.set('Allow', 'GET, POST');
      return;
    }
    // Reached only by a POST the fast path let through (a request line it does not read).
    const answer = await answerCallback(handler, channel, ctx.query as Query, ctx.req, limit, deadlines);
    if (answer.status === 408) ctx.set('Connection', 'close');
    ctx.status = answer.status;
    ctx.type = answer.type;
    ctx.body = answer.body;
  };

  for (const mount of handler.routes ?? []) mount(router);

  app.use(callbacks);
  app.use(router.routes());
  app.use(router.allowedMethods());
  return app;
}

/**
 * The HTTP server: callback POSTs (the hot path) are answered straight on `node:http`, with
 * the statuses, bodies and log lines the Koa app gives; everything else (verification GETs,
 * health, metrics, plugin pages) goes to the Koa app. Koa's context, its query getter and its
 * response machinery cost ~20 µs a callback, measured: a third of a bare handler's work.
 */
export function createHttpServer(handler: CallbackHandler, options: HttpAppOptions = {}): Server {
  const koa = createHttpApp(handler, options).callback();
  const limit = options.bodyLimitBytes ?? DEFAULT_LIMIT;
  const byPath = new Map(handler.channels.map((channel) => [channel.path, channel]));
  const deadlines = new BodyDeadlines(options.bodyTimeoutMs ?? DEFAULT_BODY_TIMEOUT_MS);
  const lastAnswered = new LastAnswered();
  return createServer((req, res) => {
    const url = req.url ?? '';
    if (req.method === 'POST' && url.charCodeAt(0) === 0x2f /* / */) {
      const q = url.indexOf('?');
      const channel = byPath.get(q < 0 ? url : url.slice(0, q));
      if (channel) {
        // node:querystring as Koa's ctx.query: a repeated parameter becomes a list.
        const query = q < 0 ? ({} as Query) : queryOf(url.slice(q + 1));
        void answerCallback(handler, channel, query, req, limit, deadlines).then((answer) => {
          respond(res, answer);
          lastAnswered.keep(req, res);
        });
        return;
      }
    }
    void koa(req, res);
  });
}

/**
 * The last callback answered, its request and response, held until the next one is answered: two
 * stores a callback, ~16 KB held (measured, heap snapshot: 12 KB of it the ~120 maps and their
 * descriptors, what this is for; the rest the pair, their stream states and closed socket).
 * V8 holds the map of a fully built instance weakly (its class's initial map reaches it through
 * weak transitions) and optimized code holds the maps it checks weakly. node:http makes an
 * IncomingMessage, a ServerResponse and their stream states per request, so at a full GC with no
 * callback in flight (the pipeline is synchronous: between two tasks none is) their maps were
 * cleared and ~20 functions of the request path (node's http and stream functions, answerCallback)
 * deoptimized, back in the interpreter until compiled again (bench/gcDeopts.ts server,
 * bench/serverInstructions.ts after-gc; bench/README.md "Session 15: httpmaps").
 */
class LastAnswered {
  // Never read: held only to be reachable.
  req: IncomingMessage | undefined = undefined;
  res: ServerResponse | undefined = undefined;

  keep(req: IncomingMessage, res: ServerResponse): void {
    this.req = req;
    this.res = res;
  }
}

/**
 * `node:querystring`'s parse of a callback's query, the same object (null prototype, repeats as
 * lists, at most 1000 pairs). WeChat's queries hold no '%' and no '+': then every key and value is
 * the text between the separators as written, found with indexOf instead of querystring's
 * character-by-character loop (~0.6 against ~1.1–1.6 µs a callback, measured). Others go to it.
 */
export function queryOf(qs: string): Query {
  if (qs.includes('%') || qs.includes('+')) return parseQuery(qs) as Query;
  const query = { __proto__: null } as unknown as Record<string, string | string[]>;
  let pairs = 1000;
  let start = 0;
  for (;;) {
    let end = qs.indexOf('&', start);
    if (end < 0) end = qs.length;
    if (end > start) {
      const eq = qs.indexOf('=', start);
      const split = eq >= 0 && eq < end;
      const key = split ? qs.slice(start, eq) : qs.slice(start, end);
      const value = split ? qs.slice(eq + 1, end) : '';
      const current = query[key];
      if (current === undefined) query[key] = value;
      else if (Array.isArray(current)) current.push(value);
      else query[key] = [current, value];
    }
    if (end === qs.length || --pairs === 0) return query as Query;
    start = end + 1;
  }
}

interface Answer {
  status: number;
  type: string;
  body: string;
}

const TEXT = 'text/plain; charset=utf-8';

/**
 * Deadlines of the callback bodies being read, checked by one sweep timer (running only
 * while bodies are being read): a body still incomplete at its deadline fails its read with
 * 408. Deadlines come in the order bodies start, so a sweep stops at the first one not due.
 */
class BodyDeadlines {
  readonly #reads = new Map<IncomingMessage, number>();
  readonly #ms: number;
  #timer: NodeJS.Timeout | undefined;

  constructor(ms: number) {
    this.#ms = ms;
  }

  start(req: IncomingMessage): void {
    this.#reads.set(req, Date.now() + this.#ms);
    if (!this.#timer) {
      this.#timer = setInterval(this.#sweep, Math.min(1000, Math.max(10, this.#ms / 2)));
      this.#timer.unref();
    }
  }

  end(req: IncomingMessage): void {
    this.#reads.delete(req);
  }

  readonly #sweep = (): void => {
    const now = Date.now();
    for (const [req, deadline] of this.#reads) {
      if (deadline > now) break;
      this.#reads.delete(req);
      // raw-body listens for errors while it reads: its read then fails with this status.
      // (Never emit with no listener: that would throw here.)
      if (req.listenerCount('error') > 0) req.emit('error', new ChannelError(408, 'request body too slow'));
      else req.destroy();
    }
    if (this.#reads.size === 0) {
      clearInterval(this.#timer);
      this.#timer = undefined;
    }
  };
}

/** Reads, hands over and answers one callback POST; never rejects. */
async function answerCallback(handler: CallbackHandler, channel: Channel, query: Query, req: IncomingMessage, limit: number, deadlines: BodyDeadlines): Promise<Answer> {
  try {
    // The body at hand, else raw-body (limit → 413, length mismatch → 400): koa-body's content-type sniffing
    // and co-body on top cost ~70 µs a callback, measured.
    const header = req.headers['content-length'];
    const length = header === undefined || header === '' ? undefined : Number(header);
    await undefined; // the parser pushes what this read holds before this resumes
    let raw = bodyAtHand(req, length, limit);
    if (raw === undefined) {
      deadlines.start(req);
      try {
        raw = await getRawBody(req, { length, limit });
      } finally {
        deadlines.end(req);
      }
    }
    const body = raw.toString('utf8');
    if (!body) {
      handler.recordRefusal?.(channel);
      handler.log.warn({ channel: channel.name, status: 400 }, 'callback refused: empty body');
      return { status: 400, type: TEXT, body: 'empty body' };
    }
    const answer = await handler.handleCallback(channel, query, body);
    return { status: 200, type: answer.startsWith('<') ? 'application/xml' : TEXT, body: answer };
  } catch (error) {
    handler.recordRefusal?.(channel);
    return { type: TEXT, ...refusal(handler.log, error, channel.path, 'POST') };
  }
}

const NO_BODY = Buffer.alloc(0);

/**
 * The whole body at once when the HTTP parser holds it already: a callback's headers and body
 * mostly arrive in one read, and the parser pushes the body right after the request handler
 * returns, before promise callbacks run (so the caller asks one microtask later). Undefined
 * otherwise (not all there yet, over the limit, not the declared length, a decoder set):
 * raw-body then reads it, with its checks and errors. A body taken leaves the stream flowing to
 * its end. Saves raw-body's per-request listeners,
 * closures, async resource and stream events. Not async itself: its own async frame and
 * promise cost ~65 ns a callback (measured).
 */
export function bodyAtHand(req: IncomingMessage, length: number | undefined, limit: number): Buffer | undefined {
  const size = req.readableLength;
  // All of it: the parser has ended the message, or holds the Content-Length's bytes (it never
  // pushes more than that into a body; it ends the message right after). With Transfer-Encoding
  // too (refused by Node's parser unless it runs with --insecure-http-parser, which then reads
  // it chunked), only the end of the message counts.
  const all = length === undefined || req.headers['transfer-encoding'] !== undefined ? req.complete : length === size;
  if (!all || req.readableEncoding !== null || req.readableFlowing || req.destroyed || size > limit) return undefined;
  const body = size === 0 ? NO_BODY : (req.read() as Buffer); // paused and without a decoder: everything it holds, as one Buffer
  // The parser mostly ends the message after this read. Left paused, the stream would never emit
  // 'end', and Node's server lets a request go only once it has ended: each keep-alive
  // connection's parser held its last request (~1.1 KB with its headers) until the next one came,
  // and every scavenge copied them. Flowing, it ends by itself.
  req.resume();
  return body;
}

/** A refused or failed request: its status and body, and its one log line. */
function refusal(log: Logger, error: unknown, path: string, method: string): { status: number; body: string } {
  const mapped = httpErrorOf(error);
  if (mapped) {
    log.warn({ path, method, status: mapped.status, reason: mapped.reason }, 'callback refused');
    return { status: mapped.status, body: mapped.reason };
  }
  log.error({ path, method, err: error }, 'callback failed');
  return { status: 500, body: 'internal error' };
}

function respond(res: ServerResponse, answer: Answer): void {
  // 408: the rest of a body that never came is not waited for on this connection.
  if (answer.status === 408) res.setHeader('connection', 'close');
  res.writeHead(answer.status, { 'content-type': answer.type, 'content-length': Buffer.byteLength(answer.body) });
  res.end(answer.body);
}
