import type { Outbox, OutboxJob, PassiveSlot } from './outbox.ts';

/** See `ReplyHook` in plugin.ts: sees a reply and calls `next` to deliver it (or another). */
type Hook = (reply: OutboxJob, next: (reply?: OutboxJob) => Promise<void>) => Promise<void>;

/**
 * An outbox with the plugins' outgoing-reply hooks in front of the engine: every reply,
 * `ctx.reply` and `sendTo`, passes them in registration order before the send rules run.
 * Engine-agnostic (it wraps any {@link Outbox}); with no hook it calls the engine directly.
 */
export class HookedOutbox implements Outbox {
  readonly #engine: Outbox;
  #hooks: readonly Hook[] = [];

  constructor(engine: Outbox) {
    this.#engine = engine;
  }

  /** Adds a hook; returns what removes it. */
  add(hook: Hook): () => void {
    this.#hooks = [...this.#hooks, hook];
    return () => void (this.#hooks = this.#hooks.filter((h) => h !== hook));
  }

  send(job: OutboxJob, passive?: PassiveSlot): Promise<void> {
    const hooks = this.#hooks;
    if (hooks.length === 0) return this.#engine.send(job, passive);
    return this.#step(hooks, 0, job, passive);
  }

  /** Hook `i` on `current` (a method, not a closure made per reply). */
  async #step(hooks: readonly Hook[], i: number, current: OutboxJob, passive: PassiveSlot | undefined): Promise<void> {
    const hook = hooks[i];
    if (!hook) return this.#engine.send(current, passive);
    let called = false;
    await hook(current, (changed) => {
      if (called) throw new Error('a reply hook called next() twice');
      called = true;
      return this.#step(hooks, i + 1, changed ?? current, passive);
    });
  }
}
