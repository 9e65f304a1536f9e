import type { Job, Queue } from 'bullmq';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

/**
 * Queue metrics in the bot's registry (served at `/metrics`): depth per queue and state
 * (read from Redis at scrape time), job wait and run time, retries, failures by reason.
 */
export class QueueMetrics {
  readonly #wait: Histogram<'queue'>;
  readonly #run: Histogram<'queue'>;
  readonly #retries: Counter<'queue'>;
  readonly #failures: Counter<'queue' | 'reason'>;

  /**
   * `queues`: the queues to count at scrape time, or undefined while the engine is unavailable
   * (Redis does not answer); `within`: whether a read settles within the engine's deadline.
   * A scrape that cannot read the depths leaves `wxbot_queue_jobs` absent (never the last
   * counts, which would lie during an outage) and says so in `wxbot_queue_up` 0.
   */
  constructor(registry: Registry, queues: () => Queue[] | undefined, within: (work: Promise<unknown>) => Promise<boolean>) {
    const registers = [registry];
    // One registry per bot: a second engine on the same bot (tests) reuses the metrics.
    const existing = registry.getSingleMetric('wxbot_queue_jobs');
    if (!existing) {
      // Both gauges are collected from one read per scrape (prom-client collects them concurrently).
      let reading: Promise<Depths | undefined> | undefined;
      const read = (): Promise<Depths | undefined> => {
        reading ??= readDepths(queues(), within).finally(() => setImmediate(() => (reading = undefined)));
        return reading;
      };
      new Gauge({
        name: 'wxbot_queue_jobs',
        help: 'Jobs in the durable queues, by queue and state (read from Redis: the same on every process); absent when Redis did not answer (see wxbot_queue_up)',
        labelNames: ['queue', 'state'] as const,
        registers,
        async collect() {
          const depths = await read();
          this.reset();
          for (const [name, counts] of depths ?? []) {
            for (const [state, count] of Object.entries(counts)) this.set({ queue: name, state }, count);
          }
        },
      });
      new Gauge({
        name: 'wxbot_queue_up',
        help: '1 when this scrape read the durable queues from Redis; 0 when Redis did not answer within the deadline or durable delivery is unavailable (falling back to memory): wxbot_queue_jobs is then absent',
        registers,
        async collect() {
          this.set((await read()) ? 1 : 0);
        },
      });
    }
    this.#wait = metric(
      registry,
      'wxbot_job_wait_seconds',
      () =>
        new Histogram({
          name: 'wxbot_job_wait_seconds',
          help: 'Time from a job becoming runnable (queued, or its delay over) to a worker starting it; leases taken over from a stopped process are not counted',
          labelNames: ['queue'] as const,
          buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30],
          registers,
        }),
    );
    this.#run = metric(
      registry,
      'wxbot_job_run_seconds',
      () =>
        new Histogram({
          name: 'wxbot_job_run_seconds',
          help: 'Time a worker spent on a job (pipeline or send)',
          labelNames: ['queue'] as const,
          buckets: [0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30, 120],
          registers,
        }),
    );
    this.#retries = metric(
      registry,
      'wxbot_job_retries_total',
      () =>
        new Counter({
          name: 'wxbot_job_retries_total',
          help: 'Tries that failed transiently and will be retried (sends, and message jobs on queue="inbound")',
          labelNames: ['queue'] as const,
          registers,
        }),
    );
    this.#failures = metric(
      registry,
      'wxbot_job_failures_total',
      () => new Counter({ name: 'wxbot_job_failures_total', help: 'Jobs that failed for good, by reason', labelNames: ['queue', 'reason'] as const, registers }),
    );
  }

  started(queue: string, job: Job, now: number): void {
    const { queuedAt = job.timestamp, leased } = job.data as { queuedAt?: number; leased?: boolean };
    // A lease taken over (its process stopped renewing it) became runnable when its last
    // renewal ran out, a moment nothing records (BullMQ's changeDelay keeps the first
    // timestamp, so timestamp + delay is the first deadline, not the last): its "wait" would be
    // the whole time the message ran before. Not a queue wait: not counted.
    if (leased) return;
    // A retry or a delayed send waits on purpose: count the wait from when the job became runnable.
    const since = Math.max(queuedAt, job.processedOn ?? 0, job.timestamp + (job.delay ?? 0));
    if (job.attemptsMade === 0) this.#wait.observe({ queue }, Math.max(0, now - Math.min(since, now)) / 1000);
  }

  ran(queue: string, started: number): void {
    this.#run.observe({ queue }, (Date.now() - started) / 1000);
  }

  retried(queue: string): void {
    this.#retries.inc({ queue });
  }

  failed(queue: string, reason: string): void {
    // The reason without free text after the errcode's name keeps the label set small.
    this.#failures.inc({ queue, reason: reason.split(' (')[0]!.slice(0, 80) });
  }
}

type Depths = (readonly [string, Record<string, number>])[];

/** The depth of every queue, or undefined when the engine is unavailable or Redis does not answer in time. */
async function readDepths(queues: Queue[] | undefined, within: (work: Promise<unknown>) => Promise<boolean>): Promise<Depths | undefined> {
  if (!queues) return undefined;
  const read = Promise.all(queues.map(async (queue) => [queue.name, await queue.getJobCounts('waiting', 'active', 'delayed', 'failed')] as const));
  read.catch(() => undefined); // it may fail after the deadline
  if (!(await within(read))) return undefined;
  try {
    return await read;
  } catch {
    return undefined;
  }
}

function metric<T>(registry: Registry, name: string, make: () => T): T {
  return (registry.getSingleMetric(name) as T | undefined) ?? make();
}
