import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createLogger, definePlugin, MemoryStore, PluginOptionsError, type ChannelKind, type Message, type Plugin, type Store } from '@wxbot/core';
import { createTestBot, startFakeOpenAI, text, voice, type FakeOpenAI, type TestBot } from '@wxbot/testing';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { llm, type LlmOptions } from '../src/index.ts';

const KEY = 'sk-llm-test-0123456789abcdef';

/** A plugin after llm: it replies 'next' whenever llm passed the message on. */
const tail = definePlugin({
  name: 'tail',
  setup(bot) {
    bot.use((ctx) => ctx.reply('next'));
  },
});

interface LogLine {
  level: number;
  msg: string;
  err?: { message: string; type: string };
  [key: string]: unknown;
}

let fake: FakeOpenAI;
const kits: TestBot[] = [];
let lines: LogLine[];

beforeEach(async () => {
  fake = await startFakeOpenAI({ apiKey: KEY });
  lines = [];
});
afterEach(async () => {
  for (const kit of kits.splice(0)) await kit.close();
  await fake.close();
});

async function bot(options: Partial<LlmOptions> = {}, extra: { store?: Store; plugins?: Plugin[]; kind?: ChannelKind } = {}): Promise<TestBot> {
  const logger = createLogger({ level: 'debug', destination: { write: (line: string) => void lines.push(JSON.parse(line) as LogLine) } });
  const kit = await createTestBot({
    plugins: [llm({ baseURL: fake.url, apiKey: KEY, maxRetries: 0, ...options }), tail(), ...(extra.plugins ?? [])],
    logger,
    ...(extra.store && { store: extra.store }),
    ...(extra.kind && { kind: extra.kind }),
  });
  kits.push(kit);
  return kit;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('llm plugin', () => {
  it('answers with the model and sends model, system prompt, temperature and the user text', async () => {
    const kit = await bot({ model: 'gpt-test', systemPrompt: '你是客服助手', temperature: 0.3 });
    expect((await kit.send('你好')).texts).toEqual(['回答: 你好']);
    expect(fake.chat.requests).toEqual([
      {
        model: 'gpt-test',
        temperature: 0.3,
        messages: [
          { role: 'system', content: '你是客服助手' },
          { role: 'user', content: '你好' },
        ],
      },
    ]);
    // The info line says how it went, never what was said.
    const info = lines.filter((l) => l.level === 30);
    expect(info.some((l) => l.msg === 'llm answered' && l.model === 'gpt-test')).toBe(true);
    expect(JSON.stringify(info)).not.toContain('你好');
  });

  it('streams by default where the channel shows streams (the AI bot); elsewhere asks for the whole answer; not with stream: false', async () => {
    fake.chat.reply = () => '第一段，第二段，第三段。';
    const aibot = await bot({}, { kind: 'wecomAiBot' });
    expect((await aibot.send('讲讲')).replies).toEqual([{ type: 'text', text: '第一段，第二段，第三段。' }]);
    expect(fake.chat.requests.at(-1)).toMatchObject({ stream: true });
    // An Official Account gets one reply either way: the answer is asked whole (cheaper).
    const oa = await bot({});
    expect((await oa.send('讲讲')).replies).toEqual([{ type: 'text', text: '第一段，第二段，第三段。' }]);
    expect(fake.chat.requests.at(-1)).not.toHaveProperty('stream');
    const plain = await bot({ stream: false }, { kind: 'wecomAiBot' });
    expect((await plain.send('讲讲')).texts).toEqual(['第一段，第二段，第三段。']);
    expect(fake.chat.requests.at(-1)).not.toHaveProperty('stream');
  });

  it('ends a stream that breaks midway with the apology, and does not remember it', async () => {
    fake.chat.reply = () => '一二三四五六七八九十';
    fake.chat.chunks = (content) => [...content];
    fake.chat.breakAfterChunks = 3;
    const kit = await bot({ maxRetries: 0, apology: '抱歉' }, { kind: 'wecomAiBot' });
    expect((await kit.send('数到十')).texts).toEqual(['一二三\n\n抱歉']);
    fake.chat.breakAfterChunks = undefined;
    fake.chat.reply = (request) => `记得 ${request.messages.length - 1} 条`;
    expect((await kit.send('还记得吗')).texts).toEqual(['记得 0 条']);
    expect(lines.some((l) => l.msg === 'llm stream broke; ended with the apology')).toBe(true);
  });

  it('ends a broken stream with the default apology when none is configured', async () => {
    fake.chat.reply = () => '一二三四五六七八九十';
    fake.chat.chunks = (content) => [...content];
    fake.chat.breakAfterChunks = 3;
    const kit = await bot({ maxRetries: 0 }, { kind: 'wecomAiBot' });
    const [streamed] = (await kit.send('数到十')).texts;
    expect(streamed).toMatch(/^一二三\n\n/);
    expect(streamed).not.toContain('undefined');
    // The same text the failed-call path sends.
    fake.chat.breakAfterChunks = undefined;
    fake.chat.failNext(500);
    expect((await kit.send('再数')).texts).toEqual([streamed?.slice('一二三\n\n'.length)]);
  });

  it('answers a text transcribed from voice, and voice recognition only when asked', async () => {
    const kit = await bot({ types: ['text', 'voice'] });
    const transcribed = { ...text('几点开门'), transcribedFrom: voice('v1') } as Message;
    expect((await kit.send(transcribed)).texts).toEqual(['回答: 几点开门']);
    expect((await kit.send(voice('v2', { recognition: '在吗' }))).texts).toEqual(['回答: 在吗']);
    // A voice message without WeChat's transcript is left to others (a transcription plugin).
    expect((await kit.send(voice('v3'))).texts).toEqual(['next']);

    const textOnly = await bot();
    expect((await textOnly.send(voice('v4', { recognition: '在吗' }))).texts).toEqual(['next']);
  });

  it('remembers the previous turn and forgets it after /reset', async () => {
    const kit = await bot({ systemPrompt: 'S' });
    await kit.send('我叫小明');
    await kit.send('我叫什么？');
    expect(fake.chat.requests[1]?.messages).toEqual([
      { role: 'system', content: 'S' },
      { role: 'user', content: '我叫小明' },
      { role: 'assistant', content: '回答: 我叫小明' },
      { role: 'user', content: '我叫什么？' },
    ]);

    const reset = await kit.send('/reset');
    expect(reset.texts).toHaveLength(1);
    expect(reset.texts[0]).toMatch(/重新开始/);
    expect(fake.chat.requests).toHaveLength(2); // /reset does not reach the model

    await kit.send('还记得吗');
    expect(fake.chat.requests[2]?.messages).toEqual([
      { role: 'system', content: 'S' },
      { role: 'user', content: '还记得吗' },
    ]);
  });

  it('keeps one memory per user', async () => {
    const kit = await bot();
    await kit.send(text('A 的问题', { from: 'alice' }));
    await kit.send(text('B 的问题', { from: 'bob' }));
    await kit.send(text('A 又问', { from: 'alice' }));
    expect(fake.chat.requests[1]?.messages).toEqual([{ role: 'user', content: 'B 的问题' }]);
    expect(fake.chat.requests[2]?.messages).toEqual([
      { role: 'user', content: 'A 的问题' },
      { role: 'assistant', content: '回答: A 的问题' },
      { role: 'user', content: 'A 又问' },
    ]);
    await kit.send(text('/reset', { from: 'bob' }));
    await kit.send(text('A 第三问', { from: 'alice' }));
    expect(fake.chat.requests[3]?.messages).toHaveLength(5); // bob's /reset left alice's memory alone
  });

  it('trims memory to the last N turns', async () => {
    const kit = await bot({ memory: { turns: 2 } });
    for (const q of ['q1', 'q2', 'q3', 'q4']) await kit.send(q);
    expect(fake.chat.requests[3]?.messages).toEqual([
      { role: 'user', content: 'q2' },
      { role: 'assistant', content: '回答: q2' },
      { role: 'user', content: 'q3' },
      { role: 'assistant', content: '回答: q3' },
      { role: 'user', content: 'q4' },
    ]);
  });

  it('remembers nothing with turns: 0', async () => {
    const store = new MemoryStore();
    const kit = await bot({ memory: { turns: 0 } }, { store });
    await kit.send('q1');
    await kit.send('q2');
    expect(fake.chat.requests[1]?.messages).toEqual([{ role: 'user', content: 'q2' }]);
    expect(await store.get('llm:memory:officialAccount:user-1')).toBeUndefined();
  });

  it('forgets turns older than ttlMs', async () => {
    const kit = await bot({ memory: { ttlMs: 150 } });
    await kit.send('q1');
    await kit.send('q2');
    expect(fake.chat.requests[1]?.messages).toHaveLength(3);
    await sleep(250);
    await kit.send('q3');
    expect(fake.chat.requests[2]?.messages).toEqual([{ role: 'user', content: 'q3' }]);
  });

  it('keeps memory in the store: a second bot on the same store continues the conversation', async () => {
    const store = new MemoryStore();
    const first = await bot({}, { store });
    await first.send('第一句');
    await first.close();
    kits.splice(kits.indexOf(first), 1);

    const second = await bot({}, { store });
    await second.send('第二句');
    expect(fake.chat.requests[1]?.messages).toEqual([
      { role: 'user', content: '第一句' },
      { role: 'assistant', content: '回答: 第一句' },
      { role: 'user', content: '第二句' },
    ]);
    expect(JSON.parse((await store.get('llm:memory:officialAccount:user-1'))!)).toMatchObject({ v: 1, turns: [{ user: '第一句' }, { user: '第二句' }] });
  });

  it('keeps both turns of two messages of one sender answered at once, on a store that answers late', async () => {
    // A store behind a server (Redis): what a read finds comes back a while later, so the two
    // answers' saves overlap. Each read the turns before the other wrote its own: one was lost.
    class SlowReads extends MemoryStore {
      override async get(key: string): Promise<string | undefined> {
        const value = await super.get(key);
        await sleep(100);
        return value;
      }
    }
    const kit = await bot({}, { store: new SlowReads() });
    await Promise.all([kit.send(text('第一句', { from: 'fast' })), kit.send(text('第二句', { from: 'fast' }))]);
    await kit.send(text('第三句', { from: 'fast' }));
    const remembered = fake.chat.requests[2]?.messages.filter((m) => m.role === 'user').map((m) => m.content);
    expect(remembered?.slice(0, 2).sort()).toEqual(['第一句', '第二句']);
    expect(remembered).toHaveLength(3);
  });

  it('answers an API error with the apology and one log line, without the key or next()', async () => {
    const kit = await bot({ apology: '出错了' });
    fake.chat.failNext(500);
    expect((await kit.send('你好')).texts).toEqual(['出错了']);
    const failures = lines.filter((l) => l.msg.startsWith('llm call'));
    expect(failures).toHaveLength(1);
    expect(failures[0]).toMatchObject({ level: 40, msg: 'llm call failed; sent the apology', status: 500, plugin: 'llm' });
    expect(failures[0]?.err?.message).toContain('500');
    expect(JSON.stringify(lines)).not.toContain(KEY);

    // Nothing was remembered: the next request has no history.
    await kit.send('再试');
    expect(fake.chat.requests[1]?.messages).toEqual([{ role: 'user', content: '再试' }]);
  });

  it('logs a wrong key as an error, without the key', async () => {
    const kit = await bot({ apiKey: 'sk-wrong-key-0000000000000' });
    expect((await kit.send('你好')).texts).toEqual(['抱歉，我暂时无法回答，请稍后再试。']);
    const line = lines.find((l) => l.msg.startsWith('llm call'));
    expect(line).toMatchObject({ level: 50, status: 401 });
    expect(JSON.stringify(lines)).not.toContain('sk-wrong-key-0000000000000');
  });

  it('answers an endpoint that refuses connections with the apology and a warning (an outage, not a bug)', async () => {
    // A port that was just free: nothing listens there.
    const closed = createServer();
    await new Promise<void>((listening) => closed.listen(0, '127.0.0.1', listening));
    const { port } = closed.address() as AddressInfo;
    await new Promise((done) => closed.close(done));
    const kit = await bot({ baseURL: `http://127.0.0.1:${port}/v1` });
    expect((await kit.send('你好')).texts).toEqual(['抱歉，我暂时无法回答，请稍后再试。']);
    const line = lines.find((l) => l.msg.startsWith('llm call'));
    expect(line).toMatchObject({ level: 40, msg: 'llm call failed; sent the apology', plugin: 'llm' });
    expect(line?.status).toBeUndefined();
  });

  it('retries a failed call within maxRetries', async () => {
    const kit = await bot({ maxRetries: 1 });
    fake.chat.failNext(503);
    expect((await kit.send('你好')).texts).toEqual(['回答: 你好']);
    expect(fake.chat.requests).toHaveLength(2);
  });

  it('answers a slow model with the apology once timeoutMs passes, retries included', async () => {
    const kit = await bot({ timeoutMs: 300, maxRetries: 2 });
    fake.chat.delayMs = 5_000;
    const started = Date.now();
    expect((await kit.send('你好')).texts).toEqual(['抱歉，我暂时无法回答，请稍后再试。']);
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(lines.filter((l) => l.msg.startsWith('llm call'))).toMatchObject([{ level: 40, msg: 'llm call timed out after 300 ms; sent the apology' }]);
  });

  it('sends what the buildMessages hook returns, and remembers only the user text and answer', async () => {
    const calls: unknown[] = [];
    const kit = await bot({
      systemPrompt: 'S',
      buildMessages: async (ctx, history, defaults) => {
        calls.push({ text: ctx.text, history: history.map((t) => t.user), defaults: defaults.length });
        return [defaults[0]!, { role: 'system', content: '资料: 营业时间 9-18 点' }, ...defaults.slice(1)];
      },
    });
    await kit.send('几点开门');
    await kit.send('周末呢');
    expect(calls).toEqual([
      { text: '几点开门', history: [], defaults: 2 },
      { text: '周末呢', history: ['几点开门'], defaults: 4 },
    ]);
    expect(fake.chat.requests[1]?.messages).toEqual([
      { role: 'system', content: 'S' },
      { role: 'system', content: '资料: 营业时间 9-18 点' },
      { role: 'user', content: '几点开门' },
      { role: 'assistant', content: '回答: 几点开门' },
      { role: 'user', content: '周末呢' },
    ]);
  });

  it('answers a throwing hook with the apology, the key kept out of the log', async () => {
    const kit = await bot({
      buildMessages: () => {
        throw new Error(`vector store refused key ${KEY}`);
      },
    });
    expect((await kit.send('你好')).texts).toEqual(['抱歉，我暂时无法回答，请稍后再试。']);
    expect(fake.chat.requests).toEqual([]);
    const line = lines.find((l) => l.msg.startsWith('llm call'));
    expect(line?.err?.message).toBe('vector store refused key [redacted]');
    expect(JSON.stringify(lines)).not.toContain(KEY);
  });

  it('answers without memory when the store fails, and logs it', async () => {
    const broken = new MemoryStore();
    broken.get = async () => {
      throw new Error('store down');
    };
    const kit = await bot({}, { store: broken });
    expect((await kit.send('你好')).texts).toEqual(['回答: 你好']);
    expect(lines.find((l) => l.msg === 'llm memory could not be read; answering without it')?.err?.message).toBe('store down');
  });

  it("/help lists /reset with a description in the bot's language", async () => {
    const kit = await bot();
    expect((await kit.send('/help')).texts).toEqual([expect.stringContaining('/reset — 忘掉之前的对话，重新开始')]);
    const en = await createTestBot({ plugins: [llm({ baseURL: fake.url, apiKey: KEY })], i18n: { locale: 'en' } });
    kits.push(en);
    expect((await en.send('/help')).texts).toEqual([expect.stringContaining('/reset — Forget our conversation so far and start again')]);
    const renamed = await createTestBot({ plugins: [llm({ baseURL: fake.url, apiKey: KEY })], i18n: { texts: { 'llm.resetHelp': '重来' } } });
    kits.push(renamed);
    expect((await renamed.send('/help')).texts).toEqual([expect.stringContaining('/reset — 重来')]);
  });

  it('passes other commands and other message types to the next middleware', async () => {
    const kit = await bot();
    // (`/help` itself is answered by the bot before any plugin.)
    expect((await kit.send('/status')).texts).toEqual(['next']);
    expect((await kit.send(voice('v1'))).texts).toEqual(['next']);
    expect((await kit.send('   ')).texts).toEqual(['next']);
    expect(fake.chat.requests).toEqual([]);
  });

  it('works with only a baseURL, sending a placeholder key to a server that needs none', async () => {
    const open = await startFakeOpenAI({ apiKey: null });
    const kit = await createTestBot({ plugins: [llm({ baseURL: open.url })] });
    kits.push(kit);
    expect((await kit.send('hi')).texts).toEqual(['回答: hi']);
    expect(open.chat.requests[0]?.model).toBe('gpt-4o-mini');
    await open.close();
  });

  it('refuses options without baseURL and apiKey, naming the plugin', () => {
    expect(() => llm({})).toThrow(PluginOptionsError);
    expect(() => llm({})).toThrow(/plugin "llm".*apiKey/);
    expect(() => llm({ apiKey: KEY, memory: { turns: -1 } })).toThrow(/plugin "llm": option "memory.turns"/);
    expect(() => llm({ baseURL: 'ftp://x' })).toThrow(/option "baseURL"/);
  });
});
