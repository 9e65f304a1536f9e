/**
 * The bot `npm start` runs. Every channel and plugin is switched on by environment variables
 * (or a .env file); with no channel configured, dev mode makes up credentials so the bot runs
 * anywhere. The chain, as the seeds describe it: (agents) → voice → keyword rules → FAQ →
 * hand-off words → LLM → echo as the last resort.
 */
import { fileURLToPath } from 'node:url';
import { defineConfig, loadDevCredentials, officialAccount, wecomAiBot, wecomApp, wecomKf, type Channel, type Plugin, type WxbotConfig } from '@wxbot/core';
import { RedisStore } from '@wxbot/redis';
import { echo } from '@wxbot/plugin-echo';
import { handoff } from '@wxbot/plugin-handoff';
import { keyword } from '@wxbot/plugin-keyword';
import { llm } from '@wxbot/plugin-llm';
import { voice } from '@wxbot/plugin-voice';

export default defineConfig((): WxbotConfig => {
  const env = process.env;
  const channels: Channel[] = [];

  if (env.WX_TOKEN) {
    channels.push(
      officialAccount({
        path: '/wx',
        appId: env.WX_APP_ID ?? '',
        appSecret: env.WX_APP_SECRET || undefined,
        token: env.WX_TOKEN,
        encodingAESKey: env.WX_AES_KEY || undefined,
        allowPlain: env.WX_ALLOW_PLAIN === '1',
        apiBaseUrl: env.WX_API_BASE || undefined,
      }),
    );
  }
  if (env.WECOM_TOKEN) {
    channels.push(
      wecomApp({
        path: '/wecom/callback',
        corpId: env.WECOM_CORP_ID ?? '',
        agentId: env.WECOM_AGENT_ID,
        secret: env.WECOM_SECRET || undefined,
        token: env.WECOM_TOKEN,
        encodingAESKey: env.WECOM_AES_KEY ?? '',
        apiBaseUrl: env.WECOM_API_BASE || undefined,
      }),
    );
  }
  if (env.WECOM_KF_SECRET) {
    channels.push(
      wecomKf({
        path: '/wecom/kf',
        corpId: env.WECOM_CORP_ID ?? '',
        secret: env.WECOM_KF_SECRET,
        token: env.WECOM_KF_TOKEN || env.WECOM_TOKEN || '',
        encodingAESKey: env.WECOM_KF_AES_KEY || env.WECOM_AES_KEY || '',
        apiBaseUrl: env.WECOM_API_BASE || undefined,
      }),
    );
  }

  // WeCom AI bot (智能机器人), callback mode: the Token and EncodingAESKey of its API settings.
  // Either one alone still creates the channel, so that start-up says which one is missing.
  if (env.WECOM_AIBOT_TOKEN || env.WECOM_AIBOT_AES_KEY) {
    channels.push(
      wecomAiBot({
        path: '/wecom/aibot',
        token: env.WECOM_AIBOT_TOKEN ?? '',
        encodingAESKey: env.WECOM_AIBOT_AES_KEY ?? '',
        botId: env.WECOM_AIBOT_ID || undefined,
        stream: { showThinking: env.WECOM_AIBOT_SHOW_THINKING === '1' },
      }),
    );
  }

  let devMode: WxbotConfig['devMode'];
  if (channels.length === 0) {
    const dev = loadDevCredentials();
    channels.push(officialAccount({ path: '/wx', appId: dev.appId, token: dev.token, encodingAESKey: dev.encodingAESKey }));
    channels.push(wecomApp({ path: '/wecom/callback', corpId: dev.corpId, token: dev.token, encodingAESKey: dev.encodingAESKey }));
    channels.push(wecomAiBot({ path: '/wecom/aibot', token: dev.token, encodingAESKey: dev.encodingAESKey }));
    devMode = { credentials: { ...dev } };
  }

  const openai = env.OPENAI_API_KEY || env.OPENAI_BASE_URL ? { apiKey: env.OPENAI_API_KEY || undefined, baseURL: env.OPENAI_BASE_URL || undefined } : undefined;
  const plugins: Plugin[] = [];
  // Human agents (browser console at /agent/, WebSocket at /agent/ws) come first: while one holds
  // a conversation, the bot plugins below never see its messages.
  if (env.AGENT_TOKEN) plugins.push(handoff({ token: env.AGENT_TOKEN }));
  // Voice first: its transcript goes through everything after it. Without a transcription
  // endpoint only Official Account voice with WeChat's own Recognition is understood.
  if (openai) plugins.push(voice({ ...openai, model: env.OPENAI_TRANSCRIBE_MODEL || undefined }));
  plugins.push(keyword({ rulesFile: env.FAQ_FILE || fileURLToPath(new URL('./examples/faq/rules.yaml', import.meta.url)) }));
  if (openai) plugins.push(llm({ ...openai, model: env.OPENAI_MODEL || undefined, systemPrompt: env.LLM_SYSTEM_PROMPT || undefined }));
  plugins.push(echo());

  return {
    port: Number(env.PORT ?? 3000),
    channels,
    plugins,
    store: env.REDIS_URL ? new RedisStore({ url: env.REDIS_URL }) : undefined,
    logger: { level: env.LOG_LEVEL ?? 'info', pretty: Boolean(devMode) && env.LOG_FORMAT !== 'json' },
    devMode,
  };
});
