import { parseArgs } from 'node:util';
import { createBot } from '@wxbot/core';
import { loadConfig, loadDotEnv } from './loadConfig.ts';

const USAGE = `wxbot queue [--config FILE] [list]          failed jobs with their reasons, newest first
wxbot queue [--config FILE] retry QUEUE ID   run a failed job again
wxbot queue [--config FILE] drop QUEUE ID    remove a failed job for good
wxbot queue [--config FILE] depth            jobs per queue and state`;

/** `wxbot queue`: what the durable queues hold, and what to do with failed jobs. */
export async function queue(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args, allowPositionals: true, options: { config: { type: 'string', short: 'c' } } });
  const [action = 'list', queueName, id] = positionals;
  if (!['list', 'retry', 'drop', 'depth'].includes(action) || ((action === 'retry' || action === 'drop') && (!queueName || !id))) {
    console.error(USAGE);
    return 2;
  }
  await loadDotEnv();
  const { config } = await loadConfig(values.config);
  const bot = createBot({ ...config, workers: false, logger: { level: 'warn' } });
  try {
    const queues = bot.queues;
    if (!queues) {
      console.error('wxbot queue: this bot has no durable queue: set REDIS_URL (or give the config a RedisStore from @wxbot/redis)');
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
      console.log(`retrying ${queueName} ${id}`);
    } else {
      await queues.dropJob(queueName!, id!);
      console.log(`dropped ${queueName} ${id}`);
    }
    return 0;
  } finally {
    await bot.stop();
  }
}
