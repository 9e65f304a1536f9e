import { createBot, type Store } from '@wxbot/core';
import type { QueueOperations } from '@wxbot/core/delivery';
import { whyNoDurableQueue } from './lifecycle.ts';
import { loadConfig, loadDotEnv } from './loadConfig.ts';
import { parseCommand, UsageError } from './usage.ts';

/** `wxbot queue`: what the durable queues hold, and what to do with failed jobs. */
export async function queue(args: string[]): Promise<number> {
  const { values, positionals } = parseCommand(args, { config: { type: 'string', short: 'c' }, all: { type: 'boolean', default: false }, limit: { type: 'string' } }, true);
  const [action = 'list', queueName, id] = positionals;
  if (!['list', 'retry', 'drop', 'depth'].includes(action)) throw new UsageError(`unknown action "${action}": list, depth, retry or drop`);
  const bulk = action === 'retry' || action === 'drop';
  if (values.all && !bulk) throw new UsageError(`--all goes with retry or drop, not ${action}`);
  if (values.all && id !== undefined) throw new UsageError(`${action} --all takes at most a QUEUE, not a job ID`);
  if (bulk && !values.all && (!queueName || !id))
    throw new UsageError(`${action} needs the QUEUE and the ID of a job (\`wxbot queue list\` shows them), or --all [QUEUE] for every failed job`);
  if (!bulk && queueName !== undefined) throw new UsageError(`${action} takes no QUEUE or ID`);
  if (values.limit !== undefined && action !== 'list') throw new UsageError(`--limit goes with list, not ${action}`);
  const limit = values.limit === undefined ? LIST_LIMIT : Number(values.limit);
  if (!Number.isInteger(limit) || limit < 1) throw new UsageError(`--limit must be a positive whole number, not "${values.limit}"`);
  await loadDotEnv();
  const { config } = await loadConfig(values.config);
  // No log: this command's outcome is what it prints. (The engine's own lines, such as
  // "falling back to in-process delivery" when Redis is down, are about a running bot.)
  const bot = createBot({ ...config, workers: false, logger: { level: 'silent' } });
  try {
    const queues = bot.queues;
    if (!queues) {
      console.error(`wxbot queue: this bot has no durable queue: ${whyNoDurableQueue(bot)}`);
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
      const dead = await queues.deadJobs(limit);
      if (dead.length === 0) console.log('no failed jobs');
      for (const job of dead) {
        const when = job.failedAt ? new Date(job.failedAt).toISOString() : '?';
        console.log(`${job.queue} ${job.id}  ${when}  attempts ${job.attempts}\n  ${job.summary}\n  reason: ${job.reason}`);
      }
      if (dead.length === limit) {
        const total = Object.values(await queues.depth()).reduce((sum, counts) => sum + (counts['failed'] ?? 0), 0);
        if (total > dead.length) console.log(`(the newest ${dead.length} of ${total} failed jobs: --limit N shows more, \`wxbot queue depth\` counts them per queue)`);
      }
    } else if (values.all) {
      return await everyFailedJob(queues, action as 'retry' | 'drop', queueName);
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
/** Failed jobs `list` prints by default (the newest). */
const LIST_LIMIT = 100;
/** Failed jobs `--all` takes at most in one run (BullMQ keeps failed jobs 14 days). */
const ALL_LIMIT = 100_000;

/**
 * `retry --all [QUEUE]` / `drop --all [QUEUE]`: every failed job (of QUEUE), one at a time, as
 * `retry QUEUE ID` would. Exit 1 if any of them could not be retried or dropped (each said).
 */
async function everyFailedJob(queues: QueueOperations, action: 'retry' | 'drop', queueName: string | undefined): Promise<number> {
  if (queueName !== undefined) {
    const names = Object.keys(await queues.depth());
    if (!names.includes(queueName)) {
      console.error(`wxbot queue: no queue named "${queueName}" (queues: ${names.join(', ')})`);
      return 1;
    }
  }
  const dead = (await queues.deadJobs(ALL_LIMIT)).filter((job) => queueName === undefined || job.queue === queueName);
  const where = queueName === undefined ? '' : ` in ${queueName}`;
  if (dead.length === 0) {
    console.log(`no failed jobs${where}`);
    return 0;
  }
  let done = 0;
  for (const job of dead) {
    try {
      await (action === 'retry' ? queues.retryJob(job.queue, job.id) : queues.dropJob(job.queue, job.id));
      done += 1;
    } catch (error) {
      console.error(`wxbot queue: ${job.queue} ${job.id}: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
  const failed = dead.length - done;
  const what = action === 'retry' ? 'queued again (a running `wxbot start` or `wxbot worker` runs them)' : 'dropped';
  console.log(`${done} failed job${done === 1 ? '' : 's'}${where} ${what}${failed > 0 ? `; ${failed} could not be (above)` : ''}`);
  return failed > 0 ? 1 : 0;
}

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
