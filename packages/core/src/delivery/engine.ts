/**
 * The seam for a durable delivery engine (BullMQ on Redis, in `@wxbot/redis`). The bot uses
 * the in-process outbox unless it is given an engine, or its store offers one (a RedisStore
 * does): plugins never see which one runs.
 *
 * What a durable engine promises, and where the bot calls it:
 * - `send` (the {@link Outbox}): passive parts in process, active parts safely stored as jobs;
 * - `enqueue`: messages with no HTTP response (a KF page) stored as jobs; the KF cursor moves
 *   only after it resolves;
 * - `leave`: a callback's window closed and its pipeline still runs here: the message is
 *   stored (as a lease this process renews) before WeChat gets `success`, so a worker can run
 *   it again if this process dies; the returned function ends the lease when the run is done;
 * - `startWorkers`: this process takes jobs (a `wxbot start` or a `wxbot worker`).
 */
import type { Logger } from 'pino';
import type { Channel } from '../channels/types.ts';
import type { Message } from '../message/types.ts';
import type { Metrics } from '../metrics.ts';
import type { Outbox } from './outbox.ts';

/** What the bot gives an engine. */
export interface DeliveryHost {
  readonly channels: readonly Channel[];
  readonly log: Logger;
  readonly metrics: Metrics;
  /** Runs a message through the pipeline with no HTTP response; its replies come back to the engine. */
  run(channel: Channel, message: Message): Promise<void>;
}

/** Failed jobs and queue depth, for `wxbot queue`. */
export interface QueueOperations {
  deadJobs(limit?: number): Promise<{ queue: string; id: string; reason: string; attempts: number; failedAt: number | undefined; summary: string }[]>;
  retryJob(queue: string, id: string): Promise<void>;
  dropJob(queue: string, id: string): Promise<void>;
  depth(): Promise<Record<string, Record<string, number>>>;
  /** Jobs a process's workers run at once per queue when the bot's `workers` option says nothing (`wxbot check`). */
  readonly workerConcurrency?: number;
}

/** A durable delivery engine; see the module comment. */
export interface DeliveryEngine extends Outbox, QueueOperations {
  attach(host: DeliveryHost): void;
  enqueue(channel: Channel, messages: readonly Message[]): Promise<void>;
  leave(channel: Channel, message: Message): Promise<() => Promise<void>>;
  startWorkers(options?: { concurrency?: number }): Promise<void>;
  /** Workers finish their jobs, leases still running are handed back, connections close. */
  stop(): Promise<void>;
  /** True while the engine cannot reach its store and delivers in this process's memory instead. */
  readonly unavailable?: boolean;
}

/** A store that can back a durable engine (a RedisStore): the bot asks it for one (undefined: not this one). */
export interface DurableCapableStore {
  createDeliveryEngine(): DeliveryEngine | undefined;
}

/** Whether `store` offers a durable engine. */
export function offersDeliveryEngine(store: unknown): store is DurableCapableStore {
  return typeof (store as Partial<DurableCapableStore> | undefined)?.createDeliveryEngine === 'function';
}
