import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AiBotPeer, createTestBot, startFakeWeChatApi, type FakeWeChatApi } from '@wxbot/testing';
import { createBot, definePlugin, generateEncodingAESKey, wecomAiBot, type Bot } from '../src/index.ts';
import { captureLogger } from './helpers.ts';

const AIBOT = { token: 'streamToken', encodingAESKey: generateEncodingAESKey() };
const chunksOf = (n: number, prefix = '块') => Array.from({ length: n }, (_, i) => `${prefix}${i};`);

async function* paced(chunks: readonly string[], ms: number): AsyncIterable<string> {
  for (const chunk of chunks) {
    await sleep(ms);
    yield chunk;
  }
}

/** Answers `stream N MS` with N chunks, one every MS milliseconds. */
const streamer = definePlugin({
  name: 'streamer',
  setup(bot) {
    bot.hears(/^stream (\d+) (\d+)$/, async (ctx) => {
      const [, n, ms] = ctx.match as RegExpExecArray;
      await ctx.replyStream(paced(chunksOf(Number(n)), Number(ms)));
    });
    bot.hears('handle', async (ctx) => {
      const out = ctx.replyStream();
      setTimeout(() => out.write('一'), 10);
      setTimeout(() => out.write('二'), 30);
      await sleep(60);
      await out.end();
    });
    bot.hears('big', async (ctx) => {
      await ctx.replyStream(paced(['甲'.repeat(5000), '乙'.repeat(5000), '丙'.repeat(1000)], 5));
    });
    bot.hears('broken', async (ctx) => {
      await ctx.replyStream(
        (async function* () {
          yield '前半';
          await sleep(20);
          throw new Error('model connection reset');
        })(),
      );
    });
    bot.hears('think', (ctx) => ctx.replyStream(paced(['<think>用户问', '天气</think>', '晴'], 5)));
    bot.hears('slow', (ctx) => ctx.replyStream(paced(['开始', '然后', '结束'], 250)));
  },
});

let bot: Bot;
let api: FakeWeChatApi;
let peer: AiBotPeer;
const logs = captureLogger();

beforeAll(async () => {
  api = await startFakeWeChatApi();
  bot = createBot({
    channels: [wecomAiBot({ ...AIBOT }), wecomAiBot({ ...AIBOT, name: 'short', path: '/aibot-short', stream: { maxAgeMs: 300 } })],
    plugins: [streamer()],
    logger: logs.log,
  });
  const { url } = await bot.start({ port: 0, host: '127.0.0.1' });
  peer = new AiBotPeer({ url: `${url}/wecom/aibot`, ...AIBOT, api, pollIntervalMs: 25 });
});
afterAll(async () => {
  await bot.stop();
  await api.close();
});

/** Every snapshot extends the one before (WeCom never sees text taken back or repeated). */
function expectGrowing(snapshots: readonly string[]): void {
  for (let i = 1; i < snapshots.length; i++) expect(snapshots[i]!.startsWith(snapshots[i - 1]!)).toBe(true);
}

describe('ctx.replyStream on the WeCom AI bot', () => {
  it('serves growing snapshots to the polls, the last with finish and every chunk once', async () => {
    const exchange = await peer.text('stream 30 10');
    const stream = exchange.stream!;
    expect(stream.finished).toBe(true);
    expect(stream.content).toBe(chunksOf(30).join(''));
    expectGrowing(stream.snapshots);
    expect(new Set(stream.snapshots).size).toBeGreaterThan(2); // the user saw it grow
    for (const chunk of chunksOf(30)) expect(stream.content.split(chunk).length - 1).toBe(1);
  });

  it('takes chunks pushed through a write/end handle', async () => {
    const exchange = await peer.text('handle');
    expect(exchange.stream).toMatchObject({ finished: true, content: '一二' });
  });

  it('streams the first 20480 bytes and sends the rest through response_url once the source ends', async () => {
    const before = api.aibot.responses.length;
    const exchange = await peer.text('big');
    const whole = '甲'.repeat(5000) + '乙'.repeat(5000) + '丙'.repeat(1000);
    expect(Buffer.byteLength(exchange.stream!.content)).toBeLessThanOrEqual(20480);
    expectGrowing(exchange.stream!.snapshots);
    const rest = await api.aibot.nextResponse(before);
    expect(exchange.stream!.content + (rest.body['markdown'] as { content: string }).content).toBe(whole);
  });

  it("finishes the stream before WeCom's window closes and sends what came later through response_url", async () => {
    const before = api.aibot.responses.length;
    const short = new AiBotPeer({ ...peer.options, url: peer.options.url.replace('/wecom/aibot', '/aibot-short') });
    const exchange = await short.text('slow');
    expect(exchange.stream!.finished).toBe(true);
    const shown = exchange.stream!.content;
    expect(shown.length).toBeLessThan('开始然后结束'.length);
    const rest = await api.aibot.nextResponse(before);
    expect(shown + (rest.body['markdown'] as { content: string }).content).toBe('开始然后结束');
  });

  it('finishes with what was written when the source breaks, and reports the error', async () => {
    const exchange = await peer.text('broken');
    expect(exchange.stream).toMatchObject({ finished: true, content: '前半' });
    await api.waitFor(() => logs.lines.some((l) => (l['err'] as { message?: string } | undefined)?.message === 'model connection reset'));
  });

  it('leaves <think> reasoning out by default', async () => {
    const exchange = await peer.text('think');
    expect(exchange.stream).toMatchObject({ finished: true, content: '晴' });
  });

  it('gives up polling at the configured lifetime, as WeCom does after 6 minutes', async () => {
    const impatient = new AiBotPeer({ ...peer.options, streamLifetimeMs: 120 });
    const exchange = await impatient.text('stream 10 50');
    expect(exchange.stream).toMatchObject({ finished: false, expired: true });
  });
});

describe('ctx.replyStream on channels that do not stream', () => {
  it('collects the chunks into one passive reply when they end in time', async () => {
    const kit = await createTestBot({ plugins: [streamer()] });
    const result = await kit.send('stream 5 5');
    expect(result.passive).toEqual({ type: 'text', text: chunksOf(5).join('') });
    expect(result.active).toEqual([]);
    await kit.close();
  });

  it('sends the collected text actively when it ends after the window', async () => {
    const kit = await createTestBot({ plugins: [streamer()], replyWindowMs: 50 });
    const result = await kit.send('stream 4 30');
    expect(result.passive).toBeUndefined();
    expect(result.active).toEqual([{ type: 'text', text: chunksOf(4).join('') }]);
    await kit.close();
  });
});
