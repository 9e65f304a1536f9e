/**
 * WeCom AI bot (智能机器人) with a streamed LLM: the user watches the answer being written, as
 * in WeCom's own assistants. Every text goes to a chat model behind any OpenAI-compatible
 * endpoint with `stream: true`; WeCom polls the growing answer (callback mode) or the bot
 * pushes it over its long connection (WebSocket mode). Long or slow answers continue through
 * response_url. `/reset` forgets the conversation; a welcome answers the first chat of the day.
 *
 *   npx wxbot start --config examples/aibot-llm/bot.config.ts
 *
 * Needs OPENAI_API_KEY (or OPENAI_BASE_URL of a server that needs no key). Without
 * WECOM_AIBOT_TOKEN and WECOM_AIBOT_SECRET it runs in dev mode with made-up callback
 * credentials (.wxbot/dev.json): try it with
 * `npx wxbot simulate --config examples/aibot-llm/bot.config.ts --channel wecomAiBot 你好`.
 */
import { FileStore, defineConfig, definePlugin, loadDevCredentials, wecomAiBot, type WxbotConfig } from '@wxbot/core';
import { llm } from '@wxbot/plugin-llm';

/** The system prompt (LLM_SYSTEM_PROMPT replaces it). The AI bot renders Markdown. */
export const SYSTEM_PROMPT = [
  '你是企业微信里的智能机器人，帮同事解答工作中的问题：写作润色、翻译、总结、数据和办公软件技巧等。',
  '请用简体中文回答（用户用其他语言提问时用同一种语言），语气友好、专业。',
  '可以使用 Markdown（标题、列表、加粗、代码块）让回答更清楚；不确定的事情直接说不知道，不要编造。',
].join('\n');

/** What a user sees the first time they open the chat each day (WELCOME_TEXT replaces it). */
export const WELCOME = '你好！我是智能助手，直接提问就行；发送 /reset 可以开始新的对话。';

const welcome = definePlugin({
  name: 'welcome',
  setup(bot) {
    bot.event('enter_chat', (ctx) => ctx.reply(process.env.WELCOME_TEXT || WELCOME));
  },
});

export default defineConfig(async (): Promise<WxbotConfig> => {
  const env = process.env;
  if (!env.OPENAI_API_KEY && !env.OPENAI_BASE_URL) {
    throw new Error(
      'examples/aibot-llm needs a chat model: set OPENAI_API_KEY (OpenAI), or OPENAI_BASE_URL (+ OPENAI_API_KEY if it needs one) for any OpenAI-compatible server, e.g. OPENAI_BASE_URL=http://127.0.0.1:11434/v1 OPENAI_MODEL=qwen2.5',
    );
  }
  let devMode: WxbotConfig['devMode'];
  let credentials: { token?: string; encodingAESKey?: string; botId?: string; secret?: string };
  if (env.WECOM_AIBOT_TOKEN || env.WECOM_AIBOT_SECRET) {
    credentials = {
      token: env.WECOM_AIBOT_TOKEN || undefined,
      encodingAESKey: env.WECOM_AIBOT_AES_KEY || undefined,
      botId: env.WECOM_AIBOT_ID || undefined,
      secret: env.WECOM_AIBOT_SECRET || undefined,
    };
  } else {
    const dev = loadDevCredentials();
    credentials = { token: dev.token, encodingAESKey: dev.encodingAESKey };
    devMode = { credentials: { token: dev.token, encodingAESKey: dev.encodingAESKey } };
  }

  return {
    port: Number(env.PORT || 3000),
    // Callback URL (callback mode): http://<host>:<port>/wecom/aibot
    channels: [
      wecomAiBot({
        ...credentials,
        wsUrl: env.WECOM_AIBOT_WS_URL || undefined,
        stream: { showThinking: env.WECOM_AIBOT_SHOW_THINKING === '1' },
      }),
    ],
    plugins: [
      welcome(),
      llm({
        apiKey: env.OPENAI_API_KEY || undefined,
        baseURL: env.OPENAI_BASE_URL || undefined,
        model: env.OPENAI_MODEL || undefined,
        systemPrompt: env.LLM_SYSTEM_PROMPT || SYSTEM_PROMPT,
        stream: true,
        // A streamed answer may take its time: WeCom shows it growing for up to 6 minutes.
        timeoutMs: 5 * 60_000,
        memory: { turns: 10 },
      }),
    ],
    // Loaded only with REDIS_URL: importing ioredis costs every request CPU even unused (bench/README.md).
    store: env.REDIS_URL ? new (await import('@wxbot/redis')).RedisStore({ url: env.REDIS_URL }) : new FileStore({ path: env.STORE_FILE || '.wxbot/aibot-llm-store.json' }),
    logger: { level: env.LOG_LEVEL || 'info', pretty: Boolean(devMode) && env.LOG_FORMAT !== 'json' },
    devMode,
  };
});
