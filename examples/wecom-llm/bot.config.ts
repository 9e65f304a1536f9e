/**
 * WeCom self-built app (企业微信自建应用) LLM assistant: every text goes to a chat model behind
 * any OpenAI-compatible endpoint, which remembers the last turns of each conversation; `/reset`
 * forgets them. Memory lives in a FileStore under .wxbot/ (or Redis with REDIS_URL), so it
 * survives a restart. An answer slower than the reply window goes out through message/send.
 *
 *   npx wxbot start --config examples/wecom-llm/bot.config.ts
 *
 * Needs OPENAI_API_KEY (or OPENAI_BASE_URL of a server that needs no key). Without WECOM_TOKEN
 * the bot runs in dev mode with made-up WeCom credentials (kept in .wxbot/dev.json).
 */
import { FileStore, defineConfig, loadDevCredentials, wecomApp, type Channel, type WxbotConfig } from '@wxbot/core';
import { llm } from '@wxbot/plugin-llm';

/** The system prompt (LLM_SYSTEM_PROMPT replaces it). */
export const SYSTEM_PROMPT = [
  '你是企业微信里的智能助手，帮同事解答工作中的问题：写作润色、翻译、总结、数据和办公软件技巧等。',
  '请用简体中文回答（用户用其他语言提问时用同一种语言），语气友好、专业。',
  '企业微信消息不显示 Markdown：请用纯文本作答，不要用 #、*、表格或代码块，需要分点时用“1. 2. 3.”。',
  '回答尽量简洁，一般不超过 300 字；不确定的事情直接说不知道，不要编造。',
].join('\n');

/** In dev mode the app "secret" is made up, so its API calls go to a local fake (wxbot simulate --fake-api-port 4000). */
const DEV_FAKE_API = 'http://127.0.0.1:4000';

/** REPLY_WINDOW_MS: how long to wait for a passive answer (WeChat gives up after 5 s). */
function replyWindowMs(value: string | undefined): number | undefined {
  if (!value) return undefined; // the core's default, 4000
  const ms = Number(value);
  if (!Number.isInteger(ms) || ms < 1 || ms > 4500)
    throw new Error(`REPLY_WINDOW_MS must be a whole number of milliseconds from 1 to 4500 (WeChat waits 5 s at most), got "${value}"`);
  return ms;
}

export default defineConfig(async (): Promise<WxbotConfig> => {
  const env = process.env;
  if (!env.OPENAI_API_KEY && !env.OPENAI_BASE_URL) {
    throw new Error(
      'examples/wecom-llm needs a chat model: set OPENAI_API_KEY (OpenAI), or OPENAI_BASE_URL (+ OPENAI_API_KEY if it needs one) for any OpenAI-compatible server, e.g. OPENAI_BASE_URL=http://127.0.0.1:11434/v1 OPENAI_MODEL=qwen2.5 for a local Ollama',
    );
  }
  const window = replyWindowMs(env.REPLY_WINDOW_MS);

  let devMode: WxbotConfig['devMode'];
  let channel: Channel;
  if (env.WECOM_TOKEN) {
    channel = wecomApp({
      corpId: env.WECOM_CORP_ID ?? '',
      agentId: env.WECOM_AGENT_ID || undefined,
      secret: env.WECOM_SECRET || undefined, // without it an answer later than the window is lost
      token: env.WECOM_TOKEN,
      encodingAESKey: env.WECOM_AES_KEY ?? '',
      apiBaseUrl: env.WECOM_API_BASE || undefined,
      replyWindowMs: window,
    });
  } else {
    const dev = loadDevCredentials();
    channel = wecomApp({
      corpId: dev.corpId,
      agentId: 1000002,
      secret: 'dev-secret',
      token: dev.token,
      encodingAESKey: dev.encodingAESKey,
      apiBaseUrl: env.WECOM_API_BASE || DEV_FAKE_API,
      replyWindowMs: window,
    });
    devMode = { credentials: { corpId: dev.corpId, agentId: '1000002', token: dev.token, encodingAESKey: dev.encodingAESKey } };
  }

  return {
    port: Number(env.PORT || 3000),
    channels: [channel], // callback URL: http://<host>:<port>/wecom/callback
    plugins: [
      // Answers every text; `/reset` forgets the sender's conversation.
      llm({
        apiKey: env.OPENAI_API_KEY || undefined,
        baseURL: env.OPENAI_BASE_URL || undefined,
        model: env.OPENAI_MODEL || undefined, // default gpt-4o-mini
        systemPrompt: env.LLM_SYSTEM_PROMPT || SYSTEM_PROMPT,
        memory: { turns: 10 },
      }),
    ],
    // The conversation memory (and the bot's other state) lives in the store: a JSON file by
    // default, so a restart keeps it; Redis to share it between several instances.
    // Loaded only with REDIS_URL: importing ioredis costs every request CPU even unused (bench/README.md).
    store: env.REDIS_URL ? new (await import('@wxbot/redis')).RedisStore({ url: env.REDIS_URL }) : new FileStore({ path: env.STORE_FILE || '.wxbot/wecom-llm-store.json' }),
    logger: { level: env.LOG_LEVEL || 'info', pretty: Boolean(devMode) && env.LOG_FORMAT !== 'json' },
    devMode,
  };
});
