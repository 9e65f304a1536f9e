import { echo } from '@wxbot/plugin-echo';
import { createTestBot, type TestBot } from '@wxbot/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { greet } from '../plugins/greet.ts';

describe('greet', () => {
  let kit: TestBot | undefined;
  afterEach(async () => {
    await kit?.close();
  });

  it('answers greetings and /about', async () => {
    kit = await createTestBot({ plugins: [greet({ greeting: 'Hi there' }), echo()] });
    expect((await kit.send('hello')).texts).toEqual(['Hi there']);
    expect((await kit.send('你好！')).texts).toEqual(['Hi there']);
    expect((await kit.send('/about')).texts[0]).toContain('营业时间');
  });

  it('leaves /help to the bot, which lists /about', async () => {
    kit = await createTestBot({ plugins: [greet(), echo()] });
    expect((await kit.send('/help')).texts).toEqual(['可用命令：\n/about — 这个机器人能做什么']);
  });

  it('leaves other messages to the next plugin', async () => {
    kit = await createTestBot({ plugins: [greet(), echo()] });
    expect((await kit.send('hello world')).texts).toEqual(['hello world']);
  });
});
