/**
 * The bot `npm start` runs. Every channel is switched on by its environment variables (or a
 * .env file); with none set, dev mode makes up credentials so the bot runs anywhere.
 */
import { defineConfig, loadDevCredentials, officialAccount, wecomApp, type Channel, type WxbotConfig } from '@wxbot/core';
import { echo } from '@wxbot/plugin-echo';

export default defineConfig((): WxbotConfig => {
  const env = process.env;
  const channels: Channel[] = [];

  if (env.WX_TOKEN) {
    channels.push(
      officialAccount({
        path: '/wx',
        appId: env.WX_APP_ID ?? '',
        appSecret: env.WX_APP_SECRET,
        token: env.WX_TOKEN,
        encodingAESKey: env.WX_AES_KEY || undefined,
      }),
    );
  }
  if (env.WECOM_TOKEN) {
    channels.push(
      wecomApp({
        path: '/wecom/callback',
        corpId: env.WECOM_CORP_ID ?? '',
        agentId: env.WECOM_AGENT_ID,
        secret: env.WECOM_SECRET,
        token: env.WECOM_TOKEN,
        encodingAESKey: env.WECOM_AES_KEY ?? '',
      }),
    );
  }

  let devMode: WxbotConfig['devMode'];
  if (channels.length === 0) {
    const dev = loadDevCredentials();
    channels.push(officialAccount({ path: '/wx', appId: dev.appId, token: dev.token, encodingAESKey: dev.encodingAESKey }));
    channels.push(wecomApp({ path: '/wecom/callback', corpId: dev.corpId, token: dev.token, encodingAESKey: dev.encodingAESKey }));
    devMode = { credentials: { ...dev } };
  }

  return {
    port: Number(env.PORT ?? 3000),
    channels,
    plugins: [echo()],
    logger: { level: env.LOG_LEVEL ?? 'info' },
    devMode,
  };
});
