import { createTestBot, image } from '@wxbot/testing';
import { definePlugin } from '@wxbot/core';
import { describe, expect, it } from 'vitest';
import { keyword } from '../src/index.ts';

const faq = [
  { question: ['营业时间是什么时候', '几点开门'], answer: '9:00–21:00' },
  { question: '怎么退款', answer: '在订单里申请售后' },
];

describe('fallback: the last resort for texts nothing answered', () => {
  it('names the FAQ’s first wordings and the first hand-off word', async () => {
    const kit = await createTestBot({ plugins: [keyword({ faq, fallback: true })] });
    expect((await kit.send('量子力学')).texts).toEqual(['抱歉，我没听懂您的意思。您可以问我：营业时间是什么时候、怎么退款。需要人工服务请回复“人工”。']);
    expect((await kit.send('几点开门')).texts).toEqual(['9:00–21:00']);
    // Not for images, events or commands (the bot answers unknown commands itself).
    expect((await kit.send(image('m'))).texts).toEqual([]);
    expect((await kit.send('/nope')).texts).toEqual(['没有 /nope 这个命令。发送 /help 查看可用命令。']);
    await kit.close();
  });

  it('names the given topics, in the bot’s language, and leaves out hand-off when it is off', async () => {
    const kit = await createTestBot({ plugins: [keyword({ faq, fallback: { topics: ['hours', 'refunds'] }, handoffWords: [] })], i18n: { locale: 'en' } });
    expect((await kit.send('quantum')).texts).toEqual(['Sorry, I did not understand that. You can ask me about: hours, refunds.']);
    await kit.close();
  });

  it('stays quiet when a plugin after it answered (an LLM), and is off by default', async () => {
    const after = definePlugin({ name: 'after', setup: (bot) => void bot.on('text', (ctx) => ctx.reply('from the LLM')) })();
    const kit = await createTestBot({ plugins: [keyword({ faq, fallback: true }), after] });
    expect((await kit.send('量子力学')).texts).toEqual(['from the LLM']);
    await kit.close();
    const off = await createTestBot({ plugins: [keyword({ faq })] });
    expect((await off.send('量子力学')).texts).toEqual([]);
    await off.close();
  });
});
