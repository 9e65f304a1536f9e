/**
 * WeChat Customer Service (微信客服, KF) service desk:
 *
 *   voice → text (ffmpeg + an OpenAI-compatible transcription endpoint)
 *   → hand-off words (人工, 真人…): the session moves to the waiting pool for a human
 *   → keyword rules and FAQ from faq.yaml (re-read when it changes)
 *   → an LLM for everything else (when one is configured)
 *   → a sensible fallback (no echo): "换个说法，或回复‘人工’"
 *
 *   npx wxbot start --config examples/kf-desk/bot.config.ts
 *
 * Credentials come from WECOM_CORP_ID / WECOM_KF_SECRET / WECOM_KF_TOKEN / WECOM_KF_AES_KEY;
 * without WECOM_KF_SECRET the bot runs in dev mode: made-up credentials (.wxbot/dev.json) and
 * the API at http://127.0.0.1:4000, where `wxbot simulate --fake-api-port 4000` answers.
 */
import { fileURLToPath } from 'node:url';
import { defineConfig, definePlugin, loadDevCredentials, wecomKf, type Channel, type Plugin, type WxbotConfig } from '@wxbot/core';
import { keyword } from '@wxbot/plugin-keyword';
import { llm } from '@wxbot/plugin-llm';
import { voice } from '@wxbot/plugin-voice';

/** Next to this file, whatever the working directory. */
export const FAQ_FILE = fileURLToPath(new URL('./faq.yaml', import.meta.url));
/** A text containing one of these goes to a human (checked before the rules and the FAQ). */
export const HANDOFF_WORDS = ['人工', '真人', '投诉', '找客服'];
export const HANDOFF_REPLY = '好的，正在为您转接人工客服，请稍候～（人工服务时间：每天 9:00–21:00）';
export const WELCOME = '您好，欢迎咨询小微智能官方客服！请直接描述您的问题，也可以发语音；需要人工服务请回复“人工”。';
/** For a text nothing answered (no LLM configured). */
export const FALLBACK = '抱歉，这个问题我暂时答不上来。您可以换个说法，或回复“人工”转人工客服（每天 9:00–21:00）。';
/** For a voice when no transcription endpoint is configured. */
export const VOICE_UNSUPPORTED = '抱歉，我暂时听不了语音，请用文字描述您的问题，或回复“人工”转人工客服。';
/** For what no rule answered that is neither text nor voice (a file, a location, a mini program…). */
export const OTHER_RECEIVED = '已收到～这类消息需要人工查看，回复“人工”即可转人工客服。';

export const SYSTEM_PROMPT = [
  '你是“小微智能”（智能家居设备品牌）的微信客服助手，负责售前咨询和售后问题。',
  '用简体中文、纯文本回答（微信客服不显示 Markdown），语气亲切，一般不超过 150 字。',
  '只回答和小微智能的商品、订单、物流、售后相关的问题；不知道的政策、价格、库存不要编造。',
  '遇到无法解决的问题、用户情绪激动或要求退款赔偿时，请引导用户回复“人工”转人工客服。',
].join('\n');

/** In dev mode the "secret" is made up, so API calls go to a local fake WeChat API. */
const DEV_FAKE_API = 'http://127.0.0.1:4000';

/**
 * The end of the chain, written inline (a config has no `bot`; a tiny plugin gets one): the
 * greeting when a customer opens the chat, and an answer for whatever nothing before answered,
 * so a customer is never left without a reply.
 */
const desk = definePlugin({
  name: 'kf-desk',
  setup(bot) {
    bot.event('enter_session', (ctx) => ctx.reply(WELCOME)); // sent with the welcome_code
    bot.on('event', () => {}); // other events (session changes, send failures): nothing to say
    bot.on('voice', (ctx) => ctx.reply(VOICE_UNSUPPORTED));
    bot.on('text', (ctx) => ctx.reply(FALLBACK));
    bot.use((ctx) => ctx.reply(OTHER_RECEIVED));
  },
});

export default defineConfig(async (): Promise<WxbotConfig> => {
  const env = process.env;
  let devMode: WxbotConfig['devMode'];
  let channel: Channel;
  if (env.WECOM_KF_SECRET) {
    channel = wecomKf({
      corpId: env.WECOM_CORP_ID ?? '',
      secret: env.WECOM_KF_SECRET,
      token: env.WECOM_KF_TOKEN || env.WECOM_TOKEN || '',
      encodingAESKey: env.WECOM_KF_AES_KEY || env.WECOM_AES_KEY || '',
      apiBaseUrl: env.WECOM_API_BASE || undefined,
      cursorFile: env.KF_CURSOR_FILE || undefined, // default .wxbot/kf-cursors.json (unused with REDIS_URL)
    });
  } else {
    const dev = loadDevCredentials();
    channel = wecomKf({
      corpId: dev.corpId,
      secret: 'dev-kf-secret',
      token: dev.token,
      encodingAESKey: dev.encodingAESKey,
      apiBaseUrl: env.WECOM_API_BASE || DEV_FAKE_API,
      cursorFile: env.KF_CURSOR_FILE || undefined,
    });
    devMode = { credentials: { corpId: dev.corpId, secret: 'dev-kf-secret', token: dev.token, encodingAESKey: dev.encodingAESKey } };
  }

  const openai = env.OPENAI_API_KEY || env.OPENAI_BASE_URL ? { apiKey: env.OPENAI_API_KEY || undefined, baseURL: env.OPENAI_BASE_URL || undefined } : undefined;
  const plugins: Plugin[] = [];
  // First: the transcript goes through everything after it, exactly as a typed text.
  if (openai) plugins.push(voice({ ...openai, model: env.OPENAI_TRANSCRIBE_MODEL || undefined, language: 'zh', prompt: '小微智能 保修 退货 换货 退款 发票 顺丰 配网' }));
  plugins.push(keyword({ rulesFile: FAQ_FILE, handoffWords: HANDOFF_WORDS, handoffReply: HANDOFF_REPLY }));
  if (openai) {
    plugins.push(
      llm({
        ...openai,
        model: env.OPENAI_MODEL || undefined,
        systemPrompt: env.LLM_SYSTEM_PROMPT || SYSTEM_PROMPT,
        apology: '抱歉，我这边暂时无法回答，您可以稍后再试，或回复“人工”转人工客服。',
      }),
    );
  }
  plugins.push(desk());

  return {
    port: Number(env.PORT || 3000),
    channels: [channel], // callback URL: http://<host>:<port>/wecom/kf
    plugins,
    // Loaded only with REDIS_URL: importing ioredis costs every request CPU even unused (bench/README.md).
    store: env.REDIS_URL ? new (await import('@wxbot/redis')).RedisStore({ url: env.REDIS_URL }) : undefined, // in memory; the sync cursor goes to KF_CURSOR_FILE
    logger: { level: env.LOG_LEVEL || 'info', pretty: Boolean(devMode) && env.LOG_FORMAT !== 'json' },
    devMode,
  };
});
