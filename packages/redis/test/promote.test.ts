import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { Job, Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { promoteToFront } from '../src/durable/promote.ts';
import { redisTestConnection } from './fixture.ts';

const { prefix, run, redis } = await redisTestConnection('promoteToFront tests');
const connection = () => new Redis('redis://127.0.0.1:6379', { maxRetriesPerRequest: null });
const closers: (() => Promise<unknown>)[] = [];
afterAll(async () => {
  for (const close of closers.reverse()) await close();
});

/** A queue with `waiting` jobs waiting and one delayed for a minute (`parked`), and the order a worker then runs them in once `wake` ran. */
async function runOrder(name: string, wake: (queue: Queue, parked: string) => Promise<unknown>): Promise<string[]> {
  const queue = new Queue(name, { connection: connection(), prefix: `${prefix}q` });
  closers.push(() => queue.close());
  const parked = await queue.add('parked', {}, { jobId: 'parked', delay: 60_000 });
  for (const id of ['a', 'b', 'c']) await queue.add(id, {}, { jobId: id });
  await wake(queue, parked.id!);
  const order: string[] = [];
  const done = new Promise<void>((resolve) => {
    const worker = new Worker(
      name,
      async (job) => {
        order.push(job.id!);
        if (order.length === 4) resolve();
      },
      { connection: connection(), prefix: `${prefix}q`, concurrency: 1 },
    );
    closers.push(() => worker.close());
  });
  await done;
  return order;
}

describe.runIf(run)('promoteToFront (real Redis, BullMQ)', () => {
  it("a delayed job woken with it is the next one run, ahead of the jobs already waiting (BullMQ's promote puts it behind them)", async () => {
    expect(await runOrder('front', (queue, id) => promoteToFront(redis, queue, id))).toEqual(['parked', 'a', 'b', 'c']);
    expect(await runOrder('back', (queue, id) => new Job(queue, 'wake', {}, {}, id).promote())).toEqual(['a', 'b', 'c', 'parked']);
  });

  it('says false, and changes nothing, for a job that is not delayed', async () => {
    const queue = new Queue('not-delayed', { connection: connection(), prefix: `${prefix}q` });
    closers.push(() => queue.close());
    await queue.add('w', {}, { jobId: 'w' });
    expect(await promoteToFront(redis, queue, 'w')).toBe(false);
    expect(await promoteToFront(redis, queue, 'missing')).toBe(false);
    expect(await queue.getJobState('w')).toBe('waiting');
    const delayed = await queue.add('d', {}, { jobId: 'd', delay: 60_000 });
    expect(await promoteToFront(redis, queue, delayed.id!)).toBe(true);
    expect(await queue.getJobState('d')).toBe('waiting');
    expect((await queue.getJob('d'))?.delay).toBe(0);
  });
});

describe("the copy of BullMQ's promote script", () => {
  it('was made from the promote-9.lua (and includes) of the BullMQ installed: redo the copy when this fails', () => {
    const commands = join(dirname(createRequire(import.meta.url).resolve('bullmq')), 'commands');
    const files = [
      'promote-9',
      'includes/addJobInTargetList',
      'includes/addJobWithPriority',
      'includes/isQueuePausedOrMaxed',
      'includes/addBaseMarkerIfNeeded',
      'includes/getPriorityScore',
    ];
    const hash = createHash('sha256');
    for (const file of files) hash.update(readFileSync(join(commands, `${file}.lua`)));
    // BullMQ 6.7.0's scripts, from which promote.ts was copied.
    expect(hash.digest('hex')).toBe('fd6c1e1a5ec35ce28f60d7d6c5ac63e8624a20654aaf7bf627407bf4f9c82e27');
  });
});
