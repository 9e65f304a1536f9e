import type { Reply } from '../reply/types.ts';

/** Why a passive window closed: a reply took it, its time ran out, or the pipeline ended first. */
export type PassiveClosedBy = 'reply' | 'timeout' | 'ended';

/**
 * The time during which a reply can still travel back in the HTTP response. The first reply
 * offered while it is open is taken; it closes on that, on timeout, or when the pipeline
 * ends. `result` resolves with the taken reply, or undefined if none was.
 */
export class PassiveWindow {
  readonly result: Promise<Reply | undefined>;
  #resolve!: (reply: Reply | undefined) => void;
  #open = true;
  /** Why it closed (undefined while open), for errors that say why a reply went active. */
  #closedBy: PassiveClosedBy | undefined;
  /** Where it waits for its timeout. */
  readonly #clock: WindowClock;
  readonly #slot: number;

  readonly #accepts: ((reply: Reply) => boolean) | undefined;

  /**
   * `accepts`: the replies this message can take passively (others go active, the window stays
   * open). `openedAt`: when the window's time started (performance.now(); now by default), for a
   * caller that read the clock already when the request came.
   */
  constructor(ms: number, accepts?: (reply: Reply) => boolean, openedAt?: number) {
    this.#accepts = accepts;
    this.result = new Promise((resolve) => (this.#resolve = resolve));
    this.#clock = WindowClock.of(ms);
    this.#slot = this.#clock.add(this, openedAt ?? performance.now());
  }

  /**
   * Clears the timer of every window duration with no window open (the bot stops): a timer
   * left set after its windows closed would otherwise keep the process up to a window longer.
   */
  static releaseTimers(): void {
    WindowClock.releaseIdle();
  }

  get isOpen(): boolean {
    return this.#open;
  }

  /** Why the window closed: an earlier reply took it, its time ran out, or the pipeline ended; undefined while open. */
  get closedBy(): PassiveClosedBy | undefined {
    return this.#closedBy;
  }

  /** Takes the reply for the HTTP response; false when the window has closed already or this message cannot take it. */
  take(reply: Reply): boolean {
    if (!this.#open || this.#accepts?.(reply) === false) return false;
    this.#closedBy = 'reply';
    this.#finish(reply);
    return true;
  }

  /** Closes the window with no reply: the pipeline ended (default) or its time ran out. */
  close(by: 'ended' | 'timeout' = 'ended'): void {
    if (!this.#open) return;
    this.#closedBy = by;
    this.#finish(undefined);
  }

  #finish(reply: Reply | undefined): void {
    this.#open = false;
    this.#clock.remove(this.#slot);
    this.#resolve(reply);
  }
}

/**
 * The open windows of one duration under one timer, not a timer each: windows of the same
 * duration time out in the order they opened, so they wait in a queue and the timer is set for
 * the oldest open one. A window that closes leaves its slot empty (nothing is kept of it) and
 * the timer as it is, even the last open one (clearing and setting it again each time a bot
 * has no message in flight for a moment cost as much as a timer each); when it fires, the
 * windows whose time has come close, empty slots are skipped, and it is set again for the next
 * open window, if any. A window costs two array writes instead of a Timeout and a closure, a
 * timer-list insert and unlink, and a clock read (its caller's).
 *
 * The queue is a ring (a window's slot is its sequence number; its place, that number modulo the
 * ring's size), from the oldest open window to the newest, doubled when full and never shrunk:
 * its size follows the most windows open at once (at 5 000 messages a second with one message
 * hanging 5 s, ~25 000 slots, 16 bytes each). As arrays pushed to and spliced every few
 * seconds, the queue grew to a window duration's messages and was copied each time it grew,
 * in the old generation: ~37 B a message there (bench/promoted.ts, safe at 3 000 req/s).
 */
class WindowClock {
  static readonly #clocks = new Map<number, WindowClock>();

  /** The clock of windows of `ms`. */
  static of(ms: number): WindowClock {
    let clock = WindowClock.#clocks.get(ms);
    if (!clock) WindowClock.#clocks.set(ms, (clock = new WindowClock(ms)));
    return clock;
  }

  /** Open windows at `slot & #mask`; undefined once closed. */
  #windows: (PassiveWindow | undefined)[] = new Array<PassiveWindow | undefined>(16).fill(undefined);
  /** When each times out (performance.now() ms), at the same places. */
  #deadlines = new Float64Array(16);
  #mask = 15;
  /** The slot of the oldest window that may be open: slots before it are empty. */
  #head = 0;
  /** The slot the next window gets. */
  #next = 0;
  #open = 0;
  #timer: NodeJS.Timeout | undefined;
  readonly #fire = () => this.#expire();

  private constructor(private readonly ms: number) {}

  /** Clears the timers of the clocks with no window open. */
  static releaseIdle(): void {
    for (const clock of WindowClock.#clocks.values()) if (clock.#open === 0) clock.#reset();
  }

  /** Queues an open window that opened at `openedAt`; returns its slot. */
  add(window: PassiveWindow, openedAt: number): number {
    if (this.#next - this.#head > this.#mask) this.#grow();
    const deadline = openedAt + this.ms;
    const slot = this.#next++;
    this.#windows[slot & this.#mask] = window;
    this.#deadlines[slot & this.#mask] = deadline;
    this.#open++;
    this.#timer ??= setTimeout(this.#fire, Math.max(1, deadline - performance.now()));
    return slot;
  }

  /** A window closed: its slot empties (the timer stays: see the class); the head moves past empty slots. */
  remove(slot: number): void {
    if (slot < this.#head || slot >= this.#next) return;
    const windows = this.#windows;
    const mask = this.#mask;
    if (windows[slot & mask] === undefined) return;
    windows[slot & mask] = undefined;
    this.#open--;
    if (slot === this.#head) {
      let head = slot + 1;
      while (head < this.#next && windows[head & mask] === undefined) head++;
      this.#head = head;
    }
  }

  /** Twice the room, the queued windows at their places in it. */
  #grow(): void {
    const size = (this.#mask + 1) * 2;
    const windows = new Array<PassiveWindow | undefined>(size).fill(undefined);
    const deadlines = new Float64Array(size);
    for (let slot = this.#head; slot < this.#next; slot++) {
      windows[slot & (size - 1)] = this.#windows[slot & this.#mask];
      deadlines[slot & (size - 1)] = this.#deadlines[slot & this.#mask]!;
    }
    this.#windows = windows;
    this.#deadlines = deadlines;
    this.#mask = size - 1;
  }

  /** No window open: no timer (the ring is empty, its slots kept for the next windows). */
  #reset(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #expire(): void {
    this.#timer = undefined;
    const now = performance.now();
    while (this.#head < this.#next) {
      const at = this.#head & this.#mask;
      const window = this.#windows[at];
      if (window === undefined) {
        this.#head++;
        continue;
      }
      if (this.#deadlines[at]! > now) break;
      window.close('timeout'); // empties its slot and moves the head on (remove)
    }
    if (this.#open === 0) return;
    this.#timer = setTimeout(this.#fire, Math.max(1, this.#deadlines[this.#head & this.#mask]! - now));
  }
}
