/**
 * What a plugin author hears when a reply cannot be delivered on a channel without an API (no
 * secret): the error says why the reply needed the API, and a plugin's page that throws is
 * logged with the plugin's name.
 */
import { createServer, type AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WeChatPeer } from '@wxbot/testing';
import { createBot, definePlugin, officialAccount, type Bot } from '../src/index.ts';
import { captureLogger } from './helpers.ts';

const failures: string[] = [];
const recordFailure = (error: unknown) => void failures.push((error as Error).message);
let late: Promise<void> | undefined;

const author = definePlugin({
  name: 'author',
  setup(scope) {
    // Two answers to one message: the second needs the API.
    scope.hears('twice', async (ctx) => {
      await ctx.reply('one');
      await ctx.reply('two').catch(recordFailure);
    });
    // A notification while the message's window is still open.
    scope.hears('notify', async (ctx) => {
      await scope.sendTo('officialAccount', { user: ctx.message.from }, 'a notice').catch(recordFailure);
      await ctx.reply('notified');
    });
    // An answer after the handler returned (a timer): the callback was answered already.
    scope.hears('later', (ctx) => {
      late = new Promise((done) => setTimeout(() => void ctx.reply('too late').catch(recordFailure).then(done), 20));
    });
    scope.route('GET', '/author/boom', () => {
      throw leaky('route exploded');
    });
    scope.hears('leak', () => {
      throw leaky('handler exploded');
    });
    scope.route('GET', '/author/missing', (ctx) => {
      ctx.throw(404, 'no such thing');
    });
  },
});

/** An error as HTTP clients make them: it carries the request, credentials included. */
const leaky = (message: string) => Object.assign(new Error(message), { code: 'EBOOM', config: { headers: { Authorization: 'Bearer sk-leaky-secret' } }, apiKey: 'sk-leaky-key' });

let bot: Bot;
let base: string;
let peer: WeChatPeer;
const logs = captureLogger();

beforeAll(async () => {
  // Plain mode, no AppSecret: no active API.
  bot = createBot({ channels: [officialAccount({ appId: 'wxnoapi', token: 't' })], plugins: [author()], logger: logs.log });
  base = (await bot.start({ port: 0, host: '127.0.0.1' })).url;
  peer = new WeChatPeer({ url: `${base}/wx`, kind: 'officialAccount', token: 't', receiveId: 'wxnoapi' });
});
afterAll(() => bot.stop());

describe('a reply that needs the API on a channel without one says why', () => {
  it('a second reply to one message: the first took the passive answer (not "after the reply window")', async () => {
    failures.length = 0;
    expect((await peer.text('twice')).reply).toMatchObject({ Content: 'one' });
    await until(() => failures.length > 0);
    expect(failures).toEqual([
      'channel "officialAccount" cannot deliver this text reply: an earlier reply to this message took its one passive answer (a message gets one; later replies go through the API), and the channel has no active API (configure its secret)',
    ]);
  });

  it('sendTo while a window is open: an unprompted send always goes through the API', async () => {
    failures.length = 0;
    expect((await peer.text('notify')).reply).toMatchObject({ Content: 'notified' });
    expect(failures).toEqual([
      'channel "officialAccount" cannot send this text message: an unprompted send (sendTo) always goes through the API, and the channel has no active API (configure its secret)',
    ]);
  });

  it('a reply after the handler returned: the callback had been answered', async () => {
    failures.length = 0;
    const response = await peer.text('later');
    expect(response.body).toBe('success');
    await late;
    expect(failures).toEqual([
      'channel "officialAccount" cannot deliver this text reply: the callback had already been answered: this reply came after the pipeline finished (an un-awaited promise or a timer?), and the channel has no active API (configure its secret)',
    ]);
  });
});

describe('a reply after an await that outlasted the window', () => {
  it('says the window had closed, with its length', async () => {
    const slow: string[] = [];
    const quick = createBot({
      channels: [officialAccount({ appId: 'wxslow', token: 't', replyWindowMs: 100 })],
      logger: captureLogger().log,
    });
    quick.on('text', async (ctx) => {
      await new Promise((r) => setTimeout(r, 250)); // a slow lookup
      await ctx.reply('finally').catch((error: unknown) => void slow.push((error as Error).message));
    });
    const { url } = await quick.start({ port: 0, host: '127.0.0.1' });
    try {
      const response = await new WeChatPeer({ url: `${url}/wx`, kind: 'officialAccount', token: 't', receiveId: 'wxslow' }).text('slow');
      expect(response.body).toBe('success');
      await until(() => slow.length > 0);
      expect(slow).toEqual([
        'channel "officialAccount" cannot deliver this text reply: the 0.1 s reply window had closed before this reply, and the channel has no active API (configure its secret)',
      ]);
    } finally {
      await quick.stop();
    }
  });
});

describe("a plugin's route", () => {
  it('that throws answers 500 with one error line naming the plugin', async () => {
    logs.lines.length = 0;
    const response = await fetch(`${base}/author/boom`);
    expect(response.status).toBe(500);
    expect(await response.text()).toBe('internal error');
    const errors = logs.lines.filter((l) => l['level'] === 50);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ plugin: 'author', method: 'GET', path: '/author/boom', msg: 'plugin "author" failed in its route GET /author/boom' });
    expect(errors[0]!['err']).toMatchObject({ type: 'Error', message: 'route exploded', code: 'EBOOM', stack: expect.stringContaining('replyErrors.test.ts') });
    expect(logs.text()).not.toContain('sk-leaky');
  });

  it("a handler's error is logged without the request it carries", async () => {
    logs.lines.length = 0;
    expect((await peer.text('leak')).body).toBe('success');
    await until(() => logs.lines.some((l) => l['level'] === 50));
    expect(logs.lines.find((l) => l['level'] === 50)).toMatchObject({ plugin: 'author', err: { message: 'handler exploded', code: 'EBOOM' } });
    expect(logs.text()).not.toContain('sk-leaky');
  });

  it('that throws a 4xx answers it as meant, without an error line', async () => {
    logs.lines.length = 0;
    const response = await fetch(`${base}/author/missing`);
    expect(response.status).toBe(404);
    expect(logs.lines.filter((l) => l['level'] === 50)).toHaveLength(0);
  });
});

async function until(what: () => boolean): Promise<void> {
  for (let i = 0; i < 100 && !what(); i++) await new Promise((r) => setTimeout(r, 10));
}

describe('an API base where nothing listens (dev mode without `wxbot simulate --fake-api`)', () => {
  it('the send error says what to start', async () => {
    const server = createServer();
    await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
    const { port } = server.address() as AddressInfo;
    await new Promise((done) => server.close(done));
    const quiet = createBot({
      channels: [officialAccount({ appId: 'wxrefused', appSecret: 'refused-secret-value', token: 't', apiBaseUrl: `http://127.0.0.1:${port}` })],
      logger: captureLogger().log,
    });
    await quiet.init();
    try {
      const error = await quiet.sendTo('officialAccount', { user: 'u' }, 'hello').then(
        () => undefined,
        (e: unknown) => e as Error,
      );
      expect(error?.message).toMatch(
        new RegExp(
          `request failed: ECONNREFUSED \\(nothing listens at http://127\\.0\\.0\\.1:${port}, the channel's apiBaseUrl: dev mode sends there, to the fake WeChat API of \`wxbot simulate --fake-api\`; is it running\\?\\)`,
        ),
      );
      expect(error?.message).not.toContain('refused-secret-value');
    } finally {
      await quiet.stop();
    }
  });
});
