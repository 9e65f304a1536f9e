import type { Logger } from 'pino';
import { loggableError } from '../logger.ts';
import type { Outbox, OutboxJob, PassiveSlot } from './outbox.ts';

/** See `ReplyHook` in plugin.ts: sees a reply and calls `next` to deliver it (or another). */
type Hook = (reply: OutboxJob, next: (reply?: OutboxJob) => Promise<void>) => void | Promise<void>;

/** A hook and the plugin that registered it (named when it fails). */
interface Entry {
  readonly hook: Hook;
  readonly plugin: string | undefined;
}

/**
 * An outbox with the plugins' outgoing-reply hooks in front of the engine: every reply,
 * `ctx.reply` and `sendTo`, passes them in registration order before the send rules run.
 * Engine-agnostic (it wraps any {@link Outbox}); with no hook it calls the engine directly.
 *
 * A hook that throws is the registering plugin's failure, not the sender's: it is logged with
 * that plugin's name and skipped, and the reply goes on unchanged (as it reached that hook). A
 * delivery failure (the engine's, seen through `next()`) reaches the sender as it is.
 */
export class HookedOutbox implements Outbox {
  readonly #engine: Outbox;
  readonly #log: Logger;
  #hooks: readonly Entry[] = [];
  /** Development checks: a hook that drops a reply (returns without next()) is warned about once. */
  readonly #devChecks: boolean;
  readonly #warnedDrop = new WeakSet<Entry>();

  constructor(engine: Outbox, log: Logger, devChecks = false) {
    this.#engine = engine;
    this.#log = log;
    this.#devChecks = devChecks;
  }

  /** Adds a hook registered by `plugin`; returns what removes it. */
  add(hook: Hook, plugin?: string): () => void {
    const entry: Entry = { hook, plugin };
    this.#hooks = [...this.#hooks, entry];
    return () => void (this.#hooks = this.#hooks.filter((h) => h !== entry));
  }

  send(job: OutboxJob, passive?: PassiveSlot): Promise<void> {
    const hooks = this.#hooks;
    if (hooks.length === 0) return this.#engine.send(job, passive);
    return this.#step(hooks, 0, job, passive);
  }

  /**
   * Hook `i` on `current` (a method, not a closure made per reply). Promise callbacks, not an
   * async frame: every reply passes each hook and the engine through here, and the two async
   * frames of a one-hook bot were ~1.2 KB of a message's allocations (bench/alloc.ts). Same
   * results as `try { await hook(…) } catch { … }; if (downstream) await downstream`.
   */
  #step(hooks: readonly Entry[], i: number, current: OutboxJob, passive: PassiveSlot | undefined): Promise<void> {
    const entry = hooks[i];
    if (!entry) {
      try {
        return this.#engine.send(current, passive);
      } catch (error) {
        return Promise.reject(error);
      }
    }
    let downstream: Promise<void> | undefined;
    let result: void | Promise<void>;
    try {
      result = entry.hook(current, (changed) => {
        if (downstream) throw new Error('a reply hook called next() twice');
        downstream = this.#step(hooks, i + 1, changed ?? current, passive);
        return downstream;
      });
    } catch (error) {
      return this.#hookFailed(hooks, i, current, passive, downstream, error);
    }
    // `downstream` is read when the hook is done: it may call next() after its first await.
    if (result !== undefined && result !== null)
      // A promise (or another thenable, as `await` takes it).
      return Promise.resolve(result).then(
        () => this.#hookDone(entry, current, downstream),
        (error: unknown) => this.#hookFailed(hooks, i, current, passive, downstream, error),
      );
    return this.#hookDone(entry, current, downstream);
  }

  /** Hook `entry` returned: the sender learns how delivery went (also when next() was not awaited). */
  #hookDone(entry: Entry, current: OutboxJob, downstream: Promise<void> | undefined): Promise<void> {
    if (downstream) return downstream;
    if (this.#devChecks && !this.#warnedDrop.has(entry)) {
      // Dropping is allowed, but a forgotten next() drops every reply without a word.
      this.#warnedDrop.add(entry);
      const who = entry.plugin ? `plugin "${entry.plugin}"` : 'a reply hook';
      this.#log.warn(
        { plugin: entry.plugin, channel: current.channel, msgId: current.answers },
        `${who} dropped a reply in its reply hook (onReply): the hook returned without calling next(). Return next() to deliver it; a hook meant to drop replies can ignore this (said once; devChecks: false or NODE_ENV=production turns it off)`,
      );
    }
    return Promise.resolve();
  }

  /** Hook `i` threw or rejected with `error` (rare: an async function is fine here). */
  async #hookFailed(
    hooks: readonly Entry[],
    i: number,
    current: OutboxJob,
    passive: PassiveSlot | undefined,
    downstream: Promise<void> | undefined,
    error: unknown,
  ): Promise<void> {
    const entry = hooks[i] as Entry;
    if (!downstream) {
      this.#failed(entry, current, error, 'the reply goes on without it');
      return this.#step(hooks, i + 1, current, passive);
    }
    // The reply went on: next()'s own rejection is the delivery's, anything else the hook's.
    const delivery = await downstream.then(
      () => undefined,
      (reason: unknown) => ({ reason }),
    );
    if (delivery?.reason === error) throw error;
    this.#failed(entry, current, error, 'after passing the reply on');
    if (delivery) throw delivery.reason;
  }

  #failed(entry: Entry, job: OutboxJob, error: unknown, what: string): void {
    const who = entry.plugin ? `plugin "${entry.plugin}"` : 'a reply hook';
    this.#log.error({ err: loggableError(error), plugin: entry.plugin, channel: job.channel, msgId: job.answers }, `${who} failed in its reply hook (onReply); ${what}`);
  }
}
