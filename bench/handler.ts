/**
 * CPU per new message of the default bot's callback handler in-process, without HTTP: the
 * same bot as servers.ts's `wxbot` (bot.config.ts, every feature on, info logs to stdout),
 * each callback handed to `bot.handleCallback` as the server would, 32 at a time. What the
 * JavaScript costs, free of the kernel's share (`writev` on loopback is a third of a profile
 * and swings with the machine's load), so two versions compare within a few per cent.
 *
 *   npx tsx --conditions=@wxbot/source bench/handler.ts plain > /dev/null   # sources
 *   npm run build && node --import tsx bench/handler.ts safe > /dev/null    # compiled dist
 *
 * Prints to stderr, per pass: process CPU µs (user + system, log-writing and GC threads
 * included) and wall µs per message; then the median pass. BENCH_LLM=1 adds the LLM plugin
 * (as bot.config.ts sets it up: on this Official Account channel it asks for whole answers) on a fake OpenAI in another process; the texts the
 * rules and FAQ do not answer (80% of the bench's) go to it.
 */
import { fork } from 'node:child_process';
import { parse as parseQuery } from 'node:querystring';
import { type CryptoMode, defaultBotEnv } from './config.ts';
import { median } from './run.ts';
import { newMessages } from './traffic.ts';

/** Answers of the fake OpenAI in the pass being run (BENCH_LLM=1). */
let llmAnswers = 0;

if (process.argv[2] === '--fake-openai') {
  // The fake OpenAI of BENCH_LLM=1, in its own process so its CPU is not the bot's.
  const { startFakeOpenAI } = await import('@wxbot/testing');
  const fake = await startFakeOpenAI({ apiKey: null });
  process.send?.({ url: fake.url });
  process.on('disconnect', () => process.exit(0));
} else {
  await main();
}

async function main(): Promise<void> {
  const mode = (process.argv[2] ?? 'plain') as CryptoMode;
  const PASSES = Number(process.env.BENCH_PASSES ?? 5);
  const PER_PASS = Number(process.env.BENCH_MESSAGES ?? 20_000);
  const CONCURRENCY = 32;

  Object.assign(process.env, defaultBotEnv(mode));
  // BENCH_LLM=1: the LLM plugin on too (bot.config.ts adds it with OPENAI_BASE_URL), answering
  // through a fake OpenAI in another process: the difference to a run without is the plugin's
  // CPU outside the model (SDK request, HTTP client, memory).
  const fakeOpenAI = process.env.BENCH_LLM ? fork(import.meta.filename, ['--fake-openai'], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] }) : undefined;
  if (fakeOpenAI) {
    const url = await new Promise<string>((resolve) => fakeOpenAI.on('message', (m: { url?: string }) => m.url && resolve(m.url)));
    Object.assign(process.env, { OPENAI_BASE_URL: url, OPENAI_API_KEY: 'bench-key' });
  }
  const { createBot, resolveConfig } = await import('@wxbot/core');
  const config = await resolveConfig((await import('../bot.config.ts')).default);
  // WXBOT_BENCH_PLUGINS=keyword,voice: only the default bot's plugins named (as servers.ts's wxbot-only), to tell what each costs.
  const only = process.env.WXBOT_BENCH_PLUGINS?.split(',');
  const bot = createBot(only ? { ...config, plugins: (config.plugins ?? []).filter((p) => only.includes(p.name)) } : config);
  await bot.init();
  const found = bot.channels.find((c) => c.path === '/wx');
  if (!found) throw new Error('no channel on /wx');
  const channel = found;

  async function pass(count: number): Promise<{ cpu: number; wall: number; llm: number }> {
    const callbacks = newMessages(mode, count).map(({ path, body }) => ({ query: parseQuery(path.slice(path.indexOf('?') + 1)), body }));
    const cpu = process.cpuUsage();
    const start = performance.now();
    let next = 0;
    llmAnswers = 0;
    const worker = async () => {
      while (next < callbacks.length) {
        const { query, body } = callbacks[next++]!;
        const answer = await bot.handleCallback(channel, query as Record<string, string>, body);
        if (!answer.startsWith('<xml>')) throw new Error(`not a passive reply: ${answer}`);
        if (answer.includes('回答')) llmAnswers++; // the fake's answers (plain mode: readable)
        // Back to the event loop between messages, as a server's socket I/O does (timers and
        // log writes complete there; without it thousands of log lines pile up unwritten).
        await new Promise(setImmediate);
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    const used = process.cpuUsage(cpu);
    return { cpu: (used.user + used.system) / count, wall: ((performance.now() - start) * 1000) / count, llm: llmAnswers / count };
  }

  await pass(Math.min(PER_PASS, 10_000)); // warm-up: JIT, caches
  const passes = [];
  for (let i = 0; i < PASSES; i++) {
    const p = await pass(PER_PASS);
    passes.push(p);
    console.error(
      `${mode} pass ${i + 1}: CPU ${p.cpu.toFixed(1)} µs/msg, wall ${p.wall.toFixed(1)} µs/msg${fakeOpenAI ? `, ${Math.round(p.llm * 100)}% answered by the LLM` : ''}`,
    );
  }
  console.error(
    `${mode}: median CPU ${median(passes.map((p) => p.cpu)).toFixed(1)} µs/msg, wall ${median(passes.map((p) => p.wall)).toFixed(1)} µs/msg (${PASSES} × ${PER_PASS} new messages, ${CONCURRENCY} at a time, in-process)`,
  );
  await bot.stop();
  fakeOpenAI?.kill();
  process.exit(0);
}
