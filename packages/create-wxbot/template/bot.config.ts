/**
 * The bot `npm start` runs. Channels are switched on by environment variables (copy
 * .env.example to .env); with none, dev mode makes up credentials (kept in .wxbot/dev.json) so
 * the bot runs anywhere: try it with `npx wxbot simulate 你好` in another terminal.
 *
 * The chain, first to last: greet (the sample plugin) → keyword rules and FAQ (faq.yaml) → an
 * LLM when OPENAI_API_KEY or OPENAI_BASE_URL is set → echo for whatever is left.
 */
import { defineConfig, loadDevCredentials, officialAccount, wecomApp, wecomKf, type Channel, type Plugin, type WxbotConfig } from '@wxbot/core';
import { echo } from '@wxbot/plugin-echo';
import { keyword } from '@wxbot/plugin-keyword';
import { llm } from '@wxbot/plugin-llm';
import { greet } from './plugins/greet.ts';

export default defineConfig((): WxbotConfig => {
  const env = process.env;
  const channels: Channel[] = [];
  if (env.WX_TOKEN) {
    channels.push(officialAccount({ appId: env.WX_APP_ID ?? '', appSecret: env.WX_APP_SECRET || undefined, token: env.WX_TOKEN, encodingAESKey: env.WX_AES_KEY || undefined }));
  }
  if (env.WECOM_TOKEN) {
    channels.push(
      wecomApp({
        corpId: env.WECOM_CORP_ID ?? '',
        agentId: env.WECOM_AGENT_ID,
        secret: env.WECOM_SECRET || undefined,
        token: env.WECOM_TOKEN,
        encodingAESKey: env.WECOM_AES_KEY ?? '',
      }),
    );
  }
  if (env.WECOM_KF_SECRET) {
    channels.push(wecomKf({ corpId: env.WECOM_CORP_ID ?? '', secret: env.WECOM_KF_SECRET, token: env.WECOM_KF_TOKEN ?? '', encodingAESKey: env.WECOM_KF_AES_KEY ?? '' }));
  }

  let devMode: WxbotConfig['devMode'];
  if (channels.length === 0) {
    const dev = loadDevCredentials();
    channels.push(officialAccount({ appId: dev.appId, token: dev.token, encodingAESKey: dev.encodingAESKey }));
    channels.push(wecomApp({ corpId: dev.corpId, token: dev.token, encodingAESKey: dev.encodingAESKey }));
    devMode = { credentials: { ...dev } };
  }

  const plugins: Plugin[] = [greet(), keyword({ rulesFile: 'faq.yaml' })];
  if (env.OPENAI_API_KEY || env.OPENAI_BASE_URL) {
    plugins.push(llm({ apiKey: env.OPENAI_API_KEY || undefined, baseURL: env.OPENAI_BASE_URL || undefined, model: env.OPENAI_MODEL || undefined }));
  }
  plugins.push(echo());

  return {
    port: Number(env.PORT ?? 3000),
    channels,
    plugins,
    logger: { level: env.LOG_LEVEL ?? 'info', pretty: Boolean(devMode) && env.LOG_FORMAT !== 'json' },
    devMode,
  };
});
