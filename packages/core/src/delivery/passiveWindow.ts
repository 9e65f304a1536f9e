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
  readonly #timer: NodeJS.Timeout;

  readonly #accepts: ((reply: Reply) => boolean) | undefined;

  /** `accepts`: the replies this message can take passively (others go active, the window stays open). */
  constructor(ms: number, accepts?: (reply: Reply) => boolean) {
    this.#accepts = accepts;
    this.result = new Promise((resolve) => (this.#resolve = resolve));
    this.#timer = setTimeout(() => this.close('timeout'), ms);
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
    clearTimeout(this.#timer);
    this.#resolve(reply);
  }
}
