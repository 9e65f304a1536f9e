/**
 * What `wxbot start` and `wxbot worker` share: `--concurrency`, the durable-queue requirement,
 * and stopping cleanly on a signal.
 */
import type { Bot } from '@wxbot/core';
import { UsageError } from './usage.ts';

/** The fix for a bot without durable queues, as every command that needs them says it. */
export const NEEDS_DURABLE_QUEUE = 'set REDIS_URL (or give the config a RedisStore from @wxbot/redis)';

/** `--concurrency N`: a positive whole number, or undefined for the default. */
export function parseConcurrency(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`--concurrency must be a positive whole number, not "${value}"`);
  return n;
}

/**
 * `--concurrency` sizes the durable queues' workers: without them (no Redis, or a config with
 * `workers: false`) it would change nothing, so it is wrong usage rather than silently ignored.
 * The bot is stopped first, since the command ends here.
 */
export async function requireQueuesForConcurrency(bot: Bot, concurrency: number | undefined, runsWorkers: boolean): Promise<void> {
  if (concurrency === undefined || (bot.durable && runsWorkers)) return;
  await bot.stop();
  throw new UsageError(
    bot.durable
      ? "--concurrency sizes this process's queue workers, and the config turns them off (workers: false): run `wxbot worker --concurrency N` instead"
      : `--concurrency sizes the durable queues' workers, and this bot has none (messages are handled as they arrive): ${NEEDS_DURABLE_QUEUE}, or leave out --concurrency`,
  );
}

/** On SIGINT or SIGTERM: logs `message`, stops the bot (its jobs and sends finish), exits 0. */
export function stopOnSignal(bot: Bot, message: string): void {
  const shutdown = async (signal: string) => {
    bot.log.info({ signal }, message);
    await bot.stop();
    process.exit(0);
  };
  process.once('SIGINT', () => void shutdown('SIGINT'));
  process.once('SIGTERM', () => void shutdown('SIGTERM'));
}
