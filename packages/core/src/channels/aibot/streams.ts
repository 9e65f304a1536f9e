import { randomBytes } from 'node:crypto';

/** Largest stream content WeCom shows, in UTF-8 bytes. */
export const STREAM_CONTENT_LIMIT = 20480;
/** WeCom stops polling a stream 6 minutes after the user's message (then 846608). */
export const STREAM_LIFETIME_MS = 6 * 60_000;

export interface StreamOptions {
  /** Content cap in bytes (default {@link STREAM_CONTENT_LIMIT}). */
  limitBytes?: number;
  /**
   * When the stream is finished whatever the source does, counted from the user's message
   * (default 5.5 minutes: WeCom polls for at most 6). What comes later goes through response_url.
   */
  maxAgeMs?: number;
  /** Show `<think>…</think>` reasoning (WeCom renders it folded); default: left out. */
  showThinking?: boolean;
}

/** What a refresh poll gets: the whole answer so far (never a delta). */
export interface StreamSnapshot {
  readonly id: string;
  readonly content: string;
  readonly finish: boolean;
}

const THINKING = /<think>[\s\S]*?(?:<\/think>\s*|$)/g;

/** `text` cut to at most `limit` UTF-8 bytes, never inside a character. */
export function cutUtf8(text: string, limit: number): string {
  const bytes = Buffer.from(text, 'utf8');
  if (bytes.length <= limit) return text;
  let end = limit;
  while (end > 0 && (bytes[end]! & 0xc0) === 0x80) end--; // back off continuation bytes
  return bytes.subarray(0, end).toString('utf8');
}

/**
 * One streamed answer as WeCom polls it. The source appends chunks; each poll gets the full
 * snapshot (so a repeated or lost poll can never duplicate or drop text). The stream finishes
 * when the source ends, when the content reaches the byte cap, or when WeCom's 6-minute window
 * is about to close; whatever the stream could not show is `overflow`, for response_url.
 */
export class AiBotStream {
  readonly id: string;
  readonly startedAt: number;
  #text = '';
  #ended = false;
  /** The content frozen when the stream finished before its source (cap or age). */
  #frozen: string | undefined;
  readonly #limit: number;
  readonly #maxAgeMs: number;
  readonly #showThinking: boolean;
  readonly #ending: Array<() => void> = [];

  constructor(options: StreamOptions = {}, startedAt = Date.now(), id = randomBytes(12).toString('hex')) {
    this.id = id;
    this.startedAt = startedAt;
    this.#limit = options.limitBytes ?? STREAM_CONTENT_LIMIT;
    this.#maxAgeMs = options.maxAgeMs ?? STREAM_LIFETIME_MS - 30_000;
    this.#showThinking = options.showThinking ?? false;
  }

  /** Adds a chunk of the answer. */
  append(chunk: string): void {
    if (this.#ended) throw new Error(`stream ${this.id} has ended`);
    this.#text += chunk;
    if (this.#frozen === undefined) {
      const visible = this.#visible();
      if (Buffer.byteLength(visible, 'utf8') > this.#limit) this.#frozen = cutUtf8(visible, this.#limit);
    }
  }

  /** The source is done: the next snapshot says finish. */
  end(): void {
    if (this.#ended) return;
    this.#ended = true;
    for (const resolve of this.#ending.splice(0)) resolve();
  }

  get ended(): boolean {
    return this.#ended;
  }

  /** Resolves when the source has ended. */
  whenEnded(): Promise<void> {
    return this.#ended ? Promise.resolve() : new Promise((resolve) => this.#ending.push(resolve));
  }

  /** True once no more content will be shown in the stream (answer done, cap or age reached). */
  isFinished(now = Date.now()): boolean {
    if (this.#ended || this.#frozen !== undefined) return true;
    if (now - this.startedAt >= this.#maxAgeMs) {
      this.#frozen = cutUtf8(this.#visible(), this.#limit);
      return true;
    }
    return false;
  }

  /** What a refresh poll answers now. */
  snapshot(now = Date.now()): StreamSnapshot {
    const finish = this.isFinished(now);
    return { id: this.id, content: this.#frozen ?? this.#visible(), finish };
  }

  /** The whole answer as the user should read it (thinking left out unless shown). */
  get text(): string {
    return this.#visible();
  }

  /** What the stream could not show (past the cap, or after the age limit); '' when none. */
  get overflow(): string {
    if (this.#frozen === undefined) return '';
    return this.#visible().slice(this.#frozen.length);
  }

  #visible(): string {
    return this.#showThinking ? this.#text : this.#text.replace(THINKING, '');
  }
}

/**
 * The streams a channel serves, by id. A finished stream is kept until WeCom's window has
 * surely passed, so a late or repeated poll still gets the final snapshot.
 */
export class StreamRegistry {
  readonly #streams = new Map<string, AiBotStream>();
  readonly #keepMs: number;
  #sweeper: NodeJS.Timeout | undefined;

  constructor(keepMs = STREAM_LIFETIME_MS + 60_000) {
    this.#keepMs = keepMs;
  }

  create(options: StreamOptions = {}, startedAt = Date.now()): AiBotStream {
    const stream = new AiBotStream(options, startedAt);
    this.#streams.set(stream.id, stream);
    this.#sweep();
    return stream;
  }

  get(id: string): AiBotStream | undefined {
    return this.#streams.get(id);
  }

  get size(): number {
    return this.#streams.size;
  }

  clear(): void {
    clearInterval(this.#sweeper);
    this.#sweeper = undefined;
    this.#streams.clear();
  }

  /** One timer for all streams, running only while there are some. */
  #sweep(): void {
    if (this.#sweeper) return;
    this.#sweeper = setInterval(() => {
      const oldest = Date.now() - this.#keepMs;
      for (const [id, stream] of this.#streams) if (stream.startedAt < oldest) this.#streams.delete(id);
      if (this.#streams.size === 0) {
        clearInterval(this.#sweeper);
        this.#sweeper = undefined;
      }
    }, 30_000);
    this.#sweeper.unref();
  }
}
