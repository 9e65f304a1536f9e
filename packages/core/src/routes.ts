/**
 * Plugin routes as the HTTP server mounts them: the body parsed (JSON and forms, with a size
 * limit), optionally checked against a zod schema, and every failure one log line naming the
 * plugin and one short answer, never a crash.
 */
import type Router from '@koa/router';
import type { Middleware } from 'koa';
import type { HttpMethodEnum } from 'koa-body';
import type { Logger } from 'pino';
import { loadOnUse } from './loadOnUse.ts';
import { loggableError } from './logger.ts';
import type { PluginRoute } from './plugin.ts';

/** Bodies a route parses unless it says otherwise (as callbacks: 1 MiB). */
export const DEFAULT_ROUTE_BODY_LIMIT = 1024 * 1024;

/**
 * The methods whose bodies are parsed; koa-body passes any other request straight on, so those
 * never need it loaded.
 */
const PARSED_METHODS: ReadonlySet<string> = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/** An error's HTTP status when it carries one (koa-body's 400/413/415, `ctx.throw(404)`). */
function statusOf(error: unknown): number | undefined {
  const status = (error as { status?: unknown; statusCode?: unknown } | null)?.status ?? (error as { statusCode?: unknown } | null)?.statusCode;
  return typeof status === 'number' && status >= 400 && status < 600 ? status : undefined;
}

/** Where a mounted route logs, its default body limit, and who counts its failures (metrics). */
export interface MountOptions {
  log: Logger;
  /** The bot's `bodyLimitBytes`: the limit of routes that set none (default 1 MiB). */
  bodyLimitBytes?: number;
  /** Told when a plugin's handler failed (500). */
  onFailure?: (plugin: string | undefined) => void;
  /** Where koa-body comes from (default: `import('koa-body')`; tests hand in one that fails). */
  loadKoaBody?: () => Promise<typeof import('koa-body')>;
}

const importKoaBody = () => import('koa-body');

/** Mounts one route on `router`; `route.plugin` names the plugin in its log lines. */
export function mountRoute(router: Router, route: PluginRoute, { log, bodyLimitBytes, onFailure, loadKoaBody = importKoaBody }: MountOptions): void {
  const limit = route.options?.bodyLimitBytes ?? bodyLimitBytes ?? DEFAULT_ROUTE_BODY_LIMIT;
  const who = route.plugin ? `plugin "${route.plugin}"` : 'route';
  const where = { plugin: route.plugin, method: route.method, path: route.path };
  // JSON and forms only: any other body (an image, XML) stays unread on ctx.req for the handler.
  // koa-body (with co-body, formidable and their dependencies: ~1.4 MiB of the resting heap) is
  // loaded at the first request with a body, not at start-up: most routes of a bot (the agent
  // console's pages, health checks) never get one, and a bot without such routes never loads it.
  // One that failed to load is tried again at the route's next such request.
  const parse = loadOnUse<Middleware>(() =>
    loadKoaBody().then(({ koaBody }) =>
      koaBody({
        json: true,
        urlencoded: true,
        text: false,
        multipart: false,
        jsonLimit: limit,
        formLimit: limit,
        patchNode: false,
        parsedMethods: [...PARSED_METHODS] as HttpMethodEnum[],
      }),
    ),
  );
  const schema = route.options?.body;
  const method = route.method.toLowerCase() as 'get';
  router[method](route.path, async (ctx) => {
    let parseBody: Middleware | undefined;
    if (PARSED_METHODS.has(ctx.method)) {
      try {
        parseBody = await parse();
      } catch (error) {
        // The server's failure, not a bad body nor the plugin's: 503, the request may be sent again.
        log.error(
          { ...where, status: 503, err: loggableError(error) },
          `${who}: ${route.method} ${route.path} could not read a request body: koa-body could not be loaded (tried again at the next request)`,
        );
        ctx.status = 503;
        ctx.body = 'request body parser unavailable';
        return;
      }
    }
    try {
      await parseBody?.(ctx, async () => {});
    } catch (error) {
      const status = statusOf(error) ?? 400;
      const reason = status === 413 ? `request body over ${limit} bytes` : error instanceof Error ? error.message : String(error);
      log.warn({ ...where, status, reason }, `${who}: ${route.method} ${route.path} refused a request body`);
      ctx.status = status;
      ctx.body = reason;
      return;
    }
    if (schema) {
      const result = schema.safeParse(ctx.request.body);
      if (!result.success) {
        const reason = result.error.issues.map((i) => `${i.path.map(String).join('.') || 'body'}: ${i.message}`).join('; ');
        log.warn({ ...where, status: 400, reason }, `${who}: ${route.method} ${route.path} refused a request body`);
        ctx.status = 400;
        ctx.body = reason;
        return;
      }
      ctx.request.body = result.data as never;
    }
    try {
      await route.handler(ctx as Parameters<PluginRoute['handler']>[0]);
    } catch (error) {
      const status = statusOf(error);
      // ctx.throw(404, 'no such order'): the status and message it chose, as Koa answers them.
      if (status && status < 500 && (error as { expose?: unknown }).expose) {
        log.info({ ...where, status, reason: (error as Error).message }, `${who}: ${route.method} ${route.path} answered ${status}`);
        ctx.status = status;
        ctx.body = (error as Error).message;
        return;
      }
      onFailure?.(route.plugin);
      log.error({ ...where, err: loggableError(error) }, `${who} failed in its route ${route.method} ${route.path}`);
      ctx.status = 500;
      ctx.body = 'internal error';
    }
  });
}
