/**
 * The bot `npm start` runs. Every channel and plugin is switched on by environment variables
 * (or a .env file); with no channel configured, dev mode makes up credentials so the bot runs
 * anywhere. The chain, as the seeds describe it: (agents) → voice → keyword rules → FAQ →
 * hand-off words → LLM → a short "没听懂" as the last resort (naming the FAQ topics and the
 * hand-off word). `/help` lists the commands; unknown commands get a pointer to it.
 */
import { fileURLToPath } from 'node:url';
import { defineConfig, envConfig, loadDevCredentials, officialAccount, wecomAiBot, wecomApp, wecomKf, type Channel, type Plugin, type WxbotConfig } from '@wxbot/core';
import { RedisStore } from '@wxbot/redis';
import { handoff } from '@wxbot/plugin-handoff';
import { cannedRepliesFrom, keyword } from '@wxbot/plugin-keyword';
import { llm } from '@wxbot/plugin-llm';
import { voice } from '@wxbot/plugin-voice';

/** What the sample FAQ (examples/faq/rules.yaml) answers, as the fallback names it. */
export const SAMPLE_FAQ_TOPICS = ['营业时间', '价格', '发货和快递', '退款', '发票', '优惠活动'];

/** Dev mode's made-up API secret and AgentId: the fake WeChat API of `wxbot simulate` accepts them. */
const DEV_SECRET = 'dev-secret';
const DEV_AGENT_ID = 1000002;
/** Where dev mode's active sends go: `wxbot simulate --fake-api` listens there (it reads this config). */
const DEV_FAKE_API = 'http://127.0.0.1:4000';

export default defineConfig((): WxbotConfig => {
  // Parsed with a schema: a half-configured channel stops start-up (and fails `wxbot check`)
  // with the name of the missing variable, instead of falling back to dev mode.
  const env = envConfig();
  const channels: Channel[] = [];
  if (env.officialAccount) channels.push(officialAccount(env.officialAccount));
  if (env.wecomApp) channels.push(wecomApp(env.wecomApp));
  if (env.wecomKf) channels.push(wecomKf(env.wecomKf));

  // WeCom AI bot (智能机器人), callback mode: the Token and EncodingAESKey of its API settings.
  if (env.wecomAiBot) channels.push(wecomAiBot(env.wecomAiBot));

  let devMode: WxbotConfig['devMode'];
  // Dev mode signs agents in with a made-up token too, so the console works out of the box.
  let agentToken = env.agentToken;
  if (channels.length === 0) {
    const dev = loadDevCredentials();
    // Made-up secrets, so active sends (agent replies, late answers) go out: to a fake WeChat
    // API on DEV_FAKE_API, which `wxbot simulate --fake-api` runs and prints.
    // (WX_API_BASE / WECOM_API_BASE move it.)
    const oaApi = env.wxApiBase ?? DEV_FAKE_API;
    const wecomApi = env.wecomApiBase ?? DEV_FAKE_API;
    channels.push(officialAccount({ path: '/wx', appId: dev.appId, appSecret: DEV_SECRET, token: dev.token, encodingAESKey: dev.encodingAESKey, apiBaseUrl: oaApi }));
    channels.push(
      wecomApp({
        path: '/wecom/callback',
        corpId: dev.corpId,
        agentId: DEV_AGENT_ID,
        secret: DEV_SECRET,
        token: dev.token,
        encodingAESKey: dev.encodingAESKey,
        apiBaseUrl: wecomApi,
      }),
    );
    channels.push(wecomAiBot({ path: '/wecom/aibot', token: dev.token, encodingAESKey: dev.encodingAESKey }));
    agentToken ??= dev.agentToken;
    devMode = {
      credentials: {
        token: dev.token,
        encodingAESKey: dev.encodingAESKey,
        appId: dev.appId,
        corpId: dev.corpId,
        secret: DEV_SECRET,
        'WeChat API': `${oaApi} (wxbot simulate --fake-api)`,
      },
      // An AGENT_TOKEN of the environment is not printed; the made-up one is, in the link.
      links: { 'agent console': env.agentToken ? '/agent/ (sign in with AGENT_TOKEN)' : `/agent/?token=${dev.agentToken}` },
    };
  }

  const openai = env.openai && { apiKey: env.openai.apiKey, baseURL: env.openai.baseURL };
  const plugins: Plugin[] = [];
  // Human agents (browser console at /agent/, WebSocket at /agent/ws) come first: while one holds
  // a conversation, the bot plugins below never see its messages.
  // The console's canned replies are the FAQ file's answers (read again for each page load).
  const faqFile = env.faqFile ?? fileURLToPath(new URL('./examples/faq/rules.yaml', import.meta.url));
  if (agentToken) plugins.push(handoff({ token: agentToken, cannedReplies: () => cannedRepliesFrom(faqFile) }));
  // Voice first: its transcript goes through everything after it. Without a transcription
  // endpoint only Official Account voice with WeChat's own Recognition is understood.
  plugins.push(voice(openai ? { ...openai, model: env.openai?.transcribeModel } : { transcribe: false }));
  // The last resort is keyword's fallback: it answers texts that nothing after it (the LLM, when
  // configured) answered, naming the sample FAQ's topics (or a FAQ_FILE's first questions).
  plugins.push(
    keyword({
      rulesFile: faqFile,
      fallback: env.faqFile ? true : { topics: SAMPLE_FAQ_TOPICS },
    }),
  );
  if (openai) plugins.push(llm({ ...openai, model: env.openai?.model, systemPrompt: env.openai?.systemPrompt }));

  return {
    // Unset, the CLI's rule applies: --port, then PORT, then 3000.
    port: env.port,
    host: env.host,
    channels,
    plugins,
    store: env.redisUrl ? new RedisStore({ url: env.redisUrl }) : undefined,
    logger: { level: env.logLevel, pretty: Boolean(devMode) && env.logFormat !== 'json' },
    devMode,
  };
});
