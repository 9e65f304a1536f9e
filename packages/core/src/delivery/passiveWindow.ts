import type { Reply } from '../reply/types.ts';

/**
 * The time during which a reply can still travel back in the HTTP response. The first reply
 * offered while it is open is taken; it closes on that, on timeout, or when the pipeline
 * ends. `result` resolves with the taken reply, or undefined if none was.
 */
export class PassiveWindow {
  readonly result: Promise<Reply | undefined>;
  #resolve!: (reply: Reply | undefined) => void;
  #open = true;
  readonly #timer: NodeJS.Timeout;

  readonly #accepts: ((reply: Reply) => boolean) | undefined;

  /** `accepts`: the replies this message can take passively (others go active, the window stays open). */
  constructor(ms: number, accepts?: (reply: Reply) => boolean) {
    this.#accepts = accepts;
    this.result = new Promise((resolve) => (this.#resolve = resolve));
    this.#timer = setTimeout(() => this.close(), ms);
  }

  get isOpen(): boolean {
    return this.#open;
  }

  /** Takes the reply for the HTTP response; false when the window has closed already or this message cannot take it. */
  take(reply: Reply): boolean {
    if (!this.#open || this.#accepts?.(reply) === false) return false;
    this.#finish(reply);
    return true;
  }

  close(): void {
    if (this.#open) this.#finish(undefined);
  }

  #finish(reply: Reply | undefined): void {
    this.#open = false;
    clearTimeout(this.#timer);
    this.#resolve(reply);
  }
}
