/**
 * Official Account (公众号) echo bot: text, images and voice come back to the sender, a new
 * follower gets a greeting, and `/help` explains the bot.
 *
 *   npx wxbot start --config examples/oa-echo/bot.config.ts
 *
 * Credentials come from WX_APP_ID / WX_TOKEN / WX_AES_KEY (/ WX_APP_SECRET); without WX_TOKEN
 * the bot runs in dev mode with made-up ones (kept in .wxbot/dev.json).
 */
import { defineConfig, definePlugin, loadDevCredentials, officialAccount, type Channel, type WxbotConfig } from '@wxbot/core';
import { echo } from '@wxbot/plugin-echo';

export const WELCOME = '感谢关注！我是回声机器人：发文字、图片或语音给我，我会原样发回给您。发送 /help 查看用法。';
export const HELP = ['我会把您发来的内容原样发回：', '· 文字 → 同样的文字', '· 图片 → 同一张图片', '· 语音 → 同一段语音', '发送 /help 再看一次这段说明。'].join('\n');

/**
 * Middleware written right here in the config. A config has no `bot` to call `bot.use` on, so
 * the middleware goes in a tiny inline plugin: its `setup` gets the same `use` / `on` /
 * `event` / `command` / `hears` a bot has. It comes before echo in `plugins`, so `/help` is
 * answered here and never echoed; everything else goes on to echo.
 */
const extras = definePlugin({
  name: 'oa-echo-extras',
  setup(bot) {
    bot.event('subscribe', (ctx) => ctx.reply(WELCOME));
    bot.command('help', (ctx) => ctx.reply(HELP));
    // Plain `bot.use` works too; e.g. a debug line for every message (never its text):
    bot.use(async (ctx, next) => {
      ctx.log.debug({ type: ctx.message.type }, 'oa-echo: message');
      await next();
    });
  },
});

export default defineConfig((): WxbotConfig => {
  const env = process.env;
  let devMode: WxbotConfig['devMode'];
  let channel: Channel;
  if (env.WX_TOKEN) {
    channel = officialAccount({
      appId: env.WX_APP_ID ?? '',
      appSecret: env.WX_APP_SECRET || undefined, // only needed for answers after the 5 s window
      token: env.WX_TOKEN,
      encodingAESKey: env.WX_AES_KEY || undefined, // set: safe/compat mode; unset: plain mode
      allowPlain: env.WX_ALLOW_PLAIN === '1', // only while switching the console from plain to safe mode
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
    plugins: [extras(), echo()],
    logger: { level: env.LOG_LEVEL || 'info', pretty: Boolean(devMode) && env.LOG_FORMAT !== 'json' },
    devMode,
  };
});
