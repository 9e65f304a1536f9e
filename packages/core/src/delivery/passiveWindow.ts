import type { Reply } from '../reply/types.ts';

/**
 * The deadlines of open windows, one queue per window length and one timer per queue (not
 * a timer per message: arming and clearing one costs ~3 µs a callback, measured). Windows of
 * one length open in time order, so each queue is sorted by deadline by construction and
 * its timer only ever waits for the head.
 */
class DeadlineQueue {
  readonly #items: PassiveWindow[] = [];
  #head = 0;
  #timer: NodeJS.Timeout | undefined;

  constructor(private readonly ms: number) {}

  add(window: PassiveWindow): void {
    this.#items.push(window);
    if (!this.#timer) this.#arm();
  }

  #arm(): void {
    const next = this.#items[this.#head];
    this.#timer = next ? setTimeout(() => this.#expire(), Math.max(0, next.deadline - performance.now())) : undefined;
  }

  #expire(): void {
    const now = performance.now();
    const items = this.#items;
    while (this.#head < items.length && items[this.#head]!.deadline <= now) items[this.#head++]!.close();
    // Drop the expired prefix now and then, not on every expiry.
    if (this.#head > 1024 && this.#head * 2 > items.length) {
      items.splice(0, this.#head);
      this.#head = 0;
    }
    if (this.#head === items.length) {
      items.length = 0;
      this.#head = 0;
      queues.delete(this.ms);
    }
    this.#arm();
  }
}

const queues = new Map<number, DeadlineQueue>();

/**
 * The time during which a reply can still travel back in the HTTP response. The first reply
 * offered while it is open is taken; it closes on that, on timeout, or when the pipeline
 * ends. `result` resolves with the taken reply, or undefined if none was.
 */
export class PassiveWindow {
  readonly result: Promise<Reply | undefined>;
  /** When it closes by itself (performance.now() time). */
  readonly deadline: number;
  #resolve!: (reply: Reply | undefined) => void;
  #open = true;

  constructor(ms: number) {
    this.result = new Promise((resolve) => (this.#resolve = resolve));
    this.deadline = performance.now() + ms;
    let queue = queues.get(ms);
    if (!queue) queues.set(ms, (queue = new DeadlineQueue(ms)));
    queue.add(this);
  }

  get isOpen(): boolean {
    return this.#open;
  }

  /** Takes the reply for the HTTP response; false when the window has closed already. */
  take(reply: Reply): boolean {
    if (!this.#open) return false;
    this.#finish(reply);
    return true;
  }

  close(): void {
    if (this.#open) this.#finish(undefined);
  }

  #finish(reply: Reply | undefined): void {
    this.#open = false;
    this.#resolve(reply);
  }
}
