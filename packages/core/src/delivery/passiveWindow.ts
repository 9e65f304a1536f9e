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
 */
class WindowClock {
  static readonly #clocks = new Map<number, WindowClock>();

  /** The clock of windows of `ms`. */
  static of(ms: number): WindowClock {
    let clock = WindowClock.#clocks.get(ms);
    if (!clock) WindowClock.#clocks.set(ms, (clock = new WindowClock(ms)));
    return clock;
  }

  /** Windows in the order they opened, from slot `#first`; undefined once closed. */
  #windows: (PassiveWindow | undefined)[] = [];
  /** When each times out (performance.now() ms). */
  #deadlines: number[] = [];
  /** The slot number of `#windows[0]`. */
  #first = 0;
  /** Where the oldest maybe-open window is in `#windows`. */
  #head = 0;
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
    const deadline = openedAt + this.ms;
    this.#windows.push(window);
    this.#deadlines.push(deadline);
    this.#open++;
    this.#timer ??= setTimeout(this.#fire, Math.max(1, deadline - performance.now()));
    return this.#first + this.#windows.length - 1;
  }

  /** A window closed: its slot empties (the timer stays: see the class). */
  remove(slot: number): void {
    const index = slot - this.#first;
    if (this.#windows[index] === undefined) return;
    this.#windows[index] = undefined;
    this.#open--;
  }

  /** No window open: the queue starts again empty, with no timer. */
  #reset(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#first += this.#windows.length;
    this.#windows = [];
    this.#deadlines = [];
    this.#head = 0;
  }

  #expire(): void {
    this.#timer = undefined;
    const now = performance.now();
    const windows = this.#windows;
    while (this.#head < windows.length) {
      const window = windows[this.#head];
      if (window !== undefined) {
        if (this.#deadlines[this.#head]! > now) break;
        window.close('timeout'); // empties its slot
      }
      this.#head++;
    }
    if (this.#open === 0) {
      this.#reset();
      return;
    }
    // Slots before the head are empty: drop them once they are most of the queue.
    if (this.#head > 1024 && this.#head * 2 > windows.length) {
      windows.splice(0, this.#head);
      this.#deadlines.splice(0, this.#head);
      this.#first += this.#head;
      this.#head = 0;
    }
    this.#timer = setTimeout(this.#fire, Math.max(1, this.#deadlines[this.#head]! - now));
  }
}
