import { createBot } from '@wxbot/core';
import { keepServingOnEscapedErrors, NEEDS_DURABLE_QUEUE, parseConcurrency, stopOnSignal } from './lifecycle.ts';
import { loadConfig, loadDotEnv } from './loadConfig.ts';
import { parseCommand } from './usage.ts';

/**
 * `wxbot worker`: the bot's plugins and channels without an HTTP server, taking jobs from
 * the durable queues (messages whose window closed, KF messages, every active send). Run as
 * many as the work needs next to the `wxbot start` instances that receive the callbacks.
 */
export async function worker(args: string[]): Promise<number> {
  const { values } = parseCommand(args, { config: { type: 'string', short: 'c' }, concurrency: { type: 'string' } });
  // Checked before the config loads: a wrong number is wrong usage whatever the config says.
  const concurrency = parseConcurrency(values.concurrency);
  await loadDotEnv();
  const { config, filepath } = await loadConfig(values.config);
  const bot = createBot({ ...config, workers: false });
  if (!bot.durable) {
    console.error(`wxbot worker: this bot has no durable queue, so there is nothing for workers to take: ${NEEDS_DURABLE_QUEUE}`);
    await bot.stop();
    return 1;
  }
  keepServingOnEscapedErrors(bot.log);
  try {
    await bot.init();
  } catch (error) {
    // A plugin whose setup threw (named in the error): nothing runs, the store closes.
    await bot.stop().catch(() => {});
    throw error;
  }
  await bot.startWorkers({ concurrency });
  bot.log.info({ config: filepath, concurrency, delivery: bot.delivery }, 'wxbot worker started');
  stopOnSignal(bot, 'stopping: workers finish their jobs');
  return 0;
}
