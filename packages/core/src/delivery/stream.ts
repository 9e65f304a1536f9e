import type { Logger } from 'pino';
import type { Channel } from '../channels/types.ts';

export type { ReplyStreamSink } from '../channels/types.ts';
import type { Message } from '../message/types.ts';
import type { Reply } from '../reply/types.ts';
import type { PassiveWindow } from './passiveWindow.ts';

/** What `ctx.replyStream()` takes: text chunks, in order (an LLM's deltas, say). */
export type TextStream = AsyncIterable<string>;

/**
 * The writing end of a streamed reply, for code that pushes chunks rather than iterating
 * (callbacks, event emitters): `write` each chunk, then `end()` (or `fail(error)`).
 */
export interface ReplyStreamHandle {
  write(chunk: string): void;
  /** The answer is complete; resolves once it has been delivered. */
  end(): Promise<void>;
  /** The source broke: what was written is delivered as the answer, then this rejects with `error`. */
  fail(error: unknown): Promise<void>;
}

/** A queue that is both a {@link ReplyStreamHandle} and the {@link TextStream} it feeds. */
export class ReplyStreamQueue implements TextStream {
  readonly #chunks: string[] = [];
  #closed = false;
  #error: { error: unknown } | undefined;
  #wake: (() => void) | undefined;

  write(chunk: string): void {
    if (this.#closed) throw new Error('replyStream: write() after end()');
    if (chunk === '') return;
    this.#chunks.push(chunk);
    this.#wake?.();
  }

  close(error?: { error: unknown }): void {
    this.#closed = true;
    this.#error = error;
    this.#wake?.();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<string> {
    for (;;) {
      const chunk = this.#chunks.shift();
      if (chunk !== undefined) {
        yield chunk;
        continue;
      }
      if (this.#closed) {
        if (this.#error) throw this.#error.error;
        return;
      }
      await new Promise<void>((resolve) => (this.#wake = resolve));
      this.#wake = undefined;
    }
  }
}

export interface StreamDelivery {
  channel: Channel;
  message: Message;
  window: PassiveWindow | undefined;
  source: TextStream;
  log: Logger;
  /** Delivers a whole reply the usual way (passive while the window is open, else active). */
  deliver(reply: Reply): Promise<void>;
  /** Told when the stream went out as the passive reply. */
  onPassive?(): void;
}

/**
 * Delivers a streamed answer the best way the channel allows:
 * - a channel that streams gets every chunk as it comes: in the HTTP answer's stream while the
 *   passive window is open (WeCom polls the snapshots), or pushed by the channel itself;
 * - otherwise the chunks are collected and delivered as one text reply when the source ends:
 *   passively if that is still in time, else through the active API.
 * If the source throws, what came before is still delivered, then the error is rethrown.
 */
export async function deliverStream(delivery: StreamDelivery): Promise<void> {
  const { channel, message, window, source } = delivery;
  // No await between opening and taking: the window cannot close in between.
  const sink = channel.openStream?.(message, { passive: window?.isOpen === true });
  if (sink && (!sink.start || window?.take(sink.start))) {
    if (sink.start) delivery.onPassive?.();
    try {
      for await (const chunk of source) sink.write(chunk);
    } finally {
      await sink.end();
    }
    return;
  }
  let text = '';
  let failure: { error: unknown } | undefined;
  try {
    for await (const chunk of source) text += chunk;
  } catch (error) {
    failure = { error };
  }
  if (text.trim()) await delivery.deliver({ type: 'text', text });
  else if (!failure) delivery.log.warn({ channel: channel.name, msgId: message.id }, 'replyStream: the stream ended without any text; nothing was sent');
  if (failure) throw failure.error;
}
