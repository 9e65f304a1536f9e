/**
 * The bot `npm start` runs. Channels are switched on by environment variables (copy
 * .env.example to .env), parsed by `envConfig()` of @wxbot/core: a channel with some of its
 * variables set but not all stops start-up (and `npx wxbot check`) naming the missing one. With
 * none, dev mode makes up credentials (kept in .wxbot/dev.json) so the bot runs anywhere: try it
 * with `npx wxbot simulate 你好` in another terminal.
 *
 * The chain, first to last: the agent console (with AGENT_TOKEN, or dev mode) → greet (the
 * sample plugin) → keyword rules and FAQ (faq.yaml; 人工 hands off to the agents) → an LLM when
 * OPENAI_API_KEY or OPENAI_BASE_URL is set → echo for whatever is left.
 */
import { defineConfig, envConfig, loadDevCredentials, officialAccount, wecomAiBot, wecomApp, wecomKf, type Channel, type Plugin, type WxbotConfig } from '@wxbot/core';
import { echo } from '@wxbot/plugin-echo';
import { handoff } from '@wxbot/plugin-handoff';
import { cannedRepliesFrom, keyword } from '@wxbot/plugin-keyword';
import { llm } from '@wxbot/plugin-llm';
import { greet } from './plugins/greet.ts';

/** Dev mode's made-up API secret and AgentId: the fake WeChat API of `wxbot simulate` accepts them. */
const DEV_SECRET = 'dev-secret';
const DEV_AGENT_ID = 1000002;
/** Where dev mode's active sends go: `npx wxbot simulate --fake-api` listens there (it reads this config). */
const DEV_FAKE_API = 'http://127.0.0.1:4000';
const FAQ_FILE = 'faq.yaml';

export default defineConfig((): WxbotConfig => {
  const env = envConfig();
  const channels: Channel[] = [];
  if (env.officialAccount) channels.push(officialAccount(env.officialAccount));
  if (env.wecomApp) channels.push(wecomApp(env.wecomApp));
  if (env.wecomKf) channels.push(wecomKf(env.wecomKf));
  if (env.wecomAiBot) channels.push(wecomAiBot(env.wecomAiBot));

  let devMode: WxbotConfig['devMode'];
  let agentToken = env.agentToken;
  if (channels.length === 0) {
    const dev = loadDevCredentials();
    // Made-up secrets, so active sends (an agent's reply, a late answer) go out: to the fake
    // WeChat API of `npx wxbot simulate --fake-api` (WX_API_BASE / WECOM_API_BASE move it).
    const oaApi = env.wxApiBase ?? DEV_FAKE_API;
    const wecomApi = env.wecomApiBase ?? DEV_FAKE_API;
    channels.push(officialAccount({ appId: dev.appId, appSecret: DEV_SECRET, token: dev.token, encodingAESKey: dev.encodingAESKey, apiBaseUrl: oaApi }));
    channels.push(wecomApp({ corpId: dev.corpId, agentId: DEV_AGENT_ID, secret: DEV_SECRET, token: dev.token, encodingAESKey: dev.encodingAESKey, apiBaseUrl: wecomApi }));
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

  const plugins: Plugin[] = [];
  // First, so a conversation an agent holds never reaches the bot's plugins. The console's
  // canned replies are the FAQ's answers.
  if (agentToken) plugins.push(handoff({ token: agentToken, cannedReplies: () => cannedRepliesFrom(FAQ_FILE) }));
  plugins.push(greet(), keyword({ rulesFile: FAQ_FILE }));
  if (env.openai) plugins.push(llm({ apiKey: env.openai.apiKey, baseURL: env.openai.baseURL, model: env.openai.model, systemPrompt: env.openai.systemPrompt }));
  plugins.push(echo());

  return {
    // Unset, the CLI's rule applies: --port, then PORT, then 3000.
    port: env.port,
    host: env.host,
    channels,
    plugins,
    logger: { level: env.logLevel, pretty: Boolean(devMode) && env.logFormat !== 'json' },
    devMode,
  };
});
