import { getJson, setJson, type Message, type Reply, type Store } from '@wxbot/core';
import { entryFromMessage, entryFromReply, isRedelivery, type HistoryEntry, type HistoryShelf } from './entries.ts';
import type { KeyedLocks } from './locks.ts';
import { DEFAULT_RECENT_HISTORY_BYTES, ProcessShelf } from './recent.ts';

export { entryFromMessage, entryFromReply, previewOf, type Author, type HistoryEntry } from './entries.ts';
export { DEFAULT_RECENT_HISTORY_BYTES } from './recent.ts';

/** Histories as JSON in a store (shared by instances over Redis), changed under a lock. */
class StoreShelf implements HistoryShelf {
  constructor(
    private readonly store: Store,
    private readonly locks: KeyedLocks,
    private readonly options: { size: number; ttlMs: number },
  ) {}

  append(conversationId: string, entry: HistoryEntry): Promise<void> {
    return this.appendAll(conversationId, [entry]);
  }

  /** Appends several entries with one write (a history moving here from another shelf). */
  async appendAll(conversationId: string, added: readonly HistoryEntry[]): Promise<void> {
    const key = historyKey(conversationId);
    await this.locks.run(key, async () => {
      const entries = (await getJson<HistoryEntry[]>(this.store, key)) ?? [];
      const fresh = added.filter((entry) => !isRedelivery(entries, entry));
      if (fresh.length === 0) return;
      entries.push(...fresh);
      await setJson(this.store, key, entries.slice(-this.options.size), this.options.ttlMs);
    });
  }

  read(conversationId: string): Promise<HistoryEntry[] | undefined> {
    return getJson<HistoryEntry[]>(this.store, historyKey(conversationId));
  }

  delete(conversationId: string): Promise<void> {
    return this.store.delete(historyKey(conversationId));
  }
}

/**
 * The last `size` messages of each conversation, both directions, kept `ttlMs` after the last.
 *
 * Two shelves, because every message of every user is recorded but only the conversations
 * agents have open need to be durable: `recent` takes everyone's, `kept` the history of open
 * conversations, moved there by {@link History.keep} when a hand-off opens one. Over a
 * memory store `recent` is this process's memory (no JSON, no lock a message) and `kept` the
 * hand-off state file; over a shared store (Redis) both are that store, so every instance sees
 * the same. A FileStore rewrites its file on each write: everyone's history there made every
 * message cost a growing file rewrite.
 */
export class History {
  readonly #recent: HistoryShelf;
  /**
   * {@link #recent} when it is this process's, told once: `instanceof` three times a message
   * and its reply was ~700 instructions (V8's generic InstanceOf, HasInstance and property
   * lookups, callgrind), for an answer that never changes.
   */
  readonly #inProcess: ProcessShelf | undefined;
  readonly #kept: StoreShelf;
  readonly #size: number;

  constructor(options: { recent: Store | 'process'; kept: Store; locks: KeyedLocks; size: number; ttlMs: number; maxConversations?: number; maxRecentBytes?: number }) {
    const { size, ttlMs, locks } = options;
    this.#kept = new StoreShelf(options.kept, locks, { size, ttlMs });
    this.#recent =
      options.recent === 'process'
        ? new ProcessShelf({ size, ttlMs, maxConversations: options.maxConversations ?? 100_000, maxBytes: options.maxRecentBytes ?? DEFAULT_RECENT_HISTORY_BYTES })
        : options.recent === options.kept
          ? this.#kept
          : new StoreShelf(options.recent, locks, { size, ttlMs });
    this.#inProcess = this.#recent instanceof ProcessShelf ? this.#recent : undefined;
    this.#size = size;
  }

  /** Whether everyone's recent history is in this process ({@link appendMessage} and {@link appendReply} are synchronous). */
  get inProcess(): boolean {
    return this.#inProcess !== undefined;
  }

  /** Records an entry; `open` says the conversation is open to agents (its history is kept). */
  append(conversationId: string, entry: HistoryEntry, open: boolean): Promise<void> | void {
    return (open ? this.#kept : this.#recent).append(conversationId, entry);
  }

  /**
   * Records a user's message (not an event) of a conversation not open to agents: every
   * message of every user comes here, and in process a text is recorded without an entry.
   */
  appendMessage(conversationId: string, message: Message): Promise<void> | void {
    const inProcess = this.#inProcess;
    if (inProcess) return inProcess.appendMessage(conversationId, message);
    const entry = entryFromMessage(message);
    if (entry) return this.#recent.append(conversationId, entry);
  }

  /** Records a bot's reply in a conversation not open to agents, as {@link appendMessage}. */
  appendReply(conversationId: string, reply: Reply, from: 'bot' | 'agent'): Promise<void> | void {
    const inProcess = this.#inProcess;
    if (inProcess) return inProcess.appendReply(conversationId, reply, from);
    return this.#recent.append(conversationId, entryFromReply(reply, from));
  }

  /** A conversation was opened to agents: its history so far moves to the kept shelf. */
  async keep(conversationId: string): Promise<void> {
    if (this.#recent === this.#kept) return;
    const recent = (await this.#recent.read(conversationId)) ?? [];
    if (recent.length === 0) return;
    await this.#kept.appendAll(conversationId, recent);
    await this.#recent.delete(conversationId);
  }

  /** The last `limit` entries, oldest first. */
  async read(conversationId: string, limit = this.#size): Promise<HistoryEntry[]> {
    const entries = (await this.#kept.read(conversationId)) ?? (this.#recent === this.#kept ? undefined : await this.#recent.read(conversationId)) ?? [];
    return entries.slice(-limit);
  }
}

function historyKey(conversationId: string): string {
  return `handoff:history:${conversationId}`;
}
