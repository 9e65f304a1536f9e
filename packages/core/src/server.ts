import Router from '@koa/router';
import Koa from 'koa';
import getRawBody from 'raw-body';
import type { Logger } from 'pino';
import type { Channel, Query } from './channels/types.ts';
import { httpErrorOf } from './errors.ts';

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
}

/**
 * The Koa app: GET `path` verifies, POST `path` handles a callback, `/healthz` answers 200.
 * Errors become a status and a short text body plus one log line; nothing crashes the server.
 */
export function createHttpApp(handler: CallbackHandler, options: HttpAppOptions = {}): Koa {
  const app = new Koa();
  const router = new Router();
  const log = handler.log;
  const limit = options.bodyLimitBytes ?? 1024 * 1024;
  // The body is read with raw-body (limit → 413, length mismatch → 400) and nothing else:
  // koa-body's content-type sniffing and co-body on top cost ~70 µs a callback, measured.
  const readBody = (ctx: Koa.Context): Promise<Buffer> =>
    getRawBody(ctx.req, { length: ctx.request.length, limit });

  app.on('error', () => {}); // everything is logged below; keep Koa from printing stacks
  app.use(async (ctx, next) => {
    try {
      await next();
    } catch (error) {
      const mapped = httpErrorOf(error);
      if (mapped) {
        log.warn({ path: ctx.path, method: ctx.method, status: mapped.status, reason: mapped.reason }, 'callback refused');
        ctx.status = mapped.status;
        ctx.body = mapped.reason;
      } else {
        log.error({ path: ctx.path, method: ctx.method, err: error }, 'callback failed');
        ctx.status = 500;
        ctx.body = 'internal error';
      }
    }
  });

  router.get('/healthz', (ctx) => {
    ctx.body = 'ok';
  });

  // Callbacks are the hot path: an exact path lookup, ahead of the router (which serves the
  // rest: health, metrics, plugin pages).
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
    try {
      const body = (await readBody(ctx)).toString('utf8');
      if (!body) {
        handler.recordRefusal?.(channel);
        ctx.status = 400;
        ctx.body = 'empty body';
        log.warn({ channel: channel.name, status: 400 }, 'callback refused: empty body');
        return;
      }
      const answer = await handler.handleCallback(channel, ctx.query as Query, body);
      ctx.type = answer.startsWith('<') ? 'application/xml' : 'text/plain';
      ctx.body = answer;
    } catch (error) {
      handler.recordRefusal?.(channel);
      throw error;
    }
  };

  for (const mount of handler.routes ?? []) mount(router);

  app.use(callbacks);
  app.use(router.routes());
  app.use(router.allowedMethods());
  return app;
}
