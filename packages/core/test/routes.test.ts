import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import Router from '@koa/router';
import Koa from 'koa';
import { afterAll, beforeAll, describe, expect, expectTypeOf, it } from 'vitest';
import { z } from 'zod';
import { createBot, definePlugin, officialAccount, type Bot } from '../src/index.ts';
import { mountRoute } from '../src/routes.ts';
import { captureLogger } from './helpers.ts';

const logs = captureLogger();
let bot: Bot;
let url: string;
const received: unknown[] = [];

const api = definePlugin({
  name: 'orders',
  setup(scope) {
    scope.route('POST', '/echo', (ctx) => {
      expectTypeOf(ctx.request.body).toEqualTypeOf<unknown>();
      received.push(ctx.request.body);
      ctx.body = { got: ctx.request.body ?? null };
    });
    scope.route(
      'POST',
      '/orders/:id',
      (ctx) => {
        expectTypeOf(ctx.request.body).toEqualTypeOf<{ qty: number }>();
        ctx.body = { id: ctx.params['id'], qty: ctx.request.body.qty * 2 };
      },
      { body: z.object({ qty: z.coerce.number().int().positive() }), bodyLimitBytes: 64 },
    );
    scope.route('GET', '/boom', () => {
      throw new Error('the database is down');
    });
    scope.route('GET', '/missing', (ctx) => ctx.throw(404, 'no such order'));
    scope.route('PUT', '/raw', async (ctx) => {
      // A body that is neither JSON nor a form stays unread for the handler.
      const chunks: Buffer[] = [];
      for await (const chunk of ctx.req) chunks.push(chunk as Buffer);
      ctx.body = { body: ctx.request.body ?? null, bytes: Buffer.concat(chunks).length };
    });
  },
});

beforeAll(async () => {
  bot = createBot({ channels: [officialAccount({ appId: 'a', token: 't' })], plugins: [api()], logger: logs.log, metrics: false });
  ({ url } = await bot.start({ port: 0, host: '127.0.0.1' }));
});
afterAll(() => bot.stop());

const post = (path: string, body: string, type: string, method = 'POST') => fetch(`${url}${path}`, { method, body, headers: { 'content-type': type } });

describe('plugin routes', () => {
  it('hand the handler a parsed JSON or form body', async () => {
    const json = await post('/echo', JSON.stringify({ text: '你好', n: [1, 2] }), 'application/json');
    expect(json.status).toBe(200);
    expect(await json.json()).toEqual({ got: { text: '你好', n: [1, 2] } });
    const form = await post('/echo', 'text=hi&tag=a&tag=b', 'application/x-www-form-urlencoded');
    expect(await form.json()).toEqual({ got: { text: 'hi', tag: ['a', 'b'] } });
    const raw = await post('/raw', 'PNGDATA', 'image/png', 'PUT');
    expect(await raw.json()).toEqual({ body: null, bytes: 7 });
  });

  it("check the body against the route's schema and give the handler its output", async () => {
    const ok = await post('/orders/42', JSON.stringify({ qty: '3' }), 'application/json');
    expect(await ok.json()).toEqual({ id: '42', qty: 6 });
    const bad = await post('/orders/42', JSON.stringify({ qty: -1 }), 'application/json');
    expect(bad.status).toBe(400);
    expect(await bad.text()).toMatch(/^qty: /);
    expect(logs.lines.some((l) => l['msg'] === 'plugin "orders": POST /orders/:id refused a request body' && l['status'] === 400)).toBe(true);
  });

  it('refuse broken JSON (400) and a body over the limit (413), naming the plugin in the log', async () => {
    const broken = await post('/echo', '{"text":', 'application/json');
    expect(broken.status).toBe(400);
    const big = await post('/orders/1', JSON.stringify({ qty: 1, pad: 'x'.repeat(100) }), 'application/json');
    expect(big.status).toBe(413);
    expect(await big.text()).toBe('request body over 64 bytes');
    expect(logs.lines.filter((l) => l['plugin'] === 'orders' && l['status'] === 413)).toHaveLength(1);
  });

  it('answer a handler that throws with 500, logging the plugin, method and path once; ctx.throw(404) with its status', async () => {
    const boom = await fetch(`${url}/boom`);
    expect(boom.status).toBe(500);
    expect(await boom.text()).toBe('internal error');
    const line = logs.lines.find((l) => l['msg'] === 'plugin "orders" failed in its route GET /boom');
    expect(line).toMatchObject({ plugin: 'orders', method: 'GET', path: '/boom', level: 50 });
    expect(logs.text()).not.toContain('callback failed');
    const missing = await fetch(`${url}/missing`);
    expect(missing.status).toBe(404);
    expect(await missing.text()).toBe('no such order');
  });
});

describe('route registration', () => {
  const routeOf = (name: string, path: string) =>
    definePlugin({
      name,
      setup(scope) {
        scope.route('GET', path, (ctx) => {
          ctx.body = name;
        });
      },
    });

  it('refuses a second route on a taken method and path, naming the plugin that has it (the first answered, silently)', async () => {
    const twice = createBot({
      channels: [officialAccount({ appId: 'wxr', token: 't' })],
      plugins: [routeOf('first', '/r')(), routeOf('second', '/r')()],
      logger: captureLogger().log,
    });
    await expect(twice.init()).rejects.toThrow('plugin "second" failed in setup: GET /r is already a route of plugin "first": each method and path can have one handler');
    await twice.stop();
    const metrics = createBot({ channels: [officialAccount({ appId: 'wxr', token: 't' })], plugins: [routeOf('mine', '/metrics')()], logger: captureLogger().log });
    await expect(metrics.init()).rejects.toThrow('GET /metrics is already a route of the bot itself');
    await metrics.stop();
  });

  it('refuses a path without its leading slash (it never matched: a silent 404)', async () => {
    const slashless = createBot({ channels: [officialAccount({ appId: 'wxr', token: 't' })], plugins: [routeOf('nos', 'orders')()], logger: captureLogger().log });
    await expect(slashless.init()).rejects.toThrow(`plugin "nos" failed in setup: route path must start with "/" (got "orders"): scope.route('GET', '/orders', …)`);
    await slashless.stop();
  });
});

describe('a plugin route whose body parser (koa-body, loaded at the first body) fails to load', () => {
  it('answers 503 with an error line naming the route, and loads it again at the next request', async () => {
    const logs = captureLogger();
    let loads = 0;
    const loadKoaBody = () => {
      // The first load fails as a process out of file descriptors would.
      if (++loads === 1) return Promise.reject(Object.assign(new Error("EMFILE: too many open files, open '/app/node_modules/koa-body/dist/esm/index.js'"), { code: 'EMFILE' }));
      return import('koa-body');
    };
    const router = new Router();
    const route = { method: 'POST', path: '/hook', plugin: 'orders', handler: (ctx: Koa.Context) => void (ctx.body = { got: ctx.request.body }) } as const;
    mountRoute(router, route, { log: logs.log, loadKoaBody });
    const app = new Koa().use(router.routes());
    const server: Server = app.listen(0, '127.0.0.1');
    await new Promise((listening) => server.once('listening', listening));
    try {
      const hook = () =>
        fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`, { method: 'POST', body: '{"n":1}', headers: { 'content-type': 'application/json' } });
      const failed = await hook();
      expect(failed.status).toBe(503);
      expect(logs.lines).toContainEqual(
        expect.objectContaining({
          level: 50,
          plugin: 'orders',
          method: 'POST',
          path: '/hook',
          msg: expect.stringContaining('plugin "orders": POST /hook could not read a request body: koa-body could not be loaded'),
        }),
      );
      const answered = await hook();
      expect(answered.status).toBe(200);
      expect(await answered.json()).toEqual({ got: { n: 1 } });
      expect(loads).toBe(2);
    } finally {
      await new Promise((closed) => server.close(closed));
    }
  });
});
