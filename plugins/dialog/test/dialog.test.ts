import { setTimeout as sleep } from 'node:timers/promises';
import { createTestBot, image, text } from '@wxbot/testing';
import { createLogger, definePlugin } from '@wxbot/core';
import { describe, expect, it } from 'vitest';
import { defineDialog, dialogs } from '../src/index.ts';
import { lookups, orderCommands, orderLookup, quick } from './orderDialog.ts';

interface LogLine {
  plugin?: string;
  err?: unknown;
  msg: string;
}
function capture() {
  const lines: LogLine[] = [];
  return { lines, logger: createLogger({ level: 'debug', destination: { write: (line: string) => void lines.push(JSON.parse(line) as LogLine) } }) };
}

const plugins = () => [dialogs({ dialogs: [orderLookup, quick] }), orderCommands()];

describe('dialogs', () => {
  it('asks two questions passively, one per message, validates, and calls the order API once', async () => {
    const kit = await createTestBot({ plugins: plugins() });
    const before = lookups.length;
    const first = await kit.send('/order');
    expect(first.texts).toEqual(['您的订单号是？']);
    expect(first.passive).toMatchObject({ type: 'text', text: '您的订单号是？' });
    expect((await kit.send('12')).texts).toEqual(['订单号是 6 位数字，请再输入一次。']);
    expect((await kit.send('123456')).texts).toEqual(['下单手机号的后四位？']);
    expect((await kit.send('abc')).texts).toEqual(['输入有误，请重新输入。']);
    expect((await kit.send('8888')).texts).toEqual(['订单 123456（尾号 8888）：已发货']);
    expect(lookups.slice(before)).toEqual(['123456/8888']);
    // Over: texts go on through the pipeline again.
    expect((await kit.send('hello')).texts).toEqual(['echo: hello']);
    await kit.close();
  });

  it('leaves on a cancel word, and the next text goes through the pipeline', async () => {
    const kit = await createTestBot({ plugins: plugins() });
    await kit.send('/order');
    expect((await kit.send(' 取消 ')).texts).toEqual(['已退出「查询订单」。']);
    expect((await kit.send('123456')).texts).toEqual(['echo: 123456']);
    await kit.send('/order');
    expect((await kit.send('退出')).texts).toEqual(['已退出「查询订单」。']);
    await kit.close();
  });

  it('times out: the late answer gets the timeout text and then goes on as a new message', async () => {
    const kit = await createTestBot({ plugins: plugins() });
    expect((await kit.send('/quick')).texts).toEqual(['快说？']);
    await sleep(250);
    expect((await kit.send('太晚了')).texts).toEqual(['「快问」等待回复超时，已结束。需要的话请重新开始。', 'echo: 太晚了']);
    expect((await kit.send('again')).texts).toEqual(['echo: again']);
    await kit.close();
  });

  it('keeps two users’ dialogs apart when their messages interleave', async () => {
    const kit = await createTestBot({ plugins: plugins() });
    const alice = (t: string) => kit.send(text(t, { from: 'alice' }));
    const bob = (t: string) => kit.send(text(t, { from: 'bob' }));
    await alice('/order');
    await bob('/order');
    expect((await bob('222222')).texts).toEqual(['下单手机号的后四位？']);
    expect((await alice('111111')).texts).toEqual(['下单手机号的后四位？']);
    expect((await alice('1111')).texts).toEqual(['订单 111111（尾号 1111）：已发货']);
    expect((await bob('0000')).texts).toEqual(['订单 222222（尾号 0000）：未找到']);
    await kit.close();
  });

  it('runs one dialog per conversation; commands, images and other users go on through the pipeline', async () => {
    const kit = await createTestBot({ plugins: plugins() });
    await kit.send('/order');
    expect((await kit.send('/quick')).texts).toEqual(['您正在进行「查询订单」：请先回答上面的问题，或回复“取消”退出。']);
    expect((await kit.send('/help')).texts[0]).toMatch(/\/order — 查询订单/);
    expect((await kit.send(image('m1'))).texts).toEqual(['image seen']);
    expect((await kit.send(text('hi', { from: 'someone-else' }))).texts).toEqual(['echo: hi']);
    // Still waiting for the order number.
    expect((await kit.send('654321')).texts).toEqual(['下单手机号的后四位？']);
    await kit.close();
  });

  it('gives up after maxAttempts invalid answers', async () => {
    const kit = await createTestBot({ plugins: [dialogs({ dialogs: [orderLookup], maxAttempts: 2 }), orderCommands()] });
    await kit.send('/order');
    expect((await kit.send('x')).texts).toEqual(['订单号是 6 位数字，请再输入一次。']);
    expect((await kit.send('y')).texts).toEqual(['多次输入有误，已退出「查询订单」。']);
    expect((await kit.send('z')).texts).toEqual(['echo: z']);
    await kit.close();
  });

  it('speaks the bot’s language', async () => {
    const kit = await createTestBot({ plugins: plugins(), i18n: { locale: 'en' } });
    await kit.send('/order');
    expect((await kit.send('cancel')).texts).toEqual(['Left "查询订单".']);
    await kit.close();
  });

  it('forgets a dialog whose function throws, and logs the error naming the plugin', async () => {
    const broken = defineDialog({
      name: 'broken',
      async run(d) {
        await d.ask('q?');
        throw new Error('boom');
      },
    });
    const enterIt = definePlugin({ name: 'enter-broken', setup: (bot) => void bot.command('b', (ctx) => broken.enter(ctx)) })();
    const { logger, lines } = capture();
    const kit = await createTestBot({ plugins: [dialogs({ dialogs: [broken] }), enterIt, orderCommands()], logger });
    expect((await kit.send('/b')).texts).toEqual(['q?']);
    await kit.send('answer');
    expect(lines.some((l) => l.plugin === 'dialog' && /boom/.test(JSON.stringify(l.err)))).toBe(true);
    // Not stuck: the next text goes through the pipeline.
    expect((await kit.send('next')).texts).toEqual(['echo: next']);
    await kit.close();
  });

  it('says clearly when a dialog is entered without the dialogs() plugin', async () => {
    const lone = definePlugin({ name: 'lone', setup: (bot) => void bot.command('order', (ctx) => orderLookup.enter(ctx)) })();
    const { logger, lines } = capture();
    const kit = await createTestBot({ plugins: [lone], logger });
    await kit.send('/order');
    expect(lines.some((l) => l.plugin === 'lone' && /no dialogs\(\) plugin ran before/.test(JSON.stringify(l.err)))).toBe(true);
    await kit.close();
  });
});
