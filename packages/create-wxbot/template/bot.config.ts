/**
 * The bot `npm start` runs. Channels are switched on by environment variables (copy
 * .env.example to .env), parsed by `envConfig()` of @wxbot/core: a channel with some of its
 * variables set but not all stops start-up (and `npx wxbot check`) naming the missing one. With
 * none, dev mode makes up credentials (kept in .wxbot/dev.json) so the bot runs anywhere: try it
 * with `npx wxbot simulate 你好` in another terminal.
 *
 * The chain, first to last: the agent console (with AGENT_TOKEN, or dev mode) → greet (the
 * sample plugin) → keyword rules and FAQ (faq.yaml, or FAQ_FILE; 人工 hands off to the agents) → an LLM when
 * OPENAI_API_KEY or OPENAI_BASE_URL is set → echo for whatever is left.
 */
import { defineConfig, envConfig, devSetup, officialAccount, wecomAiBot, wecomApp, wecomKf, type Channel, type Plugin, type WxbotConfig } from '@wxbot/core';
import { echo } from '@wxbot/plugin-echo';
import { handoff } from '@wxbot/plugin-handoff';
import { cannedRepliesFrom, keyword } from '@wxbot/plugin-keyword';
import { llm } from '@wxbot/plugin-llm';
import { greet } from './plugins/greet.ts';

export default defineConfig((): WxbotConfig => {
  const env = envConfig();
  // This project keeps its state in memory: a REDIS_URL it ignored would look like shared state.
  if (env.redisUrl) {
    throw new Error(
      'REDIS_URL is set, but this project has no Redis store: `npm install @wxbot/redis` and add `store: new RedisStore({ url: env.redisUrl })` (from @wxbot/redis) to bot.config.ts, or unset REDIS_URL',
    );
  }
  const faqFile = env.faqFile ?? 'faq.yaml';
  const channels: Channel[] = [];
  if (env.officialAccount) channels.push(officialAccount(env.officialAccount));
  if (env.wecomApp) channels.push(wecomApp(env.wecomApp));
  if (env.wecomKf) channels.push(wecomKf(env.wecomKf));
  if (env.wecomAiBot) channels.push(wecomAiBot(env.wecomAiBot));

  let devMode: WxbotConfig['devMode'];
  // Dev mode signs agents in with a made-up token too, so the console works out of the box, and
  // sends to the fake WeChat API of `wxbot simulate --fake-api` (see devSetup).
  let agentToken = env.agentToken;
  if (channels.length === 0) {
    // With the AI bot too, so `npx wxbot simulate --channel wecomAiBot 你好` works as the
    // repository's quick tour shows.
    const dev = devSetup(env, { aiBot: true });
    channels.push(...dev.channels);
    devMode = dev.devMode;
    agentToken = dev.agentToken;
  }

  const plugins: Plugin[] = [];
  // First, so a conversation an agent holds never reaches the bot's plugins. The console's
  // canned replies are the FAQ's answers.
  if (agentToken) plugins.push(handoff({ token: agentToken, cannedReplies: () => cannedRepliesFrom(faqFile) }));
  plugins.push(greet(), keyword({ rulesFile: faqFile }));
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
