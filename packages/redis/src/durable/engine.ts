import { setTimeout as sleep } from 'node:timers/promises';
import { createHash, randomUUID } from 'node:crypto';
import { DelayedError, type Job, Queue, UnrecoverableError, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import type { Channel, Message } from '@wxbot/core';
import { isHumanHoldsSession, planDelivery, sendIdOf, sendNow, whyActive, type DeliveryEngine, type DeliveryHost, type OutboxJob, type PassiveSlot } from '@wxbot/core/delivery';
import { classifySendError } from './classify.ts';
import { coalesceWrites } from './coalesce.ts';
import { QueueMetrics } from './metrics.ts';
import { BLOCKERS_LUA, ConversationOrder } from './order.ts';
import { promoteToFront } from './promote.ts';

/** How {@link DurableDelivery} connects, names its queues, retries, limits and bounds its waits on Redis. */
export interface DurableDeliveryOptions {
  /** A `redis://` URL (default 127.0.0.1:6379) or a client to use (not closed by `stop` unless `ownsRedis`). */
  redis?: string | Redis;
  /** Whether `stop` closes the client given as `redis` (a RedisStore hands over its own duplicate). */
  ownsRedis?: boolean;
  /** Put before every queue and key, so several bots share one Redis. Default `wxbot`. */
  prefix?: string;
  /** Jobs one process runs at once per queue (default 16: LLM calls mostly wait). */
  concurrency?: number;
  /** Attempts of a send that keeps failing transiently (default 10). */
  attempts?: number;
  /** First retry delay; doubles each attempt, at most 60 s (default 1000 ms). */
  backoffMs?: number;
  /**
   * Per-app send rate, across every worker: sends are counted in Redis per app, and past the
   * rate the app's outbox queue is paused with BullMQ's manual rate limit (`worker.rateLimit`).
   * Only real sends count (BullMQ's own limiter would also count a job that only looked
   * whether it was its conversation's turn, and stall the queue for a whole window).
   * Default 10,000 sends a minute per app (the order of WeChat's per-API frequency caps; set
   * what your account allows). Per-user caps (a KF account's 5 replies per customer message)
   * are WeChat's own and answered with errcodes.
   */
  rateLimit?: { max: number; durationMs: number };
  /**
   * A message whose passive window closed keeps running where it started, under a lease: if
   * that process does not renew it within this time (it died), a worker runs the message
   * again (default 15 s).
   */
  leaseMs?: number;
  /** BullMQ job lock: a worker that died is noticed after about this long (default 30 s). */
  lockDurationMs?: number;
  /** How often workers look for jobs whose worker died (default 15 s). */
  stalledIntervalMs?: number;
  /** How long a job that waits for its conversation's turn sleeps before it looks again (default 50 ms). */
  turnPollMs?: number;
  /**
   * Deadline of every wait on Redis on the way in (queueing a reply or a slow message, in ms;
   * default 1000; a KF page gets 5 times as long). A Redis that accepts connections but does
   * not answer would otherwise hold callbacks and `bot.start()` forever: past the deadline
   * the engine is **unavailable** — it says so once in the log, replies and slow messages
   * are handled in this process's memory as without Redis, and it comes back by itself once
   * Redis answers a PING again.
   */
  timeoutMs?: number;
  /** How long `startWorkers` waits for Redis before going on in memory (default 5 × `timeoutMs`). */
  startTimeoutMs?: number;
  /**
   * How long `stop` lets workers finish their jobs (default 10 s); past it they are
   * disconnected, and their jobs run again on another worker (BullMQ stalled-job recovery).
   */
  closeTimeoutMs?: number;
}

/** A wait on Redis that passed its deadline, or a lost connection: the engine falls back to memory. */
export class DeliveryUnavailableError extends Error {
  /** Whether the work may still land in Redis later (it timed out rather than being skipped). */
  readonly mayHaveLanded: boolean;
  constructor(message: string, mayHaveLanded: boolean) {
    super(message);
    this.name = 'DeliveryUnavailableError';
    this.mayHaveLanded = mayHaveLanded;
  }
}

/** The data of an inbound job: a message to run through the pipeline. */
interface InboundData {
  channel: string;
  message: Message;
  conversation: string;
  entry: string;
  score: number;
  /** Epoch ms the job was queued (wait-time metric). */
  queuedAt: number;
  /** Queued as a lease (its message runs in the process that received it): never woken early. */
  leased?: boolean;
}

/** The data of an outbox job: one active send. */
interface OutboxData {
  job: OutboxJob;
  conversation: string;
  entry: string;
  score: number;
  queuedAt: number;
  /**
   * The running message's own attempt at this send failed for good (the reason): the job
   * only records it (it fails at once, without sending) until someone retries it by hand.
   */
  failed?: string;
}

/** The first part of a reply that the running message tried to send itself (see `#queueSends`). */
interface FirstPart {
  delayMs?: number;
  failed?: string;
}

/** A message running in this process (an inbound job, or a lease): its replies are sent from here. */
interface RunningMessage {
  /** Its arrival number: its replies take their place in the timeline without asking Redis. */
  readonly seq: number;
  readonly conversation: string;
  /** Its replies, one after another, in the order the handler made them. */
  chain: Promise<void>;
  /**
   * A send that went out and whose done-record is not written yet: written with the end of
   * the message (one round trip) when that follows in the same turn of the event loop, as
   * after a handler's last reply; else on its own at the next turn (or before the next send).
   */
  unrecorded?: { sentKey: string; sendingKey: string };
}

/** A dead job as `wxbot queue` shows it. */
export interface DeadJob {
  queue: string;
  id: string;
  /** Why it failed (the errcode and its meaning, or the error). */
  reason: string;
  attempts: number;
  failedAt: number | undefined;
  /** Who it was for, and what (type and the first characters of a text). */
  summary: string;
}

/** Jobs whose entry vanished before they were queued are dropped from the timeline after this. */
const ENTRY_GRACE_MS = 10_000;
const SENT_TTL_MS = 3 * 24 * 3600_000;
/**
 * A send's turn and its pre-send checks in one round trip. KEYS: timeline, sent-record, rate
 * window, send claim. ARGV: score, own inbound score, entry ('' for a send made by the running
 * message itself, which never enters the timeline), slots, timeline ttl, window ms, max
 * sends, this instance, claim ms. First the turn ({@link BLOCKERS_LUA}, the entry entering
 * first): entries still before it but its own message's run → {'blocked', …};
 * then: sent already → {'sent', 0}; past the rate → {'rate', ttl of the window}; claimed by
 * another sender → {'busy', 0}; else {'go', 0}. Nothing is counted or claimed for a job that must wait.
 */
const SEND_TURN_SCRIPT = `${BLOCKERS_LUA}
local out = blockers(KEYS[1], ARGV[1], ARGV[2], ARGV[3], false, ARGV[4], ARGV[3] ~= '' and ARGV[5] or nil)
if #out > 0 then
  table.insert(out, 1, 'blocked')
  return out
end
if redis.call('EXISTS', KEYS[2]) == 1 then return {'sent', 0} end
local n = redis.call('INCR', KEYS[3])
if n == 1 then redis.call('PEXPIRE', KEYS[3], ARGV[6]) end
local ttl = redis.call('PTTL', KEYS[3])
if ttl < 0 then redis.call('PEXPIRE', KEYS[3], ARGV[6]); ttl = tonumber(ARGV[6]) end
if n > tonumber(ARGV[7]) then return {'rate', ttl} end
if not redis.call('SET', KEYS[4], ARGV[8], 'PX', ARGV[9], 'NX') then return {'busy', 0} end
return {'go', 0}`;
/**
 * A job is done, in one round trip. KEYS: timeline, sent-record ('' when none), send claim,
 * the conversation's parked set (jobs that went back to the delayed set to wait for their
 * turn). ARGV: entry, sent ttl ms. Records the send, frees the claim, leaves the timeline,
 * and returns those of the first three entries still open that are parked (taken out of the
 * set): the ones to wake. Jobs that wait in the queue or run need no wake (a wake attempt
 * each was most of a finish's cost). With nothing parked (most finishes: a burst's jobs wait
 * in process), two commands instead of up to six.
 */
const FINISH_SCRIPT = `
if KEYS[2] ~= '' then
  redis.call('SET', KEYS[2], '1', 'PX', ARGV[2])
  redis.call('DEL', KEYS[3])
end
redis.call('ZREM', KEYS[1], ARGV[1])
local out = {}
if redis.call('EXISTS', KEYS[4]) == 0 then return out end
redis.call('SREM', KEYS[4], ARGV[1])
for _, entry in ipairs(redis.call('ZRANGE', KEYS[1], 0, 2)) do
  if redis.call('SREM', KEYS[4], entry) == 1 then table.insert(out, entry) end
end
return out`;
/**
 * A running message's send went out: its done-record, and its claim freed. KEYS: sent-record,
 * send claim. ARGV: sent ttl ms. (A script rather than a pipeline: an ioredis pipeline copies
 * every script defined on the connection, BullMQ's too, each time one is made.)
 */
const SENT_SCRIPT = `
redis.call('SET', KEYS[1], '1', 'PX', ARGV[1])
redis.call('DEL', KEYS[2])
return 1`;
const KEEP_COMPLETED = { age: 24 * 3600, count: 100_000 };
const KEEP_FAILED = { age: 14 * 24 * 3600 };

/**
 * Durable delivery on BullMQ: an implementation of core's `DeliveryEngine`.
 *
 * - **Inbound jobs** (`<prefix>:inbound`): every message that leaves the passive path — a KF
 *   page (queued before the cursor moves), a message whose window closed while its pipeline
 *   still runs (a lease: the job waits, delayed, while the process that runs it renews it;
 *   when that process dies, a worker runs the message), a redispatch. Job ids are derived
 *   from channel + msgid, so a retry or a second instance queues a message once.
 * - **Sends**: a reply of a message running here (an inbound job or a lease) is sent by that
 *   run, under the reply's deterministic key, with the checks a job makes; **outbox jobs**
 *   (`<prefix>:outbox-<channel>`, one queue per app for its rate limiter) carry the sends
 *   that must wait (turn, rate, another sender), be retried, or be kept failed, and every
 *   send no running message makes. A send that succeeded leaves a done-record
 *   (`sent:<key>`): a message or job run again after a crash does not send again. KF sends
 *   carry a client msgid derived from the key, which WeChat uses to recognise a resend.
 * - **Order**: a conversation's jobs take turns through {@link ConversationOrder}.
 * - **Failures**: transient errcodes and network errors retry with exponential backoff;
 *   permanent ones fail the job at once with the reason; failed jobs are kept 14 days.
 */
export class DurableDelivery implements DeliveryEngine {
  readonly durable = true;
  readonly #options: DurableDeliveryOptions;
  readonly #redis: Redis;
  readonly #ownsRedis: boolean;
  readonly #prefix: string;
  readonly #order: ConversationOrder;
  readonly #instance = randomUUID();
  #host: DeliveryHost | undefined;
  #inbound: Queue | undefined;
  readonly #outboxes = new Map<string, Queue>();
  readonly #workers: Worker[] = [];
  #metrics: QueueMetrics | undefined;
  readonly #leases = new Set<Lease>();
  /** Channels whose jobs reached this process without it having them (said once each). */
  readonly #missingChannels = new Set<string>();
  /** Why the engine is unavailable (Redis did not answer); undefined while it works. */
  #down: string | undefined;
  #probeTimer: NodeJS.Timeout | undefined;
  #probe: Promise<boolean> | undefined;
  /** Set by `stop`: errors of closing connections are no outage. */
  #stopped = false;
  readonly #timeoutMs: number;
  /**
   * The messages running in this process (inbound jobs and leases), by `<channel>:<msgid>`:
   * their replies are sent from here rather than queued (see `send`).
   */
  readonly #running = new Map<string, RunningMessage>();
  /**
   * Jobs this process holds, running or waiting here for their turn, by timeline entry: a job
   * whose turn waits for some of them waits for them here, in order, rather than going back
   * to the queue (behind every other job) to be looked at again.
   */
  readonly #here = new Map<string, HeldJob>();
  /** Jobs waiting here for their turn, per conversation (at most half the concurrency each). */
  readonly #waitingHere = new Map<string, number>();
  /** Jobs this process's workers run at once per queue (set by `startWorkers`). */
  #concurrency = 16;

  constructor(options: DurableDeliveryOptions = {}) {
    this.#options = options;
    this.#prefix = options.prefix ?? 'wxbot';
    this.#timeoutMs = options.timeoutMs ?? 1000;
    if (!(this.#timeoutMs > 0)) throw new Error('DurableDelivery: timeoutMs must be a positive number');
    if (options.redis instanceof Redis) {
      this.#redis = options.redis;
      this.#ownsRedis = options.ownsRedis ?? false;
      if (this.#ownsRedis) this.#redis.on('error', (error: Error) => this.#trouble('redis', error));
    } else {
      // BullMQ needs maxRetriesPerRequest null on the connections its workers block on.
      this.#redis = new Redis(options.redis ?? 'redis://127.0.0.1:6379', { maxRetriesPerRequest: null });
      // It reconnects on its own; a lost connection is an outage, logged once (#trouble).
      this.#redis.on('error', (error: Error) => this.#trouble('redis', error));
      this.#ownsRedis = true;
    }
    // Its own connection (or one handed over): a turn's commands leave in one write.
    if (this.#ownsRedis) coalesceWrites(this.#redis);
    this.#order = new ConversationOrder(this.#redis, `${this.#prefix}:order:`);
    this.#redis.defineCommand('wxbotSendTurn', { numberOfKeys: 4, lua: SEND_TURN_SCRIPT });
    this.#redis.defineCommand('wxbotFinish', { numberOfKeys: 4, lua: FINISH_SCRIPT });
    this.#redis.defineCommand('wxbotSent', { numberOfKeys: 2, lua: SENT_SCRIPT });
  }

  /** Called once by the bot: where messages run, the channels, the log and metrics. */
  attach(host: DeliveryHost): void {
    this.#host = host;
    if (this.#down !== undefined) this.#logDown(); // the connection failed before the bot attached
    const connection = this.#redis;
    this.#inbound = new Queue('inbound', { connection, prefix: this.#prefix });
    for (const channel of host.channels) {
      if (channel.send) this.#outboxes.set(channel.name, new Queue(`outbox-${channel.name}`, { connection, prefix: this.#prefix }));
    }
    // An unhandled 'error' event would end the process; a Redis outage is logged instead.
    for (const queue of this.#queues()) queue.on('error', (error) => this.#trouble(`queue ${queue.name}`, error));
    // Scraped depth has the engine's deadline: /metrics answers while Redis does not.
    this.#metrics = new QueueMetrics(
      host.metrics.registry,
      () => (this.#down === undefined ? this.#queues() : undefined),
      (work) => settlesWithin(work, this.#timeoutMs),
    );
  }

  // ------------------------------------------------------------------------------------------
  // Producing

  /**
   * The outbox: what can go passively goes (in process, the HTTP response is here). A reply
   * of a message that runs in this process as a job or a lease (the message is already safe
   * in Redis: if this process dies, it runs again elsewhere and makes the same reply keys) is
   * sent from here at once, under the same rules as an outbox job: its turn, the done-record,
   * the send claim, the rate (one round trip before the send, one after). What cannot go at
   * once becomes an outbox job: a reply that must wait for its turn or the rate, a send that
   * failed transiently (retried with backoff) or for good (kept as a failed job with its
   * reason), and every send that no running message makes (`sendTo`, an agent's reply).
   * Resolves once every part is sent or its job is in Redis.
   */
  async send(job: OutboxJob, passive?: PassiveSlot): Promise<void> {
    const host = this.#attached();
    const channel = host.channels.find((c) => c.name === job.channel);
    if (!channel) throw new Error(`no channel named "${job.channel}"`);
    const active = planDelivery(channel, job, passive, () => host.metrics.reply(job.channel, 'passive', job.receivedAt ? (Date.now() - job.receivedAt) / 1000 : 0));
    if (active.length === 0) return;
    const queue = this.#outboxes.get(channel.name);
    if (!queue) {
      // No active API: the in-process rule's error, at once, for the caller.
      await sendNow(channel, active[0]!, whyActive(channel, job, passive));
      return;
    }
    const running = job.answers !== undefined && this.#down === undefined ? this.#running.get(`${job.channel}:${job.answers}`) : undefined;
    if (running && running.conversation === conversationOf(job.channel, job.to)) {
      // One reply after another: the turn check of the next sees the job the previous became.
      const sending = running.chain.then(() => this.#sendFromRun(channel, job, active, queue, running));
      running.chain = sending.catch(() => undefined);
      return sending;
    }
    await this.#queueOrSendInProcess(channel, job, active, queue);
  }

  /** The active parts as outbox jobs; from this process at once if Redis does not answer. */
  async #queueOrSendInProcess(channel: Channel, job: OutboxJob, active: readonly OutboxJob[], queue: Queue, first?: FirstPart): Promise<void> {
    try {
      await this.#bounded('queueing a reply', () => this.#queueSends(job, active, queue, first));
    } catch (error) {
      if (!(error instanceof DeliveryUnavailableError)) throw error;
      await this.#sendInProcess(channel, job, active);
    }
  }

  /**
   * The running message's reply, part by part: at its turn (nothing open before it in the
   * conversation but the message's own run), not sent yet, within the rate and not being sent
   * by another process, it goes out now and leaves its done-record; else it and the parts
   * after it become outbox jobs, as do a part whose send failed (to be retried, or kept failed
   * with the reason, by the failure's class as a job's would be).
   */
  async #sendFromRun(channel: Channel, job: OutboxJob, active: readonly OutboxJob[], queue: Queue, running: RunningMessage): Promise<void> {
    const host = this.#attached();
    const base = running.seq * ConversationOrder.SLOTS;
    const limit = this.#rateLimit();
    const claimMs = String(this.#options.lockDurationMs ?? 30_000);
    for (let i = 0; i < active.length; i++) {
      const part = active[i]!;
      const sentKey = `${this.#prefix}:sent:${part.key}`;
      const sendingKey = `${this.#prefix}:sending:${part.key}`;
      if (running.unrecorded) await this.#record(running);
      let verdict: string;
      try {
        const answer = await this.#bounded('checking a reply', () =>
          (this.#redis as RedisWithEngineScripts).wxbotSendTurn(
            this.#order.keyOf(running.conversation),
            sentKey,
            `${this.#prefix}:rate:${part.channel}`,
            sendingKey,
            String(base + 1 + slotOf(part.key)),
            String(base),
            '',
            String(ConversationOrder.SLOTS),
            String(ConversationOrder.TTL_MS),
            String(limit.durationMs),
            String(limit.max),
            this.#instance,
            claimMs,
          ),
        );
        verdict = String(answer[0]);
      } catch (error) {
        if (!(error instanceof DeliveryUnavailableError)) throw error;
        await this.#sendInProcess(channel, job, active.slice(i));
        return;
      }
      if (verdict === 'sent') continue;
      if (verdict !== 'go') {
        // Its turn has not come (an earlier reply waits as a job), past the rate, or another
        // process sends it now: the job waits for that, as any outbox job.
        await this.#queueOrSendInProcess(channel, job, active.slice(i), queue);
        return;
      }
      try {
        await sendNow(channel, part);
      } catch (error) {
        this.#redis.del(sendingKey).catch(() => undefined);
        const failure = classifySendError(error, channel.kind === 'wecomKf' || part.to.openKfId !== undefined);
        if (failure.action === 'fail') {
          this.#metrics?.failed(queue.name, failure.label ?? failure.reason);
          this.#logFailed(part, error, failure.reason);
          // Kept as a failed job (wxbot queue lists it, and can retry it); the next parts go on.
          await this.#queueOrSendInProcess(channel, job, [part], queue, { failed: failure.reason }).catch(() => undefined);
          continue;
        }
        this.#metrics?.retried(queue.name);
        const of = this.#retryOptions().attempts;
        host.log.warn(
          { channel: part.channel, msgId: part.answers, attempt: 1, of, retryInMs: this.#options.backoffMs ?? 1000, reason: failure.reason },
          'send failed; retrying with backoff',
        );
        await this.#queueOrSendInProcess(channel, job, active.slice(i), queue, { delayMs: this.#options.backoffMs ?? 1000 });
        return;
      }
      host.metrics.reply(part.channel, 'active', part.receivedAt ? (Date.now() - part.receivedAt) / 1000 : 0);
      // The done-record: with the message's end if that comes in this turn, else at the next.
      running.unrecorded = { sentKey, sendingKey };
      setImmediate(() => running.unrecorded && void this.#record(running));
    }
  }

  /** Writes the running message's pending done-record, if any (see `RunningMessage.unrecorded`). */
  async #record(running: RunningMessage): Promise<void> {
    const sent = running.unrecorded;
    if (!sent) return;
    running.unrecorded = undefined;
    await this.#bounded('recording a send', () => (this.#redis as RedisWithEngineScripts).wxbotSent(sent.sentKey, sent.sendingKey, String(SENT_TTL_MS))).catch(() => undefined);
  }

  /** The one line of a send that failed for good (a human holds the KF session: a warning). */
  #logFailed(send: OutboxJob, error: unknown, reason: string): void {
    const log = this.#attached().log;
    if (isHumanHoldsSession(error))
      log.warn({ channel: send.channel, msgId: send.answers, errcode: 95018 }, 'KF reply not sent: a human servicer holds this session (or it ended)');
    else log.error({ channel: send.channel, msgId: send.answers, key: send.key, reason }, 'send failed for good; the job is kept with its reason (wxbot queue)');
  }

  #rateLimit(): { max: number; durationMs: number } {
    return this.#options.rateLimit ?? { max: 10_000, durationMs: 60_000 };
  }

  /**
   * The active parts of a reply as outbox jobs, in the conversation's order. `first`: the
   * first part was tried already and failed: it waits `delayMs` (one attempt fewer left), or
   * is kept `failed` (no place in the timeline: nothing waits for a failed job).
   */
  async #queueSends(job: OutboxJob, active: readonly OutboxJob[], queue: Queue, first?: FirstPart): Promise<void> {
    const conversation = conversationOf(job.channel, job.to);
    const messageKey = job.answers !== undefined ? `${job.channel}:${job.answers}` : `send:${job.key}`;
    const base = (this.#running.get(messageKey)?.seq ?? (await this.#order.seqOf(messageKey))) * ConversationOrder.SLOTS;
    const now = Date.now();
    const retry = this.#retryOptions();
    const jobs = active.map((part, i) => {
      const id = jobIdOf('o', part.key);
      const score = job.answers !== undefined ? base + 1 + slotOf(part.key) : base;
      const tried = i === 0 ? first : undefined;
      return { part, id, score, entry: `${queue.name}|${id}|${now}`, tried };
    });
    const entered = jobs.filter(({ tried }) => tried?.failed === undefined);
    // One round trip: the queue shares this connection, so Redis runs the entries first.
    await Promise.all([
      this.#order.enterMany(entered.map(({ entry, score }) => ({ conversation, entry, score }))),
      queue.addBulk(
        jobs.map(({ part, id, score, entry, tried }) => ({
          name: 'send',
          data: { job: part, conversation, entry, score, queuedAt: now, ...(tried?.failed !== undefined && { failed: tried.failed }) } satisfies OutboxData,
          opts: {
            jobId: id,
            ...retry,
            // Tried once already: one attempt fewer, and the backoff one doubling on, so the
            // send keeps the schedule of a job that made that first try (1, 2, 4, … × backoffMs).
            ...(tried?.delayMs !== undefined && {
              delay: tried.delayMs,
              attempts: Math.max(1, retry.attempts - 1),
              backoff: { ...retry.backoff, delay: retry.backoff.delay * 2 },
            }),
            removeOnComplete: KEEP_COMPLETED,
            removeOnFail: KEEP_FAILED,
          },
        })),
      ),
    ]);
  }

  /**
   * The engine is unavailable: the reply's active parts go out from this process at once, as
   * the in-process outbox sends them. Each leaves its done-record (queued on the connection
   * behind the timed-out jobs, so a job that lands later finds it and does not send again).
   */
  async #sendInProcess(channel: Channel, job: OutboxJob, active: readonly OutboxJob[]): Promise<void> {
    const host = this.#attached();
    for (const part of active) {
      try {
        await sendNow(channel, part);
      } catch (error) {
        if (job.answers !== undefined && isHumanHoldsSession(error)) {
          host.log.warn({ channel: channel.name, msgId: job.answers, errcode: 95018 }, 'KF reply not sent: a human servicer holds this session (or it ended)');
          return;
        }
        throw error;
      }
      this.#redis.set(`${this.#prefix}:sent:${part.key}`, '1', 'PX', SENT_TTL_MS).catch(() => undefined);
      host.metrics.reply(job.channel, 'active', job.receivedAt ? (Date.now() - job.receivedAt) / 1000 : 0);
    }
  }

  /**
   * Messages with no HTTP response to answer in (a KF page, a redispatch): queued as inbound
   * jobs in order. Resolves once they are in Redis (then a KF cursor may move past them);
   * rejects with {@link DeliveryUnavailableError} when Redis does not answer in time (KF sync
   * then runs the page in this process, at least once, as without Redis).
   */
  async enqueue(channel: Channel, messages: readonly Message[]): Promise<void> {
    await this.#bounded('queueing KF messages', () => this.#queueMessages(channel, messages), this.#timeoutMs * 5);
  }

  async #queueMessages(channel: Channel, messages: readonly Message[]): Promise<void> {
    const queue = this.#inboundQueue();
    if (messages.length === 0) return;
    const now = Date.now();
    const page = messages.map((message) => {
      const messageKey = `${channel.name}:${message.id}`;
      const id = jobIdOf('i', messageKey);
      return { message, messageKey, id, conversation: conversationOf(channel.name, recipientLike(message)), entry: `${queue.name}|${id}|${now}` };
    });
    // The arrival numbers and the timeline entries in one command; then the jobs.
    const seqs = await this.#order.enterPage(page);
    await queue.addBulk(
      page.map(({ message, id, conversation, entry }, i) => ({
        name: 'message',
        data: { channel: channel.name, message, conversation, entry, score: seqs[i]! * ConversationOrder.SLOTS, queuedAt: now } satisfies InboundData,
        opts: { jobId: id, removeOnComplete: KEEP_COMPLETED, removeOnFail: KEEP_FAILED, attempts: 3, backoff: { type: 'exponential', delay: 1000 } },
      })),
    );
  }

  /**
   * The passive window closed and the pipeline still runs here: the message becomes a
   * delayed inbound job that this process keeps pushing back while it runs. Resolves once
   * the job is in Redis; the returned function ends the lease when the run is done.
   */
  async leave(channel: Channel, message: Message): Promise<() => Promise<void>> {
    // On the callback path: WeChat waits for its answer meanwhile.
    let landing: Promise<() => Promise<void>> | undefined;
    try {
      await this.#bounded('storing a slow message', () => (landing = this.#lease(channel, message)));
    } catch (error) {
      if (!(error instanceof DeliveryUnavailableError)) throw error;
      // The outage itself was logged once; a line per message would flood the log.
      this.#attached().log.debug({ channel: channel.name, msgId: message.id }, 'durable queue unavailable: this slow message runs in memory only');
    }
    // A lease that lands after its deadline is still renewed while the run goes on, and ended
    // with it: never left behind, where it would hold its conversation's turn.
    return async () => {
      const end = await landing?.catch(() => undefined);
      await end?.();
    };
  }

  async #lease(channel: Channel, message: Message): Promise<() => Promise<void>> {
    const queue = this.#inboundQueue();
    const leaseMs = this.#options.leaseMs ?? 15_000;
    const conversation = conversationOf(channel.name, recipientLike(message));
    const messageKey = `${channel.name}:${message.id}`;
    const seq = await this.#order.seqOf(messageKey);
    const score = seq * ConversationOrder.SLOTS;
    const id = jobIdOf('i', messageKey);
    const now = Date.now();
    // `L`: a lease, never woken early (#finish reads it here rather than from the job).
    const entry = `${queue.name}|${id}|${now}|L`;
    const running: RunningMessage = { seq, conversation, chain: Promise.resolve() };
    this.#running.set(messageKey, running);
    const [, job] = await Promise.all([
      this.#order.enter(conversation, entry, score),
      queue.add('message', { channel: channel.name, message, conversation, entry, score, queuedAt: now, leased: true } satisfies InboundData, {
        jobId: id,
        delay: leaseMs,
        removeOnComplete: KEEP_COMPLETED,
        removeOnFail: KEEP_FAILED,
        attempts: 3,
        backoff: { type: 'exponential', delay: 1000 },
      }),
    ]).catch((error: unknown) => {
      this.#forget(messageKey, running);
      throw error;
    });
    const lease = new Lease(
      job,
      leaseMs,
      () => this.#down === undefined,
      (error) => {
        if (isConnectionError(error)) this.#trouble('lease', error);
        else
          this.#attached().log.warn(
            { channel: channel.name, msgId: message.id, error: errorText(error) },
            'could not renew the lease of a running message; a worker may run it again',
          );
      },
    );
    this.#leases.add(lease);
    return async () => {
      // Its replies are sent (or queued) before the message leaves the timeline.
      await running.chain;
      this.#forget(messageKey, running);
      this.#leases.delete(lease);
      const sent = running.unrecorded;
      running.unrecorded = undefined;
      // The run's sends are out or queued; the message itself is done (both on the connection at once).
      await Promise.all([lease.end(), this.#finish(conversation, entry, sent).catch(() => undefined)]);
    };
  }

  // ------------------------------------------------------------------------------------------
  // Consuming

  /** Starts the workers (inbound and every outbox) in this process. */
  async startWorkers(options: { concurrency?: number } = {}): Promise<void> {
    const connection = this.#redis;
    const concurrency = options.concurrency ?? this.workerConcurrency;
    this.#concurrency = concurrency;
    const common = {
      connection,
      prefix: this.#prefix,
      concurrency,
      lockDuration: this.#options.lockDurationMs ?? 30_000,
      stalledInterval: this.#options.stalledIntervalMs ?? 15_000,
      maxStalledCount: 3,
    };
    this.#attached();
    const inbound = new Worker('inbound', (job, token) => this.#runInbound(job as Job<InboundData>, token), common);
    this.#watch(inbound);
    inbound.on('failed', (job, error) => this.#inboundFailed(job as Job<InboundData> | undefined, error));
    this.#workers.push(inbound);
    const limit = this.#rateLimit();
    for (const queue of this.#outboxes.values()) {
      const worker: Worker = new Worker(queue.name, (job, token) => this.#runSend(job as Job<OutboxData>, token, worker, limit), {
        ...common,
        // Never reached by itself: the queue pauses only when #runSend calls worker.rateLimit().
        limiter: { max: Number.MAX_SAFE_INTEGER, duration: limit.durationMs },
      });
      this.#watch(worker);
      this.#workers.push(worker);
    }
    try {
      await this.#bounded('starting the workers', () => Promise.all(this.#workers.map((w) => w.waitUntilReady())), this.#options.startTimeoutMs ?? this.#timeoutMs * 5);
    } catch (error) {
      if (!(error instanceof DeliveryUnavailableError)) throw error;
      // Logged once; the workers take jobs by themselves once Redis answers.
    }
  }

  /**
   * A message job that threw (sends count their own failures in #runSend): counted as a retry
   * or, on its last attempt or an unrecoverable error, as a failure by reason, with a line. A
   * job for a channel this process does not have (a worker started without the environment
   * of the web instances) says so once per channel: it fails every such job.
   */
  #inboundFailed(job: Job<InboundData> | undefined, error: Error): void {
    if (!job || this.#stopped) return;
    const log = this.#host?.log;
    const reason = error.message || error.name;
    const final = error.name === 'UnrecoverableError' || job.attemptsMade >= (job.opts.attempts ?? 1);
    if (!final) {
      this.#metrics?.retried('inbound');
      log?.warn({ channel: job.data.channel, msgId: job.data.message?.id, attempt: job.attemptsMade, reason }, 'message job failed; retrying with backoff');
      return;
    }
    // The label: wxbot's own reasons are fixed texts; anything else by its type only (a
    // message may hold a job id, one series per job).
    this.#metrics?.failed('inbound', error.name === 'UnrecoverableError' ? reason : `error: ${error.name}`);
    const channel = job.data.channel;
    if (this.#host && !this.#host.channels.some((c) => c.name === channel)) {
      if (this.#missingChannels.has(channel)) return;
      this.#missingChannels.add(channel);
      log?.error(
        { channel, channels: this.#host.channels.map((c) => c.name) },
        `a message of channel "${channel}" reached this process, whose config has no such channel: its jobs fail here (listed by \`wxbot queue\`). Give this process the same channel settings as the web instances, then \`wxbot queue retry --all inbound\``,
      );
      return;
    }
    log?.error({ channel, msgId: job.data.message?.id, reason }, 'message job failed for good; it is kept with its reason (wxbot queue)');
  }

  /**
   * Graceful stop: workers take no new jobs and finish the ones they run (BullMQ's close);
   * leases of runs still going are left to expire, so a worker elsewhere takes them over.
   */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearInterval(this.#probeTimer);
    const log = this.#host?.log;
    const down = this.#down !== undefined;
    // Every wait here has a deadline: a Redis that does not answer never holds the stop.
    const workers = this.#workers.splice(0);
    const grace = down ? this.#timeoutMs : (this.#options.closeTimeoutMs ?? 10_000);
    if (!(await settlesWithin(Promise.all(workers.map((w) => w.close(down))), grace))) {
      log?.warn({ waitedMs: grace }, 'queue workers did not finish within the stop deadline: disconnecting them; their jobs run again on another worker');
      for (const worker of workers) void worker.disconnect().catch(() => undefined);
    }
    const handedBack = this.#leases.size;
    for (const lease of this.#leases) lease.abandon();
    this.#leases.clear();
    if (handedBack > 0) {
      const leaseMs = this.#options.leaseMs ?? 15_000;
      log?.warn(
        { messages: handedBack, leaseMs },
        `${handedBack} message${handedBack === 1 ? '' : 's'} still running here handed back: a worker runs ${handedBack === 1 ? 'it' : 'them'} again once the lease expires (within ${Math.ceil(leaseMs / 1000)} s)`,
      );
    }
    const queues = this.#queues();
    if (!(await settlesWithin(Promise.all(queues.map((q) => q.close())), this.#timeoutMs)) && this.#ownsRedis) {
      for (const queue of queues) void queue.disconnect().catch(() => undefined);
    }
    if (this.#ownsRedis && !(await settlesWithin(this.#redis.quit(), this.#timeoutMs))) this.#redis.disconnect();
  }

  /** Jobs a process's workers run at once per queue unless `startWorkers` is told otherwise. */
  get workerConcurrency(): number {
    return this.#options.concurrency ?? 16;
  }

  /** Whether the engine is unavailable (Redis did not answer in time) and delivery runs in memory. */
  get unavailable(): boolean {
    return this.#down !== undefined;
  }

  /**
   * Runs `work` (waits on Redis) with a deadline. Past it, or when the engine is already
   * unavailable, rejects with {@link DeliveryUnavailableError}; the first time, the engine
   * says so in the log and looks for Redis again every second.
   */
  async #bounded<T>(what: string, work: () => Promise<T>, ms = this.#timeoutMs): Promise<T> {
    if (this.#down !== undefined) throw new DeliveryUnavailableError(`durable delivery unavailable: ${this.#down}`, false);
    const running = work();
    running.catch(() => undefined); // it may settle after the deadline
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), ms)));
    try {
      const result = await Promise.race([running, deadline]);
      if (result === 'timeout') {
        this.#markDown(`Redis did not answer within ${ms} ms (${what})`);
        throw new DeliveryUnavailableError(`durable delivery unavailable: ${this.#down}`, true);
      }
      return result as T;
    } finally {
      clearTimeout(timer);
    }
  }

  #markDown(reason: string): void {
    if (this.#down !== undefined || this.#stopped) return;
    this.#down = reason;
    this.#logDown();
    this.#probeTimer = setInterval(() => void this.#lookForRedis(), Math.max(200, Math.min(this.#timeoutMs, 1000)));
    this.#probeTimer.unref();
  }

  /** The one line of an outage's start (said at attach when it started before). */
  #logDown(): void {
    this.#host?.log.error(
      { reason: this.#down },
      `durable delivery unavailable: ${this.#down}; falling back to in-process delivery (replies and slow messages are handled in this process's memory, not durable) until Redis answers again`,
    );
  }

  /** One PING at a time (a hung connection would pile them up); an answer ends the outage. */
  async #lookForRedis(): Promise<void> {
    // Only a PONG ends the outage: a ping that fails (connection closed) keeps it.
    this.#probe ??= this.#redis
      .ping()
      .then(() => true)
      .catch(() => false)
      .finally(() => (this.#probe = undefined));
    const answered = (await Promise.race([this.#probe, new Promise<false>((resolve) => setTimeout(resolve, this.#timeoutMs, false).unref())])) === true;
    if (!answered || this.#down === undefined || this.#stopped) return;
    this.#down = undefined;
    clearInterval(this.#probeTimer);
    this.#probeTimer = undefined;
    this.#host?.log.warn('durable delivery available again: Redis answers; replies and slow messages are queued durably again');
  }

  async #runInbound(job: Job<InboundData>, token: string | undefined): Promise<string> {
    const started = Date.now();
    const message = messageFromJob(job.data.message);
    const held = this.#hold(job.data.entry);
    try {
      return await this.#runInboundHeld(job, token, started, message);
    } finally {
      held.end();
    }
  }

  async #runInboundHeld(job: Job<InboundData>, token: string | undefined, started: number, message: Message): Promise<string> {
    const { channel: channelName, conversation, entry, score } = job.data;
    await this.#awaitTurn(job, token, conversation, entry, score);
    const host = this.#attached();
    const channel = host.channels.find((c) => c.name === channelName);
    if (!channel) throw new UnrecoverableError(`no channel named "${channelName}" in this bot`);
    this.#metrics?.started('inbound', job, started);
    const messageKey = `${channelName}:${message.id}`;
    const running: RunningMessage = { seq: Math.floor(score / ConversationOrder.SLOTS), conversation, chain: Promise.resolve() };
    this.#running.set(messageKey, running);
    let sent: RunningMessage['unrecorded'];
    try {
      await host.run(channel, message);
      // A reply the handler did not wait for is sent (or queued) before the job ends.
      await running.chain;
      sent = running.unrecorded;
      running.unrecorded = undefined;
    } finally {
      this.#forget(messageKey, running);
      this.#metrics?.ran('inbound', started);
      if (running.unrecorded) void this.#record(running);
    }
    // Its last send's done-record, the timeline and the parked jobs in one round trip (the
    // jobs waiting here for it look at their turn once it is out of the timeline: `held.end`).
    await this.#finish(conversation, entry, sent);
    return 'answered';
  }

  /**
   * Marks a timeline entry as held by this process (its job runs here, or waits here for its
   * turn) until `end`, which every job of the conversation waiting here for it sees.
   */
  #hold(entry: string): HeldJob {
    let resolve!: () => void;
    const done = new Promise<void>((r) => (resolve = r));
    const held: HeldJob = {
      done,
      end: () => {
        if (this.#here.get(entry) === held) this.#here.delete(entry);
        resolve();
      },
    };
    this.#here.set(entry, held);
    return held;
  }

  async #runSend(job: Job<OutboxData>, token: string | undefined, worker: Worker, limit: { max: number; durationMs: number }): Promise<string> {
    const started = Date.now();
    const { job: send, entry } = job.data;
    // Tried by its message's run and failed for good (logged and counted then): only kept.
    if (job.data.failed !== undefined) throw new UnrecoverableError(job.data.failed);
    const host = this.#attached();
    const channel = host.channels.find((c) => c.name === send.channel);
    if (!channel) throw new UnrecoverableError(`no channel named "${send.channel}" in this bot`);
    const held = this.#hold(entry);
    try {
      return await this.#runSendHeld(job, token, worker, limit, channel, started);
    } finally {
      held.end();
    }
  }

  async #runSendHeld(
    job: Job<OutboxData>,
    token: string | undefined,
    worker: Worker,
    limit: { max: number; durationMs: number },
    channel: Channel,
    started: number,
  ): Promise<string> {
    const { job: send, conversation, entry, score } = job.data;
    const host = this.#attached();
    const sentKey = `${this.#prefix}:sent:${send.key}`;
    const sendingKey = `${this.#prefix}:sending:${send.key}`;
    // One round trip: its turn in the conversation (as #awaitTurn)? Sent already? Within the
    // app's send rate (every worker counts here)? The send claim (one sender per key: a job
    // taken over while its first worker still waits for WeChat waits instead of sending
    // again). The claim lasts one BullMQ job lock: a live sender keeps its lock (BullMQ renews
    // it); a sender that died frees both at about the same time, and the job runs again (the
    // ambiguous case).
    let verdict: string;
    let ttl: number;
    for (;;) {
      const [first, ...rest] = (await (this.#redis as RedisWithEngineScripts).wxbotSendTurn(
        this.#order.keyOf(conversation),
        sentKey,
        `${this.#prefix}:rate:${send.channel}`,
        sendingKey,
        String(score),
        String(Math.floor(score / ConversationOrder.SLOTS) * ConversationOrder.SLOTS),
        entry,
        String(ConversationOrder.SLOTS),
        String(ConversationOrder.TTL_MS),
        String(limit.durationMs),
        String(limit.max),
        this.#instance,
        String(this.#options.lockDurationMs ?? 30_000),
      )) as [string, ...(string | number)[]];
      if (first !== 'blocked') {
        verdict = first;
        ttl = Number(rest[0]);
        break;
      }
      await this.#waitOrClear(job, token, conversation, rest as string[], entry);
    }
    if (verdict === 'sent') {
      await this.#finish(conversation, entry);
      return 'already sent';
    }
    if (verdict === 'rate') {
      // Past the rate the whole queue waits; this job goes back without spending an attempt.
      await worker.rateLimit(Math.max(1, ttl));
      throw Worker.RateLimitError();
    }
    if (verdict === 'busy') {
      await job.moveToDelayed(Date.now() + 500, token);
      throw new DelayedError();
    }
    this.#metrics?.started(job.queueName, job, started);
    try {
      await sendNow(channel, { ...send, options: { ...send.options, sendId: sendIdOf(send.key) } });
    } catch (error) {
      await this.#redis.del(sendingKey).catch(() => undefined);
      this.#metrics?.ran(job.queueName, started);
      const verdict = classifySendError(error, channel.kind === 'wecomKf' || send.to.openKfId !== undefined);
      const last = job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
      if (verdict.action === 'fail' || last) {
        await this.#finish(conversation, entry);
        this.#metrics?.failed(job.queueName, verdict.label ?? verdict.reason);
        this.#logFailed(send, error, verdict.reason);
        throw new UnrecoverableError(verdict.reason);
      }
      this.#metrics?.retried(job.queueName);
      // Numbered over the whole send: a job queued after its message's run tried once has one attempt fewer.
      const of = this.#retryOptions().attempts;
      const attempt = job.attemptsMade + 1 + Math.max(0, of - (job.opts.attempts ?? of));
      const backoffMs = (job.opts.backoff as { delay?: number } | undefined)?.delay ?? this.#options.backoffMs ?? 1000;
      const retryInMs = Math.round(backoffMs * 2 ** job.attemptsMade); // BullMQ's exponential backoff
      host.log.warn({ channel: send.channel, msgId: send.answers, attempt, of, retryInMs, reason: verdict.reason }, 'send failed; retrying with backoff');
      throw new Error(verdict.reason);
    }
    this.#metrics?.ran(job.queueName, started);
    host.metrics.reply(send.channel, 'active', send.receivedAt ? (Date.now() - send.receivedAt) / 1000 : 0);
    await this.#finish(conversation, entry, { sentKey, sendingKey });
    return 'sent';
  }

  /**
   * A job is done: it leaves its conversation's timeline, and the jobs now at the head that
   * sleep until their next look (turn polling) are woken at once. A lease (a message running
   * in the process that received it) is never woken.
   */
  async #finish(conversation: string, entry: string, sent?: { sentKey: string; sendingKey: string }): Promise<void> {
    // One round trip: the done-record (a send), the timeline, and who is at its head now.
    const head = (await (this.#redis as RedisWithEngineScripts).wxbotFinish(
      this.#order.keyOf(conversation),
      sent?.sentKey ?? '',
      sent?.sendingKey ?? '',
      this.#parkedKey(conversation),
      entry,
      String(SENT_TTL_MS),
    )) as string[];
    // Each woken job goes to the front of its queue's waiting jobs: woken last to first, the
    // first of them is the next run (their promotes leave in this order on the one connection).
    await Promise.all(head.reverse().map((next) => this.#wake(next)));
  }

  /** The message no longer runs here (unless another run of it took its place meanwhile). */
  #forget(messageKey: string, running: RunningMessage): void {
    if (this.#running.get(messageKey) === running) this.#running.delete(messageKey);
  }

  #parkedKey(conversation: string): string {
    return `${this.#prefix}:order:parked:${conversation}`;
  }

  /**
   * Promotes a job at its conversation's head that sleeps until its next look at the turn, to
   * the front of the waiting jobs (promoteToFront): its turn came, so it need not wait behind
   * the backlog as BullMQ's promote would put it.
   */
  async #wake(next: string): Promise<void> {
    const [queueName, id, , flag] = next.split('|');
    const queue = queueName === this.#inbound?.name ? this.#inbound : this.#outboxes.get(queueName?.slice('outbox-'.length) ?? '');
    if (!queue || !id || flag === 'L') return;
    if (queue === this.#inbound && flag === undefined) {
      // An inbound entry of before the lease flag: only the job says whether it is a lease.
      const job = await queue.getJob(id);
      if (!job || (job.data as { leased?: boolean }).leased) return;
    }
    // Nothing to do (false) unless the job is delayed: it is running, waiting, or done.
    await promoteToFront(this.#redis, queue, id).catch(() => undefined);
  }

  /**
   * Returns when it is this job's turn in its conversation; otherwise puts the job back in
   * the delayed set for a moment (BullMQ's DelayedError, no attempt spent).
   */
  async #awaitTurn(job: Job, token: string | undefined, conversation: string, entry: string, score: number): Promise<void> {
    // A job run again after its entry was cleaned (e.g. retried by hand) takes its place back.
    for (;;) {
      const blockers = await this.#order.blockers(conversation, entry, score, { enter: true });
      if (blockers.length === 0) return;
      await this.#waitOrClear(job, token, conversation, blockers, entry);
    }
  }

  /**
   * Entries before a job: if one may still run, the job goes back to the delayed set for a
   * moment (BullMQ's DelayedError, no attempt spent); else they were left behind (their job is
   * done or never queued) and are removed, and the caller looks at its turn again.
   */
  async #waitOrClear(job: Job, token: string | undefined, conversation: string, blockers: readonly string[], entry: string): Promise<void> {
    // Blockers held here (running, or waiting here themselves): wait for them in process, then
    // look at the turn again. A conversation's jobs queue up here in order and each starts as
    // soon as the one before it ends; only half the concurrency may wait so per conversation,
    // so the others keep running. (Its BullMQ lock is renewed meanwhile; bounded all the same.)
    const here = blockers.map((blocker) => this.#here.get(blocker)).filter((held) => held !== undefined);
    const mayWait = (this.#waitingHere.get(conversation) ?? 0) < Math.max(1, Math.floor(this.#concurrency / 2));
    if (here.length > 0 && mayWait) {
      await this.#waitHere(conversation, settlesWithin(Promise.all(here.map((held) => held.done)), (this.#options.lockDurationMs ?? 30_000) / 2));
      return;
    }
    for (const blocker of blockers) {
      const state = this.#here.has(blocker) ? 'held' : await this.#stateOf(blocker);
      if (state === 'gone') {
        await this.#order.leave(conversation, blocker);
        continue;
      }
      if (state === 'running' && mayWait) {
        // Running in another process (a job, or a message under its lease): look at the turn
        // again in a moment, from here, rather than from the back of the queue.
        await this.#waitHere(conversation, sleep(this.#options.turnPollMs ?? 50));
        return;
      }
      // Parked: the job that finishes before it wakes it (#finish); the poll is the backstop.
      const parked = this.#parkedKey(conversation);
      await Promise.all([
        this.#redis.sadd(parked, entry),
        this.#redis.pexpire(parked, ConversationOrder.TTL_MS),
        job.moveToDelayed(Date.now() + (this.#options.turnPollMs ?? 50), token),
      ]);
      throw new DelayedError();
    }
  }

  /** Waits for `until` as one of the conversation's jobs waiting in this process for their turn. */
  async #waitHere(conversation: string, until: Promise<unknown>): Promise<void> {
    this.#waitingHere.set(conversation, (this.#waitingHere.get(conversation) ?? 0) + 1);
    try {
      await until;
    } finally {
      const left = (this.#waitingHere.get(conversation) ?? 1) - 1;
      if (left > 0) this.#waitingHere.set(conversation, left);
      else this.#waitingHere.delete(conversation);
    }
  }

  /**
   * Where a timeline entry's job is: `gone` (finished, or never queued), `running` (a worker
   * runs it, or its message runs under a lease), or `queued` (waiting or delayed in a queue).
   */
  async #stateOf(entry: string): Promise<'gone' | 'running' | 'queued'> {
    const [queueName, id, at, flag] = entry.split('|');
    const queue = queueName === this.#inbound?.name ? this.#inbound : [...this.#outboxes.values()].find((q) => q.name === queueName);
    if (!queue || !id) return 'gone';
    const state = await queue.getJobState(id);
    if (state === 'completed' || state === 'failed') return 'gone';
    if (state === 'unknown') {
      if (Date.now() - Number(at) >= ENTRY_GRACE_MS) return 'gone';
      // A lease's job is added beside its entry and removed beside its leaving (one round trip
      // each, at once): between the two its message runs or has just run in its process, where
      // it ends by itself. Looked at again from here, not parked (a parked job goes back to the
      // delayed set and is taken again: attemptsStarted 2, seen when a lease ended mid-look).
      return flag === 'L' ? 'running' : 'queued';
    }
    // A lease is a delayed job while its message runs in the process that received it.
    return state === 'active' || (flag === 'L' && state === 'delayed') ? 'running' : 'queued';
  }

  // ------------------------------------------------------------------------------------------
  // Operations

  /** Failed jobs, newest first, with their reasons. */
  async deadJobs(limit = 100): Promise<DeadJob[]> {
    return this.#bounded('listing failed jobs', () => this.#deadJobs(limit), this.#timeoutMs * 5);
  }

  async #deadJobs(limit: number): Promise<DeadJob[]> {
    const out: DeadJob[] = [];
    for (const queue of this.#queues()) {
      for (const job of await queue.getFailed(0, limit - 1)) {
        out.push({
          queue: queue.name,
          id: String(job.id),
          reason: job.failedReason,
          attempts: job.attemptsMade,
          failedAt: job.finishedOn,
          summary: summarize(job.data as InboundData | OutboxData),
        });
      }
    }
    return out.sort((a, b) => (b.failedAt ?? 0) - (a.failedAt ?? 0)).slice(0, limit);
  }

  /**
   * Retries a failed job (its turn and done-record rules apply again). Rejects, changing
   * nothing, when the job is not failed (waiting, active, delayed or completed) or gone.
   */
  async retryJob(queueName: string, id: string): Promise<void> {
    await this.#bounded('retrying a job', () => this.#retryJob(queueName, id), this.#timeoutMs * 5);
  }

  async #retryJob(queueName: string, id: string): Promise<void> {
    const job = await this.#failedJob(queueName, id, 'retried');
    const data = job.data as Partial<OutboxData>;
    if (data.failed !== undefined) {
      // A send its message's run tried: retried by hand, it sends for real.
      const { failed: _, ...rest } = data;
      await job.updateData(rest);
    }
    await job.retry('failed');
  }

  /**
   * Removes a failed job for good. Rejects, changing nothing, when the job is not failed: a
   * waiting, delayed or active job is a message or reply still to be delivered.
   */
  async dropJob(queueName: string, id: string): Promise<void> {
    await this.#bounded('dropping a job', async () => (await this.#failedJob(queueName, id, 'dropped')).remove(), this.#timeoutMs * 5);
  }

  /** The job `id` of `queueName` if it is failed; else an error that says what it is. */
  async #failedJob(queueName: string, id: string, what: 'retried' | 'dropped'): Promise<Job> {
    const job = await this.#queue(queueName).getJob(id);
    if (!job) throw new Error(`no job ${id} in ${queueName} (\`wxbot queue list\` shows the failed jobs)`);
    const state = await job.getState();
    if (state !== 'failed') throw new Error(`job ${id} in ${queueName} is ${state}, not failed: only failed jobs can be ${what} (\`wxbot queue list\` shows them)`);
    return job;
  }

  /** Jobs per state and queue. */
  async depth(): Promise<Record<string, Record<string, number>>> {
    return this.#bounded('counting jobs', () => this.#depth(), this.#timeoutMs * 5);
  }

  async #depth(): Promise<Record<string, Record<string, number>>> {
    const out: Record<string, Record<string, number>> = {};
    for (const queue of this.#queues()) out[queue.name] = await queue.getJobCounts('waiting', 'active', 'delayed', 'failed', 'completed');
    return out;
  }

  #queue(name: string): Queue {
    const queue = this.#queues().find((q) => q.name === name);
    if (!queue)
      throw new Error(
        `no queue named "${name}" (queues: ${this.#queues()
          .map((q) => q.name)
          .join(', ')})`,
      );
    return queue;
  }

  #queues(): Queue[] {
    return [...(this.#inbound ? [this.#inbound] : []), ...this.#outboxes.values()];
  }

  #retryOptions(): { attempts: number; backoff: { type: 'exponential'; delay: number } } {
    return { attempts: this.#options.attempts ?? 10, backoff: { type: 'exponential', delay: this.#options.backoffMs ?? 1000 } };
  }

  #attached(): DeliveryHost {
    if (!this.#host) throw new Error('durable delivery used before the bot attached it');
    return this.#host;
  }

  #inboundQueue(): Queue {
    this.#attached();
    return this.#inbound!;
  }

  #watch(worker: Worker): void {
    worker.on('error', (error) => this.#trouble(`worker ${worker.name}`, error));
  }

  /**
   * Every error event (ioredis, BullMQ queues and workers, lease renewals) comes here. A lost
   * connection is an outage: the first one says so once (#markDown) and the engine falls back
   * to memory at once; the many that follow while Redis is away (every reconnect attempt of
   * every connection) go to debug only, with their stacks. Any other error is one line
   * without a stack (the stack at debug).
   */
  #trouble(source: string, error: unknown): void {
    if (this.#stopped) return;
    const log = this.#host?.log;
    log?.debug({ source, err: error }, 'durable delivery: connection error');
    if (isConnectionError(error)) {
      this.#markDown(`lost the connection to Redis (${errorText(error)})`);
      return;
    }
    log?.error({ source, error: errorText(error) }, 'durable delivery: queue error');
  }
}

type RedisWithEngineScripts = Redis & {
  wxbotSendTurn(...args: string[]): Promise<(string | number)[]>;
  wxbotFinish(timeline: string, sentKey: string, sendingKey: string, parked: string, entry: string, sentTtlMs: string): Promise<string[]>;
  wxbotSent(sentKey: string, sendingKey: string, sentTtlMs: string): Promise<number>;
};

/** A job this process holds (running, or waiting here for its turn): `done` settles at `end`. */
interface HeldJob {
  readonly done: Promise<void>;
  end(): void;
}

/** Keeps a delayed job in the future while its message runs in this process. */
class Lease {
  readonly #timer: NodeJS.Timeout;
  #ended = false;

  constructor(
    private readonly job: Job,
    leaseMs: number,
    available: () => boolean,
    onError: (error: unknown) => void,
  ) {
    this.#timer = setInterval(
      () => {
        if (!this.#ended && available()) this.job.changeDelay(leaseMs).catch(onError);
      },
      Math.max(100, Math.floor(leaseMs / 3)),
    );
    this.#timer.unref();
  }

  /** The run is done (its sends are queued): the job goes. */
  async end(): Promise<void> {
    this.#ended = true;
    clearInterval(this.#timer);
    await this.job.remove().catch(() => undefined); // already taken by a worker: it will find the sends done
  }

  /** Stop renewing (graceful stop with the run unfinished): a worker takes it over. */
  abandon(): void {
    this.#ended = true;
    clearInterval(this.#timer);
  }
}

/** Errors that mean the connection to Redis is down (not a command's own failure). */
const CONNECTION_ERRORS =
  /ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE|ENOTFOUND|EHOSTUNREACH|ENETUNREACH|EAI_AGAIN|Connection is closed|connection (lost|closed)|Stream isn't writeable|max retries per request/i;

/** Whether `error` is a lost or refused connection rather than a failed command. */
function isConnectionError(error: unknown): boolean {
  const { code, message } = (error ?? {}) as { code?: unknown; message?: unknown };
  return CONNECTION_ERRORS.test(`${typeof code === 'string' ? code : ''} ${typeof message === 'string' ? message : String(error)}`);
}

/** An error as one line (no stack: stacks go to debug). */
function errorText(error: unknown): string {
  return error instanceof Error ? error.message || error.name : String(error);
}

/** Whether `promise` settles (either way) within `ms`. */
async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const settled = promise.then(
    () => true,
    () => true,
  );
  const late = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  try {
    return await Promise.race([settled, late]);
  } finally {
    clearTimeout(timer);
  }
}

/** A message as it came back from JSON: its `time` is a Date again. */
function messageFromJob(stored: Message): Message {
  return { ...stored, time: new Date(stored.time as unknown as string) } as Message;
}

/** A conversation: one user on one account of one channel. */
function conversationOf(channel: string, to: { user: string; openKfId?: string; agentId?: string }): string {
  return `${channel}|${to.openKfId ?? to.agentId ?? ''}|${to.user}`;
}

function recipientLike(message: Message): { user: string; openKfId?: string; agentId?: string } {
  return { user: message.from, ...(message.openKfId && { openKfId: message.openKfId }), ...(message.agentId && { agentId: message.agentId }) };
}

/** BullMQ job ids may not contain ':' nor be integers: a prefixed hash. */
function jobIdOf(kind: 'i' | 'o', key: string): string {
  return `${kind}${createHash('sha256').update(key).digest('base64url').slice(0, 31)}`;
}

/** The place of a reply among its message's sends: `…:<n>` and parts `…:<n>#<i>`. */
function slotOf(key: string): number {
  const match = /:(\d+)(?:#(\d+))?$/.exec(key);
  if (!match) return ConversationOrder.SLOTS - 2;
  const slot = Number(match[1]) * 16 + Number(match[2] ?? 0);
  return Math.min(slot, ConversationOrder.SLOTS - 2);
}

function summarize(data: InboundData | OutboxData): string {
  if ('message' in data) return `${data.channel} message ${data.message.id} from ${data.message.from} (${data.message.type})`;
  const { job } = data;
  const what = job.reply.type === 'text' ? `text "${job.reply.text.slice(0, 40)}${job.reply.text.length > 40 ? '…' : ''}"` : job.reply.type;
  return `${job.channel} → ${job.to.user}: ${what}`;
}
