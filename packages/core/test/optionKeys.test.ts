import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  Bot,
  collectPluginOptionErrors,
  ConfigErrors,
  createBot,
  definePlugin,
  defineConfig,
  officialAccount,
  resolveConfig,
  UnknownOptionError,
  wecomAiBot,
  wecomApp,
  wecomKf,
  wecomWebhook,
  type BotOptions,
  type WxbotConfig,
} from '@wxbot/core';

const KEY = 'abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG';
/** Options as a JavaScript config (or a spread object) passes them: no excess-property check. */
const loose = <T>(options: Record<string, unknown>) => options as T;

describe('unknown channel options', () => {
  it('names a misspelt option of each channel factory, with a did-you-mean', () => {
    expect(() => officialAccount(loose({ appid: 'wx1', token: 'tok' }))).toThrow(
      new UnknownOptionError(['unknown option "appid" (did you mean "appId"?)'], 'channel "officialAccount" (officialAccount)'),
    );
    expect(() => officialAccount(loose({ appId: 'wx1', token: 'tok', encodingAesKey: KEY }))).toThrow(
      'channel "officialAccount" (officialAccount): unknown option "encodingAesKey" (did you mean "encodingAESKey"?)',
    );
    // Before the missing-key error the misspelt key would otherwise cause.
    expect(() => wecomApp(loose({ name: 'corp', corpId: 'ww', token: 'tok', encodingAesKey: KEY }))).toThrow(
      'channel "corp" (wecomApp): unknown option "encodingAesKey" (did you mean "encodingAESKey"?)',
    );
    expect(() => wecomKf(loose({ corpId: 'ww', secret: 's', token: 't', encodingAESKey: KEY, synclimit: 10, cursor: 'x' }))).toThrow(
      'channel "wecomKf" (wecomKf): unknown option "synclimit" (did you mean "syncLimit"?); unknown option "cursor"',
    );
    expect(() => wecomAiBot(loose({ token: 't', encodingAESKey: KEY, stream: { showThinkng: true } }))).toThrow(
      'channel "wecomAiBot" (wecomAiBot): unknown option "stream.showThinkng" (did you mean "stream.showThinking"?)',
    );
    expect(() => wecomWebhook(loose({ key: 'k', ratelimit: { perWindow: 5 } }))).toThrow(
      'channel "wecomWebhook" (wecomWebhook): unknown option "ratelimit" (did you mean "rateLimit"?)',
    );
  });

  it('takes every documented option', () => {
    expect(
      officialAccount({
        name: 'oa',
        path: '/oa',
        apiBaseUrl: 'http://127.0.0.1:1',
        replyWindowMs: 3000,
        replayWindowSeconds: false,
        appId: 'wx1',
        appSecret: 's',
        token: 'tok',
        encodingAESKey: KEY,
        allowPlain: true,
        tokenEndpoint: 'token',
      }).name,
    ).toBe('oa');
    expect(wecomAiBot({ botId: 'b', secret: 's', ws: { pingIntervalMs: 1000 }, stream: { showThinking: true, limitBytes: 100, maxAgeMs: 1000 } }).kind).toBe('wecomAiBot');
    expect(wecomWebhook({ key: 'k', name: 'alerts', rateLimit: { perWindow: 5, windowMs: 1000 }, timeoutMs: 100 }).name).toBe('alerts');
  });
});

describe('unknown config keys', () => {
  const channels = () => [officialAccount({ appId: 'wx1', token: 'tok' })];

  it('defineConfig names a misspelt key of an object config at once', () => {
    expect(() => defineConfig(loose<WxbotConfig>({ channels: channels(), prot: 3000, plugns: [] }))).toThrow(
      'config: unknown option "prot" (did you mean "port"?); unknown option "plugns" (did you mean "plugins"?)',
    );
    expect(() => defineConfig(loose<WxbotConfig>({ channels: channels(), metrics: { paht: '/m' } }))).toThrow(
      'config: unknown option "metrics.paht" (did you mean "metrics.path"?)',
    );
    expect(() => defineConfig(loose<WxbotConfig>({ channels: channels(), colour: 'blue' }))).toThrow(/^config: unknown option "colour"$/);
  });

  it('checks what a config function returns (sync or async), and resolveConfig checks any config', async () => {
    const sync = defineConfig(() => loose<WxbotConfig>({ channels: channels(), hots: '0.0.0.0' }));
    await expect(resolveConfig(sync)).rejects.toThrow('config: unknown option "hots" (did you mean "host"?)');
    const later = defineConfig(async () => loose<WxbotConfig>({ channels: channels(), shutdownGraceMS: 1 }));
    await expect(resolveConfig(later)).rejects.toThrow('config: unknown option "shutdownGraceMS" (did you mean "shutdownGraceMs"?)');
    await expect(resolveConfig(loose<WxbotConfig>({ channels: channels(), logger: { levl: 'info' } }))).rejects.toThrow(
      'config: unknown option "logger.levl" (did you mean "logger.level"?)',
    );
  });

  it('passes a config with every setting', async () => {
    const config = defineConfig({
      channels: channels(),
      plugins: [],
      port: 3000,
      host: '127.0.0.1',
      logger: { level: 'silent', pretty: false },
      bodyLimitBytes: 1024,
      bodyTimeoutMs: 1000,
      slowHandlerWarnMs: 1000,
      devChecks: false,
      shutdownGraceMs: 100,
      i18n: { locale: 'en', texts: { 'core.helpTitle': 'Commands' } },
      commands: { help: true, unknown: false },
      metrics: { path: '/m', processMetrics: false },
      delivery: 'memory',
      workers: { concurrency: 2 },
      devMode: { credentials: {} },
    });
    expect((await resolveConfig(config)).port).toBe(3000);
  });
});

describe('unknown createBot options', () => {
  const channels = () => [officialAccount({ appId: 'wx1', token: 'tok' })];

  it('createBot and new Bot name a misspelt option, with a did-you-mean, as defineConfig does', () => {
    expect(() => createBot(loose<BotOptions>({ channels: channels(), plugns: [], shutdownGraceMS: 1 }))).toThrow(
      new UnknownOptionError(['unknown option "plugns" (did you mean "plugins"?)', 'unknown option "shutdownGraceMS" (did you mean "shutdownGraceMs"?)'], 'createBot options'),
    );
    expect(() => createBot(loose<BotOptions>({ channels: channels(), metrics: { paht: '/m' } }))).toThrow(
      'createBot options: unknown option "metrics.paht" (did you mean "metrics.path"?)',
    );
    expect(() => new Bot(loose<BotOptions>({ channels: channels(), workers: { concurency: 2 } }))).toThrow(
      'createBot options: unknown option "workers.concurency" (did you mean "workers.concurrency"?)',
    );
  });

  it('takes a whole config (as `wxbot start` passes it) and a pino logger', () => {
    const config = defineConfig({ channels: channels(), port: 3000, host: '127.0.0.1', logger: { level: 'silent' }, devMode: { credentials: {} } });
    expect(createBot(config).channels).toHaveLength(1);
    expect(createBot({ channels: channels(), logger: createBot(config).log }).channels).toHaveLength(1);
  });
});

describe('several wrong channels while a config loads', () => {
  const greet = definePlugin({ name: 'greet', options: z.object({ greeting: z.string().optional() }), setup() {} });

  it("every channel's error is reported, with the plugins' (not only the first channel's)", async () => {
    const attempt = collectPluginOptionErrors(async () => ({
      channels: [
        officialAccount(loose({ appid: 'wx1', token: 'tok' })),
        wecomApp(loose({ corpId: 'ww', token: 'tok' })),
        wecomKf({ corpId: 'ww', secret: 's', token: 't', encodingAESKey: KEY }),
      ],
      plugins: [greet(loose({ greting: 'x' }))],
    }));
    const error = await attempt.then(
      () => undefined,
      (e: unknown) => e as ConfigErrors,
    );
    expect(error).toBeInstanceOf(ConfigErrors);
    expect(error!.problems).toEqual([
      'channel "officialAccount" (officialAccount): unknown option "appid" (did you mean "appId"?)',
      'channel wecomApp: token and encodingAESKey are required',
      'plugin "greet": unknown option "greting" (did you mean "greeting"?)',
    ]);
    expect(error!.errors.map((e) => e.name)).toEqual(['UnknownOptionError', 'Error', 'PluginOptionsError']);
    expect(error!.message).toBe(error!.problems.join('\n'));
  });

  it('one wrong channel is its own error; outside collection a factory throws at once', async () => {
    await expect(collectPluginOptionErrors(async () => [wecomApp(loose({ corpId: 'ww', token: 'tok' }))])).rejects.toThrow(
      new Error('channel wecomApp: token and encodingAESKey are required'),
    );
    expect(() => wecomApp(loose({ corpId: 'ww', token: 'tok' }))).toThrow('channel wecomApp: token and encodingAESKey are required');
  });

  it('a config that trips over a wrong channel it built still reports that channel first', async () => {
    const attempt = collectPluginOptionErrors(async () => {
      const oa = officialAccount(loose({ token: '' }));
      return { channels: [oa], port: (oa.options as unknown as { port: number }).port.toFixed() };
    });
    const error = await attempt.then(
      () => undefined,
      (e: unknown) => e as ConfigErrors,
    );
    expect(error).toBeInstanceOf(ConfigErrors);
    expect(error!.problems[0]).toBe('channel officialAccount: token is required');
    expect(error!.errors[1]).toBeInstanceOf(TypeError);
  });
});

describe('a plugins list with something that is not a plugin', () => {
  const greet = definePlugin({ name: 'greet', options: z.object({ greeting: z.string().default('你好') }), setup() {} });
  const channels = [officialAccount({ appId: 'wx1', token: 'tok12345' })];

  it('names a factory listed without its call (plugins: [greet], as a JavaScript config allows) in defineConfig, resolveConfig and createBot', async () => {
    const message = 'plugins[1] is the factory of plugin "greet", not a plugin: call it (greet(), with its options if it has any)';
    const config = loose<WxbotConfig>({ channels, plugins: [greet(), greet] });
    expect(() => defineConfig(config)).toThrow(new TypeError(message));
    await expect(resolveConfig(() => config)).rejects.toThrow(new TypeError(message));
    expect(() => createBot(config)).toThrow(new TypeError(message));
    expect(greet.name).toBe('greet');
  });

  it('refuses anything else that has no name and setup', () => {
    expect(() => createBot(loose<BotOptions>({ channels, plugins: [{ name: 'half' }] }))).toThrow(
      "plugins[0] is not a plugin (an object with a name and a setup, as definePlugin's factories return)",
    );
    expect(() => createBot(loose<BotOptions>({ channels, plugins: [() => {}] }))).toThrow('plugins[0] is a function, not a plugin');
    expect(() => createBot({ channels, plugins: [greet()] })).not.toThrow();
  });
});
