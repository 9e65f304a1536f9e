import { parseArgs } from 'node:util';
import { createBot } from '@wxbot/core';
import { loadConfig, loadDotEnv } from './loadConfig.ts';

/**
 * `wxbot worker`: the bot's plugins and channels without an HTTP server, taking jobs from
 * the durable queues (messages whose window closed, KF messages, every active send). Run as
 * many as the work needs next to the `wxbot start` instances that receive the callbacks.
 */
export async function worker(args: string[]): Promise<number> {
  const { values } = parseArgs({ args, options: { config: { type: 'string', short: 'c' }, concurrency: { type: 'string' } } });
  await loadDotEnv();
  const { config, filepath } = await loadConfig(values.config);
  const bot = createBot({ ...config, workers: false });
  if (!bot.durable) {
    console.error('wxbot worker: this bot has no durable queue: set REDIS_URL (or give the config a RedisStore from @wxbot/redis)');
    await bot.stop();
    return 1;
  }
  const concurrency = parseConcurrency(values.concurrency);
  await bot.init();
  await bot.startWorkers({ concurrency });
  bot.log.info({ config: filepath, concurrency }, 'wxbot worker started');
  const shutdown = async (signal: string) => {
    bot.log.info({ signal }, 'stopping: workers finish their jobs');
    await bot.stop();
    process.exit(0);
  };
  process.once('SIGINT', () => void shutdown('SIGINT'));
  process.once('SIGTERM', () => void shutdown('SIGTERM'));
  return 0;
}

/** `--concurrency N`: a positive whole number, or undefined for the default. */
export function parseConcurrency(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--concurrency must be a positive whole number, not "${value}"`);
  return n;
}
