/**
 * What `wxbot start` and `wxbot worker` share: `--concurrency`, the durable-queue requirement,
 * and stopping cleanly on a signal.
 */
import { loggableError, type Bot, type Logger } from '@wxbot/core';
import { UsageError } from './usage.ts';

/** The fix for a bot without durable queues, as every command that needs them says it. */
export const NEEDS_DURABLE_QUEUE = 'set REDIS_URL (or give the config a RedisStore from @wxbot/redis)';

/**
 * Why `bot` has no durable queue, and the fix: no Redis ({@link NEEDS_DURABLE_QUEUE}), or a
 * Redis store (a store behind a server answers PING) whose durable delivery the config turned off.
 */
export function whyNoDurableQueue(bot: Bot): string {
  if (typeof bot.store.ping === 'function')
    return "the config's store is on Redis but durable delivery is off (RedisStore durable: false, or the bot option delivery: 'memory'): remove that";
  return NEEDS_DURABLE_QUEUE;
}

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
      : `--concurrency sizes the durable queues' workers, and this bot has none (messages are handled as they arrive): ${whyNoDurableQueue(bot)}, or leave out --concurrency`,
  );
}

/** What {@link stopOnSignal} says, and what else it closes. */
export interface StopOnSignalOptions {
  /** The line when the signal comes ("stopping: workers finish their jobs"). */
  stopping: string;
  /** The line once everything is closed, just before the exit ("wxbot worker stopped"). */
  stopped: string;
  /** Closed before the bot (a metrics server). */
  close?: () => Promise<void>;
}

/**
 * On SIGINT or SIGTERM: logs `stopping`, stops the bot (its jobs and sends finish, or are
 * handed back), logs `stopped` with the time it took, exits 0 (1 when stopping fails). A second signal
 * exits at once (1), with a line saying what that leaves: jobs still running are taken over
 * by another worker once their locks expire.
 */
export function stopOnSignal(bot: Bot, options: StopOnSignalOptions): void {
  let since: number | undefined;
  const shutdown = async (signal: string) => {
    if (since !== undefined) {
      bot.log.warn(
        { signal, afterMs: Date.now() - since },
        'second signal: exiting now without waiting; jobs still running are run again by another worker once their locks expire',
      );
      process.exit(1);
    }
    since = Date.now();
    bot.log.info({ signal }, options.stopping);
    await options.close?.().catch(() => undefined);
    try {
      await bot.stop();
    } catch (error) {
      // Exit either way: a rejection here would otherwise only be logged (keepServingOnEscapedErrors).
      bot.log.error({ signal, err: loggableError(error) }, 'stopping failed; exiting anyway');
      process.exit(1);
    }
    bot.log.info({ signal, ms: Date.now() - since }, options.stopped);
    process.exit(0);
  };
  process.on('SIGINT', () => void shutdown('SIGINT'));
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
}

/**
 * Keeps the process serving when plugin code fails outside the pipeline: a floating promise that
 * rejects (`unhandledRejection`) or a throw in a timer or event callback (`uncaughtException`).
 * Each is one error line with its stack, and the server goes on: Node's default (exit) would
 * take every conversation down for one plugin's mistake, and the pipeline already contains what
 * a plugin throws while it handles a message. The bot keeps its state in the store and in
 * per-message contexts, which an escaped callback has already left; what such a callback itself
 * held (a plugin's own timer or cache) is the plugin's to repair. Returns a function that removes
 * the handlers again.
 */
export function keepServingOnEscapedErrors(log: Logger): () => void {
  const rejection = (reason: unknown) => {
    log.error(
      reason instanceof Error ? { err: loggableError(reason) } : { reason: String(reason) },
      'a promise rejected and nothing handled it (a plugin that does not await or catch a promise?); the bot keeps serving',
    );
  };
  const exception = (error: unknown) => {
    log.error(
      error instanceof Error ? { err: loggableError(error) } : { reason: String(error) },
      "an exception escaped a callback (a throw in a plugin's timer or event handler?); the bot keeps serving",
    );
  };
  process.on('unhandledRejection', rejection);
  process.on('uncaughtException', exception);
  return () => {
    process.off('unhandledRejection', rejection);
    process.off('uncaughtException', exception);
  };
}
