/**
 * Order lookup as a two-step dialog (`@wxbot/plugin-dialog`): "/order" (or "查订单") asks for
 * the order number, then the phone's last four digits, then answers. Each answer is its own
 * WeChat callback; the dialog lives in the store, so it goes on after a restart (FileStore) or
 * on another instance (RedisStore with REDIS_URL). `/help` lists the commands, "取消" leaves.
 *
 *   npx wxbot start --config examples/order-dialog/bot.config.ts
 *   npx wxbot simulate -i                # in another terminal, dev mode: type /order
 */
import { FileStore, defineConfig, definePlugin, loadDevCredentials, officialAccount, type Channel, type WxbotConfig } from '@wxbot/core';
import { defineDialog, dialogs } from '@wxbot/plugin-dialog';
import { findOrder } from './orders.ts';

export const ORDER_QUESTION = '请输入您的订单号（9 位数字）：';
export const PHONE_QUESTION = '请输入下单手机号的后四位：';
export const GREETING = '您好！发送“查订单”查询订单进度，发送 /help 查看全部命令。';

/** The dialog: straight-line code, replayed from the store on each answer. */
export const orderLookup = defineDialog({
  name: 'order',
  title: '查询订单',
  async run(d) {
    const id = await d.ask(ORDER_QUESTION, {
      validate: (text) => /^\d{9}$/.test(text) || '订单号是 9 位数字，例如 202411001，请再输入一次：',
      timeout: 5 * 60_000,
      timeoutMessage: '订单查询等待太久，已自动结束。需要时请再发送“查订单”。',
    });
    const phoneTail = await d.ask(PHONE_QUESTION, { validate: (text) => /^\d{4}$/.test(text) || '请输入 4 位数字：' });
    // external(): looked up once; a later replay reuses the result instead of asking again.
    const found = await d.external(async () => (await findOrder(id, phoneTail)) ?? null);
    if (!found) return d.reply(`没有找到订单 ${id}（尾号 ${phoneTail}）。请核对后再发送“查订单”，或回复“人工”。`);
    await d.reply(`订单 ${found.id}：${found.status}`);
  },
});

/** How to enter the dialog, and a greeting for whatever else is said. */
const orderCommands = definePlugin({
  name: 'order-commands',
  setup(bot) {
    bot.command('order', '查询订单进度', (ctx) => orderLookup.enter(ctx));
    bot.hears(['查订单', '查询订单', '订单查询'], (ctx) => orderLookup.enter(ctx));
    // Commands go on: the bot answers unknown ones with a pointer to /help.
    bot.on('text', (ctx, next) => (ctx.message.command ? next() : ctx.reply(GREETING)));
  },
});

export default defineConfig(async (): Promise<WxbotConfig> => {
  const env = process.env;
  let devMode: WxbotConfig['devMode'];
  let channel: Channel;
  if (env.WX_TOKEN) {
    channel = officialAccount({
      appId: env.WX_APP_ID ?? '',
      appSecret: env.WX_APP_SECRET || undefined,
      token: env.WX_TOKEN,
      encodingAESKey: env.WX_AES_KEY || undefined,
      apiBaseUrl: env.WX_API_BASE || undefined,
    });
  } else {
    const dev = loadDevCredentials();
    channel = officialAccount({ appId: dev.appId, token: dev.token, encodingAESKey: dev.encodingAESKey });
    devMode = { credentials: { appId: dev.appId, token: dev.token, encodingAESKey: dev.encodingAESKey } };
  }
  return {
    port: Number(env.PORT || 3000),
    channels: [channel], // callback URL: http://<host>:<port>/wx
    // dialogs() first: while a dialog waits, the conversation's texts are its answers.
    plugins: [dialogs({ dialogs: [orderLookup] }), orderCommands()],
    // Loaded only with REDIS_URL: importing ioredis costs every request CPU even unused (bench/README.md).
    store: env.REDIS_URL ? new (await import('@wxbot/redis')).RedisStore({ url: env.REDIS_URL }) : new FileStore({ path: env.STORE_FILE || '.wxbot/order-dialog-store.json' }),
    logger: { level: env.LOG_LEVEL || 'info', pretty: Boolean(devMode) && env.LOG_FORMAT !== 'json' },
    devMode,
  };
});
