import { createBot } from '@wxbot/core';
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
  const bot = createBot({ ...config, workers: false, logger: { level: 'warn' } });
  try {
    const queues = bot.queues;
    if (!queues) {
      console.error(`wxbot queue: this bot has no durable queue: ${NEEDS_DURABLE_QUEUE}`);
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
