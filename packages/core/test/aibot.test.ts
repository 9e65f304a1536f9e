import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AiBotPeer, startFakeWeChatApi, type FakeWeChatApi } from '@wxbot/testing';
import { createBot, generateEncodingAESKey, replies, wecomAiBot, type Bot, type Message } from '../src/index.ts';
import { captureLogger } from './helpers.ts';

const AIBOT = { token: 'aibotToken123', encodingAESKey: generateEncodingAESKey() };
const LATE_MS = 400;

let bot: Bot;
let api: FakeWeChatApi;
let peer: AiBotPeer;
const logs = captureLogger();
const seen: Message[] = [];

beforeAll(async () => {
  api = await startFakeWeChatApi();
  // A short reply window only where an answer is meant to miss it: under load, others must not.
  bot = createBot({ channels: [wecomAiBot(AIBOT), wecomAiBot({ ...AIBOT, name: 'quick', path: '/aibot-quick', replyWindowMs: 200 })], logger: logs.log });
  bot.use(async (ctx, next) => {
    seen.push(ctx.message);
    await next();
  });
  bot.hears('late', async (ctx) => {
    await new Promise((resolve) => setTimeout(resolve, LATE_MS));
    await ctx.reply('迟到的回答');
    await ctx.reply('第二个回答').catch(() => ctx.log.warn('second answer refused'));
  });
  bot.hears('long', (ctx) => ctx.reply('长'.repeat((25 * 1024) / 3)));
  bot.hears('card', (ctx) => ctx.reply(replies.templateCard({ card_type: 'button_interaction', task_id: 'task-1', main_title: { title: '选一个' } })));
  bot.on('image', async (ctx) => {
    const file = await ctx.downloadMedia(ctx.message.mediaId);
    await ctx.reply(`图片 ${file.data.length} 字节 ${file.contentType} ${file.data.subarray(8).toString()}`);
  });
  bot.on('mixed', (ctx) => ctx.reply(`图文: ${ctx.message.text} + ${ctx.message.items.filter((i) => i.type === 'image').length} 图`));
  bot.on('text', (ctx) => ctx.reply(`${ctx.message.transcribedFrom ? '语音' : '文字'}: ${ctx.message.text}`));
  bot.event('enter_chat', (ctx) => ctx.reply('欢迎! 有什么可以帮你?'));
  bot.event('template_card_event', (ctx) => ctx.reply(replies.templateCard({ card_type: ctx.message.cardType, main_title: { title: `已选 ${ctx.message.eventKey}` } })));
  bot.event('feedback_event', () => {});
  const { url } = await bot.start({ port: 0, host: '127.0.0.1' });
  peer = new AiBotPeer({ url: `${url}/wecom/aibot`, ...AIBOT, api, pollIntervalMs: 20 });
});
afterAll(async () => {
  await bot.stop();
  await api.close();
});

const last = () => seen[seen.length - 1]!;

describe('WeCom AI bot, callback mode', () => {
  it('answers the URL verification with the decrypted echostr, and refuses a bad signature', async () => {
    const ok = await peer.verify();
    expect(ok).toMatchObject({ status: 200, body: ok.expected });
    expect((await peer.verify({ signature: '0'.repeat(40) })).status).toBe(401);
  });

  it('answers a text with a finished stream, encrypted for receiveid ""', async () => {
    const exchange = await peer.text('你好');
    expect(exchange.first.reply).toMatchObject({ msgtype: 'stream', stream: { finish: true, content: '文字: 你好' } });
    expect(exchange.stream).toMatchObject({ finished: true, polls: 0 });
    expect(last()).toMatchObject({ type: 'text', text: '你好', chat: { type: 'single' }, from: 'user-1', to: 'aibot-test' });
  });

  it('strips the @mention of a group text for matching and keeps it in raw', async () => {
    const exchange = await peer.text('@RobotA hello robot', { chatId: 'chat-9', quote: { msgtype: 'text', text: { content: '这是今日的测试情况' } } });
    expect(exchange.first.reply).toMatchObject({ stream: { content: '文字: hello robot' } });
    expect(last()).toMatchObject({
      type: 'text',
      text: 'hello robot',
      mentioned: true,
      chat: { type: 'group', id: 'chat-9' },
      quote: { type: 'text', text: '这是今日的测试情况' },
      raw: { text: { content: '@RobotA hello robot' } },
    });
  });

  it('turns a voice message (WeCom ASR text) into a text with transcribedFrom', async () => {
    const exchange = await peer.exchange(peer.message('voice', { content: '明天天气怎么样' }));
    expect(exchange.first.reply).toMatchObject({ stream: { content: '语音: 明天天气怎么样' } });
    expect(last()).toMatchObject({ type: 'text', transcribedFrom: { type: 'voice', recognition: '明天天气怎么样' } });
  });

  it('normalizes mixed messages into text and image items', async () => {
    const exchange = await peer.exchange(
      peer.message('mixed', {
        msg_item: [
          { msgtype: 'text', text: { content: '看这张' } },
          { msgtype: 'image', image: { url: 'https://example.invalid/i' } },
        ],
      }),
    );
    expect(exchange.first.reply).toMatchObject({ stream: { content: '图文: 看这张 + 1 图' } });
  });

  it('downloads and decrypts an image URL with the bot key', async () => {
    const png = Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), Buffer.from('像素数据')]);
    const url = api.aibot.mediaUrl(png, AIBOT.encodingAESKey);
    const exchange = await peer.exchange(peer.message('image', { url }));
    expect(exchange.first.reply).toMatchObject({ stream: { content: `图片 ${png.length} 字节 image/png 像素数据` } });
  });

  it('welcomes on enter_chat with a text body (not a stream)', async () => {
    const answer = await peer.post(peer.eventPayload('enter_chat'));
    expect(answer.reply).toEqual({ msgtype: 'text', text: { content: '欢迎! 有什么可以帮你?' } });
  });

  it('sends a template card and updates it when clicked', async () => {
    const sent = await peer.post(peer.message('text', { content: 'card' }));
    expect(sent.reply).toMatchObject({ msgtype: 'template_card', template_card: { card_type: 'button_interaction', task_id: 'task-1' } });
    const click = await peer.post(peer.eventPayload('template_card_event', { card_type: 'button_interaction', event_key: 'yes', task_id: 'task-1' }));
    expect(click.reply).toEqual({
      response_type: 'update_template_card',
      template_card: { card_type: 'button_interaction', task_id: 'task-1', main_title: { title: '已选 yes' } },
    });
    expect(last()).toMatchObject({ type: 'event', event: 'template_card_event', taskId: 'task-1', eventKey: 'yes' });
  });

  it('types feedback events and answers them with an empty body', async () => {
    const answer = await peer.post(peer.eventPayload('feedback_event', { id: 'FEEDBACKID', type: 2, content: '能再详细一些么', inaccurate_reason_list: [2, 4] }));
    expect(answer).toMatchObject({ status: 200, reply: undefined });
    expect(last()).toMatchObject({ event: 'feedback_event', feedbackId: 'FEEDBACKID', rating: 2, comment: '能再详细一些么', reasons: [2, 4] });
  });

  it('answers a poll for an unknown stream with finish', async () => {
    const answer = await peer.poll('no-such-stream');
    expect(answer.reply).toEqual({ msgtype: 'stream', stream: { id: 'no-such-stream', finish: true, content: '' } });
  });

  it('sends a late answer once through response_url; a second one is refused', async () => {
    const before = api.aibot.responses.length;
    const quick = new AiBotPeer({ ...peer.options, url: peer.options.url.replace('/wecom/aibot', '/aibot-quick') });
    const exchange = await quick.text('late');
    expect(exchange.first.body).toBe('success');
    const response = await api.aibot.nextResponse(before);
    expect(response.body).toEqual({ msgtype: 'markdown', markdown: { content: '迟到的回答' } });
    expect(exchange.responseUrl).toContain(response.responseCode);
    await api.waitFor(() => logs.lines.some((l) => l['msg'] === 'second answer refused'));
    expect(api.aibot.responses.length).toBe(before + 1);
  });

  it('streams the first 20480 bytes of a long answer and sends the rest through response_url', async () => {
    const before = api.aibot.responses.length;
    const exchange = await peer.text('long');
    const content = (exchange.first.reply?.['stream'] as { content: string; finish: boolean } | undefined)?.content ?? '';
    expect(Buffer.byteLength(content)).toBeLessThanOrEqual(20480);
    expect(Buffer.byteLength(content)).toBeGreaterThan(20480 - 3);
    const rest = await api.aibot.nextResponse(before);
    const restText = (rest.body['markdown'] as { content: string }).content;
    expect(content + restText).toBe('长'.repeat((25 * 1024) / 3));
  });

  it('repeats the first answer to a retried msgid without running plugins again', async () => {
    const payload = peer.message('text', { content: '重试' });
    const count = seen.length;
    const [a, b] = [await peer.post(payload), await peer.post(payload)];
    expect(a.reply).toEqual(b.reply);
    expect(seen.length).toBe(count + 1);
  });

  it('refuses bodies that are not the encrypted JSON envelope', async () => {
    expect((await peer.post({}, { body: '<xml></xml>' })).status).toBe(400);
    expect((await peer.post({}, { body: '{"nope":1}' })).status).toBe(400);
    expect((await peer.post(peer.message('text', { content: 'x' }), { signature: 'f'.repeat(40) })).status).toBe(401);
  });
});
