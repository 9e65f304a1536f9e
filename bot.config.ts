/**
 * The bot `npm start` runs. Every channel and plugin is switched on by environment variables
 * (or a .env file); with no channel configured, dev mode makes up credentials so the bot runs
 * anywhere. The chain, as the seeds describe it: (agents) → voice → keyword rules → FAQ →
 * hand-off words → LLM → a short "没听懂" as the last resort (naming the FAQ topics and the
 * hand-off word). `/help` lists the commands (`/faq`: the questions the FAQ answers; `/human`:
 * a person, as the hand-off word does); unknown commands get a pointer to it.
 */
import { fileURLToPath } from 'node:url';
import { defineConfig, definePlugin, envConfig, devSetup, officialAccount, wecomAiBot, wecomApp, wecomKf, type Channel, type Plugin, type WxbotConfig } from '@wxbot/core';
import { handoff } from '@wxbot/plugin-handoff';
import { cannedRepliesFrom, keyword, keywordTexts } from '@wxbot/plugin-keyword';
import { llm } from '@wxbot/plugin-llm';
import { voice } from '@wxbot/plugin-voice';

/** What the sample FAQ (examples/faq/rules.yaml) answers, as the fallback names it. */
export const SAMPLE_FAQ_TOPICS = ['营业时间', '价格', '发货和快递', '退款', '发票', '优惠活动'];

/**
 * The root bot's own commands, listed by `/help`: `/faq` names the questions the FAQ file
 * answers (read again each time, as the agent console's canned replies are), `/human` asks for
 * a person as the hand-off word does (or says that nobody can take the conversation).
 */
export const commands = definePlugin({
  name: 'commands',
  setup(bot, options: { faqFile: string }) {
    bot.command(['faq', '问题'], '看看我能回答哪些问题', async (ctx) => {
      const questions = (await cannedRepliesFrom(options.faqFile)).map((entry) => entry.label);
      await ctx.reply(questions.length > 0 ? `您可以问我：\n${questions.map((q, i) => `${i + 1}. ${q}`).join('\n')}` : '常见问题还没有整理好，直接发消息给我就好。');
    });
    bot.command(['human', '人工'], '转人工客服', async (ctx) => {
      await ctx.reply(ctx.t(keywordTexts, ctx.canHandoff ? 'handoff' : 'noHuman'));
      await ctx.handoff({ reason: 'command' });
    });
  },
});

export default defineConfig(async (): Promise<WxbotConfig> => {
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
  // Dev mode signs agents in with a made-up token too, so the console works out of the box, and
  // sends to the fake WeChat API of `wxbot simulate --fake-api` (see devSetup).
  let agentToken = env.agentToken;
  if (channels.length === 0) {
    const dev = devSetup(env, { aiBot: true });
    channels.push(...dev.channels);
    devMode = dev.devMode;
    agentToken = dev.agentToken;
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
  plugins.push(commands({ faqFile }));
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
    // Loaded only when used: importing ioredis costs every request ~7 µs of CPU over HTTP even with
    // no Redis (bench/ab.ts, measured in the keyword session; why is not known).
    store: env.redisUrl ? new (await import('@wxbot/redis')).RedisStore({ url: env.redisUrl }) : undefined,
    logger: { level: env.logLevel, pretty: Boolean(devMode) && env.logFormat !== 'json' },
    devMode,
  };
});
