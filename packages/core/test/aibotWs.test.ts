import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeAiBotWs, startFakeWeChatApi, type FakeAiBotWs, type FakeWeChatApi } from '@wxbot/testing';
import { echo } from '@wxbot/plugin-echo';
import { createBot, definePlugin, replies, wecomAiBot, type Bot } from '../src/index.ts';
import { captureLogger } from './helpers.ts';

const BOT = { botId: 'aib-ws-test', secret: 'ws-secret-value-123' };

const plugin = definePlugin({
  name: 'ws-test',
  setup(bot) {
    bot.hears('stream', (ctx) =>
      ctx.replyStream(
        (async function* () {
          for (let i = 0; i < 12; i++) {
            await sleep(15);
            yield `段${i};`;
          }
        })(),
      ),
    );
    bot.hears('card', (ctx) => ctx.reply(replies.templateCard({ card_type: 'button_interaction', task_id: 'ws-task', main_title: { title: '选' } })));
    bot.event('enter_chat', (ctx) => ctx.reply('欢迎使用'));
    bot.event('template_card_event', (ctx) => ctx.reply(replies.templateCard({ card_type: ctx.message.cardType, main_title: { title: `已选 ${ctx.message.eventKey}` } })));
    bot.on('image', async (ctx) => ctx.reply(`图片: ${(await ctx.downloadMedia(ctx.message.mediaId)).data.toString()}`));
  },
});

let server: FakeAiBotWs;
let api: FakeWeChatApi;
let bot: Bot;
const logs = captureLogger();

beforeAll(async () => {
  server = await startFakeAiBotWs(BOT);
  api = await startFakeWeChatApi();
  bot = createBot({
    channels: [wecomAiBot({ ...BOT, wsUrl: server.url, ws: { reconnectBaseMs: 50, pingIntervalMs: 200 } })],
    plugins: [plugin(), echo()],
    logger: logs.log,
  });
  await bot.start({ port: 0, host: '127.0.0.1' });
  await server.waitForSubscription();
});
afterAll(async () => {
  await bot.stop();
  await server.close();
  await api.close();
});

describe('WeCom AI bot, WebSocket mode', () => {
  it('subscribes with the bot id and secret, and keeps the connection alive with pings', async () => {
    expect(server.frames[0]).toMatchObject({ cmd: 'aibot_subscribe', body: { bot_id: BOT.botId }, errcode: 0 });
    await api.waitFor(() => server.frames.some((f) => f.cmd === 'ping' && f.errcode === 0), 3000);
    expect(logs.text()).not.toContain(BOT.secret);
  });

  it("answers a text with the same plugins: a finished stream on the message's req_id", async () => {
    const reqId = server.text('你好 ws');
    expect(await server.stream(reqId)).toMatchObject({ finished: true, content: '你好 ws', snapshots: ['你好 ws'] });
  });

  it('pushes a streamed answer as it grows, finishing with the whole text', async () => {
    const reqId = server.text('stream');
    const stream = await server.stream(reqId);
    const whole = Array.from({ length: 12 }, (_, i) => `段${i};`).join('');
    expect(stream.content).toBe(whole);
    expect(stream.snapshots.length).toBeGreaterThan(1);
    for (let i = 1; i < stream.snapshots.length; i++) expect(stream.snapshots[i]!.startsWith(stream.snapshots[i - 1]!)).toBe(true);
  });

  it("welcomes on enter_chat and updates a clicked card on the event's req_id", async () => {
    const welcome = await server.answer(server.event('enter_chat'));
    expect(welcome).toMatchObject({ cmd: 'aibot_respond_welcome_msg', body: { msgtype: 'text', text: { content: '欢迎使用' } } });
    const card = await server.answer(server.text('card'));
    expect(card).toMatchObject({ cmd: 'aibot_respond_msg', body: { msgtype: 'template_card', template_card: { task_id: 'ws-task' } } });
    const update = await server.answer(server.event('template_card_event', { card_type: 'button_interaction', event_key: 'ok', task_id: 'ws-task' }));
    expect(update).toMatchObject({
      cmd: 'aibot_respond_update_msg',
      body: { response_type: 'update_template_card', template_card: { task_id: 'ws-task', main_title: { title: '已选 ok' } } },
    });
  });

  it('decrypts media with the per-URL aeskey of the WebSocket message', async () => {
    const key = randomBytes(32);
    const url = api.aibot.mediaUrl(Buffer.from('像素'), key.toString('base64').slice(0, 43));
    const reqId = server.message('image', { url, aeskey: key.toString('base64') });
    expect(await server.stream(reqId)).toMatchObject({ content: '图片: 像素' });
  });

  it('sends unprompted through aibot_send_msg to the chat', async () => {
    await bot.sendTo('wecomAiBot', { user: 'zhangsan' }, '通知: 会议改到三点');
    expect(server.sent.at(-1)).toEqual({ chatid: 'zhangsan', msgtype: 'markdown', markdown: { content: '通知: 会议改到三点' } });
  });

  it('reconnects with backoff after the connection drops, and answers again', async () => {
    const before = server.subscriptions;
    server.dropConnections();
    await server.waitForSubscription(before + 1);
    const reqId = server.text('回来了吗');
    expect(await server.stream(reqId)).toMatchObject({ content: '回来了吗' });
  });

  it('retries a refused subscription without logging the secret', async () => {
    const wrong = await startFakeAiBotWs({ botId: BOT.botId, secret: 'another-secret' });
    const other = createBot({ channels: [wecomAiBot({ ...BOT, wsUrl: wrong.url, ws: { reconnectBaseMs: 30 } })], logger: logs.log });
    await other.start({ port: 0, host: '127.0.0.1' });
    await api.waitFor(() => wrong.frames.filter((f) => f.cmd === 'aibot_subscribe' && f.errcode === 40001).length >= 2, 5000);
    expect(logs.lines.some((l) => String(l['msg']).includes('subscription refused'))).toBe(true);
    expect(logs.text()).not.toContain(BOT.secret);
    await other.stop();
    await wrong.close();
  });
});
