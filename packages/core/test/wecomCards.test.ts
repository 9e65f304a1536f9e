import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeWeChatApi, WeChatPeer, type FakeWeChatApi } from '@wxbot/testing';
import { createBot, generateEncodingAESKey, replies, wecomApp, type Bot } from '../src/index.ts';
import { templateCardXml } from '../src/reply/passiveXml.ts';
import { captureLogger } from './helpers.ts';

/*
 * WeCom app template cards: markdown and template_card sends, the typed template_card_event,
 * and its passive answers update_button / update_template_card (doc 90241), or, after the reply
 * window, message/update_template_card with the event's response code (doc 94888).
 */

const APP = { corpId: 'ww-card-corp', agentId: 1000005, secret: 'card-app-secret', token: 'cardToken', encodingAESKey: generateEncodingAESKey() };
const LATE_MS = 400;

const CARD = {
  card_type: 'button_interaction',
  task_id: 'task-42',
  main_title: { title: '报销审批', desc: '张三 · 368 元' },
  horizontal_content_list: [{ keyname: '事由', value: '差旅' }],
  button_list: [
    { text: '同意', style: 1, key: 'approve' },
    { text: '驳回', style: 2, key: 'reject' },
  ],
};

let bot: Bot;
let api: FakeWeChatApi;
let base: string;
const logs = captureLogger();

beforeAll(async () => {
  api = await startFakeWeChatApi({ credentials: [{ id: APP.corpId, secret: APP.secret, kind: 'wecomApp' }] });
  bot = createBot({
    channels: [wecomApp({ ...APP, apiBaseUrl: api.url }), wecomApp({ ...APP, name: 'quick', path: '/wecom/quick', apiBaseUrl: api.url, replyWindowMs: 150 })],
    logger: logs.log,
  });
  bot.command('md', (ctx) => ctx.reply(replies.markdown('**加粗** 与 <font color="info">绿色</font>')));
  bot.command('card', (ctx) => ctx.reply(replies.templateCard(CARD)));
  bot.command('button', (ctx) => ctx.reply(replies.updateButton('不该出现')));
  bot.command('cardtext', async (ctx) => {
    await ctx.reply(replies.templateCard({ ...CARD, task_id: 'task-43' }));
    await ctx.reply('卡片已发送');
  });
  bot.event('template_card_event', async (ctx) => {
    const { eventKey, selected } = ctx.message;
    if (eventKey === 'late') await new Promise((resolve) => setTimeout(resolve, LATE_MS));
    if (eventKey === 'approve' || eventKey === 'late') return ctx.reply(replies.updateButton('已同意'));
    return ctx.reply(
      replies.templateCard({
        card_type: 'text_notice',
        main_title: { title: `已驳回 (${Object.values(selected).flat().join(',') || '无选项'})` },
        card_action: { type: 1, url: 'https://example.com/a?b=1&c=2' },
      }),
    );
  });
  ({ url: base } = await bot.start({ port: 0, host: '127.0.0.1' }));
});
afterAll(async () => {
  await bot.stop();
  await api.close();
});

const peer = (path = '/wecom/callback') =>
  new WeChatPeer({ url: `${base}${path}`, kind: 'wecomApp', token: APP.token, encodingAESKey: APP.encodingAESKey, receiveId: APP.corpId, agentId: APP.agentId });

/** Each click from its own user: WeCom dedups events by sender and CreateTime (one second). */
let clicker = 0;
const click = (eventKey: string, responseCode: string, path?: string) =>
  peer(path).event('template_card_event', { EventKey: eventKey, TaskId: 'task-42', CardType: 'button_interaction', ResponseCode: responseCode }, { from: `clicker-${++clicker}` });

describe('WeCom app template cards', () => {
  it('sends markdown and template cards through message/send (a card answering a message is a new message)', async () => {
    expect((await peer().text('/md')).body).toBe('success');
    expect((await peer().text('/card')).body).toBe('success');
    await api.waitFor(() => api.wecom.sent.length >= 2);
    expect(api.wecom.sent).toEqual(
      expect.arrayContaining([
        { touser: 'user-1', agentid: APP.agentId, msgtype: 'markdown', markdown: { content: '**加粗** 与 <font color="info">绿色</font>' } },
        { touser: 'user-1', agentid: APP.agentId, msgtype: 'template_card', template_card: CARD },
      ]),
    );
  });

  it('a card answering a message goes through message/send and leaves the passive reply to the text after it', async () => {
    const response = await peer().text('/cardtext');
    expect(response.reply).toMatchObject({ MsgType: 'text', Content: '卡片已发送' });
    await api.waitFor(() => api.wecom.sent.some((body) => (body['template_card'] as { task_id?: string } | undefined)?.task_id === 'task-43'));
    expect(logs.text()).not.toContain('passive reply could not be encoded');
  });

  it('answers a button click with an encrypted update_button (the clicked button greyed out with a new name)', async () => {
    const response = await click('approve', api.wecom.responseCode());
    expect(response.status).toBe(200);
    // WeChatPeer verified the signature and decrypted it with Tencent's own @wecom/crypto.
    expect(response.reply).toEqual({
      ToUserName: `clicker-${clicker}`,
      FromUserName: APP.corpId,
      CreateTime: expect.any(String),
      MsgType: 'update_button',
      Button: { ReplaceName: '已同意' },
    });
  });

  it('answers a click with a template card as update_template_card, the card in the XML of doc 90241', async () => {
    const response = await peer().event(
      'template_card_event',
      { EventKey: 'reject', TaskId: 'task-42', CardType: 'vote_interaction', ResponseCode: api.wecom.responseCode() },
      { from: 'voter' },
    );
    expect(response.reply).toMatchObject({
      MsgType: 'update_template_card',
      TemplateCard: { CardType: 'text_notice', MainTitle: { Title: '已驳回 (无选项)' }, CardAction: { Type: '1', Url: 'https://example.com/a?b=1&c=2' } },
    });
    expect(response.body).not.toContain('update_template_card'); // it is encrypted
  });

  it('an answer after the reply window updates the card through message/update_template_card with the response code, once', async () => {
    const code = api.wecom.responseCode();
    const response = await click('late', code, '/wecom/quick');
    expect(response.body).toBe('success');
    const update = await api.waitFor(() => api.wecom.cardUpdates.find((body) => body['response_code'] === code));
    expect(update).toEqual({ userids: [`clicker-${clicker}`], agentid: APP.agentId, response_code: code, button: { replace_name: '已同意' } });
    // The code is spent: a second late answer with it is refused and the failure logged.
    await click('late', code, '/wecom/quick');
    // (ctx.reply rejects in the plugin, which the bot logs as a failed middleware.)
    await api.waitFor(() => /update_template_card: errcode 40058: invalid parameter: response_code has been used/.test(logs.text()));
    expect(api.wecom.cardUpdates.filter((body) => body['response_code'] === code)).toHaveLength(1);
  });

  it('refuses updateButton outside a template_card_event, saying why', async () => {
    expect((await peer().text('/button')).body).toBe('success');
    await api.waitFor(() => /updateButton needs the response code of a template_card_event/.test(logs.text()));
    expect(api.wecom.sent.some((body) => JSON.stringify(body).includes('不该出现'))).toBe(false);
  });

  it('renders card JSON as doc 90241 spells it: PascalCase, repeated lists, CDATA text, bare numbers', () => {
    expect(templateCardXml(CARD)).toBe(
      '<TemplateCard><CardType><![CDATA[button_interaction]]></CardType><TaskId><![CDATA[task-42]]></TaskId>' +
        '<MainTitle><Title><![CDATA[报销审批]]></Title><Desc><![CDATA[张三 · 368 元]]></Desc></MainTitle>' +
        '<HorizontalContentList><KeyName><![CDATA[事由]]></KeyName><Value><![CDATA[差旅]]></Value></HorizontalContentList>' +
        '<ButtonList><Text><![CDATA[同意]]></Text><Style>1</Style><Key><![CDATA[approve]]></Key></ButtonList>' +
        '<ButtonList><Text><![CDATA[驳回]]></Text><Style>2</Style><Key><![CDATA[reject]]></Key></ButtonList></TemplateCard>',
    );
    expect(templateCardXml({ card_type: 'vote_interaction', checkbox: { question_key: 'q', option_list: [{ id: 'a', text: ']]>', is_checked: true }], mode: 1 } })).toBe(
      '<TemplateCard><CardType><![CDATA[vote_interaction]]></CardType><CheckBox><QuestionKey><![CDATA[q]]></QuestionKey>' +
        '<OptionList><Id><![CDATA[a]]></Id><Text><![CDATA[]]]]><![CDATA[>]]></Text><IsChecked>true</IsChecked></OptionList><Mode>1</Mode></CheckBox></TemplateCard>',
    );
  });
});
