import { createBot, type Store } from '@wxbot/core';
import { NEEDS_DURABLE_QUEUE } from './lifecycle.ts';
import { loadConfig, loadDotEnv } from './loadConfig.ts';
import { parseCommand, UsageError } from './usage.ts';

/** `wxbot queue`: what the durable queues hold, and what to do with failed jobs. */
export async function queue(args: string[]): Promise<number> {
  const { values, positionals } = parseCommand(args, { config: { type: 'string', short: 'c' } }, true);
  const [action = 'list', queueName, id] = positionals;
  if (!['list', 'retry', 'drop', 'depth'].includes(action)) throw new UsageError(`unknown action "${action}": list, depth, retry or drop`);
  if ((action === 'retry' || action === 'drop') && (!queueName || !id)) throw new UsageError(`${action} needs the QUEUE and the ID of a job (\`wxbot queue list\` shows them)`);
  await loadDotEnv();
  const { config } = await loadConfig(values.config);
  // No log: this command's outcome is what it prints. (The engine's own lines, such as
  // "falling back to in-process delivery" when Redis is down, are about a running bot.)
  const bot = createBot({ ...config, workers: false, logger: { level: 'silent' } });
  try {
    const queues = bot.queues;
    if (!queues) {
      console.error(`wxbot queue: this bot has no durable queue: ${NEEDS_DURABLE_QUEUE}`);
      return 1;
    }
    const unreachable = await redisUnreachable(bot.store);
    if (unreachable) {
      console.error(`wxbot queue: ${unreachable}`);
      return 1;
    }
    if (action === 'depth') {
      for (const [name, counts] of Object.entries(await queues.depth())) {
        console.log(
          `${name.padEnd(24)} ${Object.entries(counts)
            .map(([state, n]) => `${state} ${n}`)
            .join('  ')}`,
        );
      }
    } else if (action === 'list') {
      const dead = await queues.deadJobs();
      if (dead.length === 0) console.log('no failed jobs');
      for (const job of dead) {
        const when = job.failedAt ? new Date(job.failedAt).toISOString() : '?';
        console.log(`${job.queue} ${job.id}  ${when}  attempts ${job.attempts}\n  ${job.summary}\n  reason: ${job.reason}`);
      }
    } else if (action === 'retry') {
      await queues.retryJob(queueName!, id!);
      console.log(`retrying ${queueName} ${id}: queued again; a running \`wxbot start\` or \`wxbot worker\` runs it`);
    } else {
      await queues.dropJob(queueName!, id!);
      console.log(`dropped ${queueName} ${id}`);
    }
    return 0;
  } finally {
    await bot.stop();
  }
}

const PING_TIMEOUT_MS = 3000;

/** Why the store's Redis cannot be used (no answer to PING in time, a refused connection), or undefined. */
async function redisUnreachable(store: Store): Promise<string | undefined> {
  if (typeof store.ping !== 'function') return undefined;
  const where = store.location ? ` at ${store.location}` : '';
  let timer: NodeJS.Timeout | undefined;
  try {
    const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`no answer within ${PING_TIMEOUT_MS} ms`)), PING_TIMEOUT_MS)));
    await Promise.race([store.ping(), timeout]);
    return undefined;
  } catch (error) {
    return `cannot reach Redis${where}: ${error instanceof Error ? error.message : String(error)} (check REDIS_URL, or the config's RedisStore)`;
  } finally {
    clearTimeout(timer);
  }
}
