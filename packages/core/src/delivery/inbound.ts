/**
 * The inbound half of delivery: what happens to a message between the channel and the
 * pipeline. For a callback: claim its id (dedup: a retry gets the first answer), open the
 * passive window, run the pipeline, encode the reply the window took (or answer `success`),
 * record the answer for retries. Messages without an HTTP response (KF sync) run the same
 * pipeline with no window. Replies leave through the {@link Outbox}.
 */
import type { Logger } from 'pino';
import type { MediaFile } from '../api/client.ts';
import type { Channel, Query } from '../channels/types.ts';
import { callbackLine, type CallbackLine } from '../logger.ts';
import type { Metrics } from '../metrics.ts';
import { recipientOf, sendOptionsOf, type Recipient } from '../message/recipient.ts';
import type { Message } from '../message/types.ts';
import { Context, type ContextServices } from '../pipeline/context.ts';
import type { Reply } from '../reply/types.ts';
import type { Store } from '../store/types.ts';
import type { I18n } from '../i18n/catalog.ts';
import type { HandoffOptions, MediaType, UploadFile } from '../vocabulary.ts';
import { CallbackDedup, dedupKeyOf, keyHashOf, type Claim } from './dedup.ts';
import { InFlightList, type InFlightLink } from './inFlightList.ts';
import type { DeliveryEngine } from './engine.ts';
import { logDeliveryFailure, type Outbox, type OutboxJob } from './outbox.ts';
import { PassiveWindow } from './passiveWindow.ts';
import { deliverStream, type TextStream } from './stream.ts';

/** What the inbound path needs from the bot that wires it. */
export interface InboundOptions {
  readonly log: Logger;
  readonly store: Store;
  readonly i18n: I18n;
  readonly metrics: Metrics;
  /** Where replies go. */
  readonly outbox: Outbox;
  /** The durable engine, if any: a message whose window closed while it runs is stored there. */
  readonly engine?: DeliveryEngine;
  /** The composed pipeline of plugins (a fresh context each message). */
  readonly pipeline: (ctx: Context) => Promise<void>;
  /** `ctx.handoff()`: moves the conversation to humans and tells whoever listens. */
  handoff(channel: Channel, message: Message, options: HandoffOptions): Promise<void>;
  /** `ctx.canHandoff`: whether someone takes a hand-off of this message's conversation. */
  canHandoff(channel: Channel, message: Message): boolean;
  /** The central error path: a failure the pipeline did not handle itself. */
  reportError(error: unknown, ctx: Context, plugin: string | undefined): void;
  /** How long a message may run in the pipeline before a "hung" warning. */
  readonly slowHandlerWarnMs: number;
  /** How long dedup marks live (default 5 min; the bot passes `dedupTtlFor(channels)`). */
  readonly dedupTtlMs?: number;
}

/** Runs messages through the pipeline and answers callbacks. One per bot. */
export class Inbound {
  readonly #options: InboundOptions;
  readonly #dedup: CallbackDedup;
  readonly #inFlight = new InFlightList<MessageRun>();
  #sweeper: NodeJS.Timeout | undefined;
  /**
   * One finished run kept for this inbound's life, with its Context and PassiveWindow: V8 reaches
   * the hidden class (map) of an instance with all its fields from the class's initial map through
   * transitions it holds weakly, and optimized code holds the maps it checks for weakly too. At a
   * mark-compact with no instance alive (the pipeline is synchronous, so between two tasks no
   * message is in flight; an idle server) the maps were cleared and every function compiled
   * against them deoptimized ("weak objects"): after each full GC the hot path (handleCallback,
   * deliver, planDelivery, reply, take… ~30 functions) ran in the interpreter until TurboFan
   * compiled it anew (bench/gcDeopts.ts). Kept here, not in a static field, so that it goes with its
   * bot: a static one held the first bot of the process for good (tests, reloads, several bots).
   * The first run with a window (a callback's), or the latest run until one comes (dispatch only).
   */
  #exemplar: MessageRun | undefined;

  /** Writes the line `#logCallback` logs (see callbackLine). */
  readonly #callbackLine: CallbackLine;

  constructor(options: InboundOptions) {
    this.#options = options;
    this.#callbackLine = callbackLine(options.log);
    this.#dedup = new CallbackDedup(options.store, options.dedupTtlMs);
    this.#dedup.onError = (error) => this.#dedupFailed(error, 'could not record an answer; a retry on another instance may run again');
  }

  /** Set while the dedup store fails: its outage is one warning when it starts and one when it ends. */
  #dedupDown: { readonly since: number; failures: number } | undefined;

  /** A dedup store failure: the first of an outage is a warning, every one a debug line with its stack. */
  #dedupFailed(error: unknown, what: string, context?: Record<string, unknown>): void {
    const { log } = this.#options;
    if (!this.#dedupDown) {
      this.#dedupDown = { since: Date.now(), failures: 0 };
      log.warn(
        { reason: error instanceof Error ? error.message : String(error) },
        'dedup store unavailable: messages are processed without dedup (a retry of one may run again) until it answers again; each failure is logged at debug',
      );
    }
    this.#dedupDown.failures++;
    log.debug({ ...context, err: error }, `dedup store failed: ${what}`);
  }

  /** The dedup store answered: ends an outage (its one closing line). */
  #dedupAnswered(): void {
    const down = this.#dedupDown;
    if (!down) return;
    this.#dedupDown = undefined;
    this.#options.log.warn({ downMs: Date.now() - down.since, failures: down.failures }, 'dedup store answers again: retries are recognised again');
  }

  get options(): InboundOptions {
    return this.#options;
  }

  /** Messages still in the pipeline. */
  get inFlight(): number {
    return this.#inFlight.size;
  }

  /**
   * Handles one POST callback and returns the HTTP body: the passive reply (encrypted where
   * the channel is), or `success`. Retries of a delivered message get the first answer.
   */
  async handleCallback(channel: Channel, query: Query, body: string): Promise<string> {
    const started = performance.now();
    const { log } = this.#options;
    const result = channel.receive(query, body);
    if (result.kind === 'ack') {
      if (result.after) {
        const after = result.after;
        setImmediate(() => after().catch((error) => log.error({ channel: channel.name, err: error }, 'after-ack work failed')));
      }
      this.#logCallback(channel, 'notification', undefined, started, 'ack');
      return result.body;
    }
    const { message } = result;
    const key = dedupKeyOf(channel.name, message.id);
    const hash = keyHashOf(key);
    let claim: Claim;
    try {
      const claimed = this.#dedup.claim(key, hash);
      claim = claimed instanceof Promise ? await claimed : claimed;
      if (this.#dedupDown) this.#dedupAnswered();
    } catch (error) {
      // The store is down: answering matters more than dedup, so process without it.
      this.#dedupFailed(error, 'processing this message without dedup', { channel: channel.name, msgId: message.id });
      claim = { first: true };
    }
    if (!claim.first) {
      const response = await claim.response;
      // The first delivery never finished: its instance died mid-pipeline. Durable mode runs
      // the message here (its job and send ids are the same, so nothing is sent twice).
      if (response !== CallbackDedup.STALE || !this.#options.engine) {
        this.#logCallback(channel, message.type, message.id, started, 'retry');
        return response === CallbackDedup.STALE ? 'success' : response;
      }
      log.warn({ channel: channel.name, msgId: message.id }, 'retry of a message whose first delivery never finished: taking it over');
    }
    const window = new PassiveWindow(channel.replyWindowMs, result.acceptsPassive, started);
    // The run closes the window when it ends (its own end callbacks: no promise and callbacks
    // more a message for it), and is in flight until then.
    const messageRun = new MessageRun(this, channel, message, window, true);
    const run = this.#run(messageRun);
    const reply = await window.result;
    if (messageRun.inFlight && this.#options.engine) {
      // A passive reply settles the window a few microtasks before the pipeline returns: only
      // a run still going after that (a late answer after "please wait") is stored as a job.
      if (reply) await new Promise((resolve) => setImmediate(resolve));
      if (messageRun.inFlight) await this.#leave(this.#options.engine, channel, message, run);
    }
    let answer = 'success';
    let outcome = reply ? 'passive' : 'no-reply';
    if (reply) {
      try {
        answer = result.encodeReply(reply);
      } catch (error) {
        outcome = 'active';
        log.warn({ channel: channel.name, err: error }, 'passive reply could not be encoded; sending it actively');
        // Same rules, no window: the outbox sends it through the API.
        const job: OutboxJob = {
          channel: channel.name,
          to: recipientOf(message),
          reply,
          options: sendOptionsOf(message),
          key: `${channel.name}:${message.id}:passive`,
          answers: message.id,
        };
        void this.#options.outbox.send(job).catch((e: unknown) => logDeliveryFailure(log, job, e));
      }
    }
    // Never throws: a store failure here must not leave retries waiting on this answer.
    const recorded = this.#dedup.complete(key, answer, hash);
    if (recorded) await recorded; // in memory: recorded already
    this.#logCallback(channel, message.type, message.id, started, outcome);
    return answer;
  }

  /**
   * Runs a message through the pipeline with no HTTP response to answer in: every reply
   * goes through the channel's active API. Used by KF sync and by in-process tests, which
   * may give a window: the first reply in time is then returned as the passive one.
   */
  async dispatch(channel: Channel, message: Message, options: { replyWindowMs?: number } = {}): Promise<{ passive: Reply | undefined }> {
    const window = options.replyWindowMs !== undefined ? new PassiveWindow(options.replyWindowMs) : undefined;
    await this.run(channel, message, window).finally(() => window?.close());
    return { passive: window ? await window.result : undefined };
  }

  /**
   * Runs the pipeline on a fresh context; never rejects (failures go to `reportError`). Promise
   * callbacks, not an async frame (every message): the same as `try { await pipeline(ctx) }
   * catch { reportError } finally { delete }`.
   */
  run(channel: Channel, message: Message, window: PassiveWindow | undefined): Promise<void> {
    return this.#run(new MessageRun(this, channel, message, window, false));
  }

  /** {@link run} of a message run made already; closes its window at the end when it {@link MessageRun.closesWindow}. */
  #run(run: MessageRun): Promise<void> {
    const ctx: Context = new Context(run.message, run);
    run.ctx = ctx;
    // Until a run with a window comes, each run is the exemplar (see #exemplar).
    if (this.#exemplar?.window === undefined) this.#exemplar = run;
    this.#inFlight.add(run);
    this.#watchInFlight();
    let done: Promise<void>;
    try {
      done = this.#options.pipeline(ctx);
    } catch (error) {
      done = Promise.reject(error);
    }
    return Promise.resolve(done).then(
      () => {
        this.#inFlight.delete(run);
        if (run.closesWindow) run.window?.close();
      },
      (error: unknown) => {
        try {
          this.#options.reportError(error, ctx, ctx.plugin);
        } catch (failed) {
          // A 'pluginError' listener threw. A callback's run has no caller to tell (its answer
          // waits for the window): dropped, as when a callback of its own caught it.
          if (!run.closesWindow) throw failed;
        } finally {
          this.#inFlight.delete(run);
          if (run.closesWindow) run.window?.close();
        }
      },
    );
  }

  /**
   * Durable mode: the window closed and the pipeline still runs here. The message is stored
   * as a job before WeChat gets `success` (so a worker answers it if this process dies); the
   * job goes when the run ends. If Redis is down, the run goes on in memory, as without Redis.
   */
  async #leave(engine: DeliveryEngine, channel: Channel, message: Message, run: Promise<void>): Promise<void> {
    try {
      const done = await engine.leave(channel, message);
      void run.finally(() =>
        done().catch((error: unknown) => this.#options.log.warn({ channel: channel.name, msgId: message.id, err: error }, 'could not end the lease of a finished message')),
      );
    } catch (error) {
      this.#options.log.warn({ channel: channel.name, msgId: message.id, err: error }, 'durable queue unavailable: this slow message runs in memory only');
    }
  }

  /** Waits until no message is in the pipeline, or `deadline` (epoch ms) passed. */
  async drain(deadline: number): Promise<void> {
    while (this.#inFlight.size > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
  }

  /** Stops the hung-message sweeper, and the passive windows' timers if no window is open. */
  close(): void {
    clearInterval(this.#sweeper);
    this.#sweeper = undefined;
    PassiveWindow.releaseTimers();
  }

  /** One line per callback (never its text) and the matching metrics. */
  #logCallback(channel: Channel, type: string, id: string | undefined, started: number, outcome: string): void {
    const ms = performance.now() - started;
    this.#options.metrics.callback(channel.name, outcome, ms / 1000);
    this.#callbackLine(channel.name, type, id, Math.round(ms * 10) / 10, outcome);
  }

  /**
   * One sweep timer for all messages (not a timer each): warns once about a message still
   * in the pipeline after `slowHandlerWarnMs`, naming the plugin it is in. Set by the first
   * message and kept (unref'd) until `close()`: one that stopped itself whenever it found nothing
   * in flight was set again by the next message, through a branch the optimized `handleCallback`
   * (which inlines this) had never seen run, so it was deoptimized and compiled again (~13 KB of
   * machine code) where that happened, seconds into a fresh bot (bench/jitTrace.ts).
   */
  #watchInFlight(): void {
    // Its own method, not this one's body: the sweeper's closure makes V8 allocate a context for
    // its variables on entry to the function that holds it, every message, sweeper set or not.
    if (!this.#sweeper) this.#startSweeper();
  }

  #startSweeper(): void {
    const slowAfter = this.#options.slowHandlerWarnMs;
    this.#sweeper = setInterval(
      () => {
        const now = Date.now();
        for (const run of this.#inFlight) {
          if (run.warned || now - run.received < slowAfter) continue;
          run.warned = true;
          run.log.warn({ plugin: run.ctx?.plugin, ms: Math.round(now - run.received) }, 'message still in the pipeline: a plugin may hang');
        }
      },
      Math.min(slowAfter, 5000),
    );
    this.#sweeper.unref();
  }
}

/**
 * The services one message's context uses: where its replies go, its logger, its media.
 * A class with the shared parts on `inbound`, not a closure set per message (hot path).
 */
class MessageRun implements ContextServices, InFlightLink<MessageRun> {
  /** Epoch ms the message entered the pipeline. */
  readonly received = Date.now();
  ctx: Context | undefined;
  warned = false;
  inFlightPrevious: MessageRun | undefined = undefined;
  inFlightNext: MessageRun | undefined = undefined;
  inFlight = false;
  #log: Logger | undefined;
  #to: Recipient | undefined;
  #replies = 0;

  constructor(
    private readonly inbound: Inbound,
    readonly channel: Channel,
    readonly message: Message,
    readonly window: PassiveWindow | undefined,
    /**
     * Whether the run's end closes its window: a callback's own run (handleCallback), not a
     * redispatch into the window of the message that made it, nor a dispatch, which closes its
     * window itself.
     */
    readonly closesWindow: boolean,
  ) {}

  /** A child logger, made only when something logs (most messages never do). */
  get log(): Logger {
    return (this.#log ??= this.inbound.options.log.child({ channel: this.channel.name, msgId: this.message.id }));
  }

  get store(): Store {
    return this.inbound.options.store;
  }

  get i18n(): I18n {
    return this.inbound.options.i18n;
  }

  deliver(reply: Reply): Promise<void> {
    const { channel, message } = this;
    const job: OutboxJob = {
      channel: channel.name,
      to: (this.#to ??= recipientOf(message)),
      reply,
      options: sendOptionsOf(message),
      key: `${channel.name}:${message.id}:${this.#replies++}`,
      answers: message.id,
      receivedAt: this.received,
    };
    return this.inbound.options.outbox.send(job, this.window);
  }

  deliverStream(source: TextStream): Promise<void> {
    return deliverStream({
      channel: this.channel,
      message: this.message,
      window: this.window,
      source,
      log: this.log,
      deliver: (reply) => this.deliver(reply),
      onPassive: () => this.inbound.options.metrics.reply(this.channel.name, 'passive', (Date.now() - this.received) / 1000),
    });
  }

  handoff(options: HandoffOptions): Promise<void> {
    return this.inbound.options.handoff(this.channel, this.message, options);
  }

  canHandoff(): boolean {
    return this.inbound.options.canHandoff(this.channel, this.message);
  }

  canStream(): boolean {
    return typeof this.channel.openStream === 'function';
  }

  redispatch(message: Message): Promise<void> {
    return this.inbound.run(this.channel, message, this.window);
  }

  downloadMedia(mediaId: string): Promise<MediaFile> {
    if (!this.channel.downloadMedia) throw new Error(`channel "${this.channel.name}" has no media API`);
    return this.channel.downloadMedia(mediaId);
  }

  uploadMedia(type: MediaType, file: UploadFile): Promise<string> {
    if (!this.channel.uploadMedia) throw new Error(`channel "${this.channel.name}" has no media API`);
    return this.channel.uploadMedia(type, file);
  }
}
