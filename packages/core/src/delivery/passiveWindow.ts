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

  constructor(ms: number) {
    this.result = new Promise((resolve) => (this.#resolve = resolve));
    this.#timer = setTimeout(() => this.close(), ms);
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
    clearTimeout(this.#timer);
    this.#resolve(reply);
  }
}
