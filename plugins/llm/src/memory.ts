import { getJson, setJson, type Store } from '@wxbot/core';

/** One exchange of a conversation: what the user said and what the model answered. */
export interface Turn {
  user: string;
  assistant: string;
  /** When the answer was made (epoch ms); a turn older than the memory's `ttlMs` is forgotten. */
  at: number;
}

/** How much a conversation remembers. */
export interface MemoryOptions {
  /** The most recent turns kept (0 keeps none). */
  turns: number;
  /** How long a turn is remembered, and how long an idle conversation's key lives in the store. */
  ttlMs: number;
}

/** What is kept under a conversation's key; versioned so the shape can change later. */
interface Stored {
  v: 1;
  turns: Turn[];
}

/** The store key of one conversation: one sender on one channel. */
export function memoryKey(channelName: string, from: string): string {
  // Encoded so a channel name with ':' cannot collide with another channel's senders.
  return `llm:memory:${encodeURIComponent(channelName)}:${encodeURIComponent(from)}`;
}

const isTurn = (value: unknown): value is Turn => {
  const t = value as Partial<Turn> | null;
  return typeof t === 'object' && t !== null && typeof t.user === 'string' && typeof t.assistant === 'string' && typeof t.at === 'number';
};

/**
 * Conversation memory kept in the bot's {@link Store} as JSON: in memory it lasts as long as
 * the process, with a FileStore it survives restarts, with a RedisStore every instance shares
 * it. Both the key's time to live and each turn's age enforce `ttlMs`, so expiry holds even on
 * a store that keeps keys longer than asked.
 */
export class ConversationMemory {
  constructor(
    readonly store: Store,
    readonly options: MemoryOptions,
    /** The clock (tests may replace it). */
    readonly now: () => number = Date.now,
  ) {}

  /** The conversation's live turns, oldest first, at most `options.turns`. */
  async load(key: string): Promise<Turn[]> {
    if (this.options.turns <= 0) return [];
    const stored = await getJson<Partial<Stored>>(this.store, key);
    // Anything unreadable (another version, a hand edit) counts as no memory rather than an error.
    const turns = Array.isArray(stored?.turns) ? stored.turns.filter(isTurn) : [];
    const oldest = this.now() - this.options.ttlMs;
    return turns.filter((t) => t.at > oldest).slice(-this.options.turns);
  }

  /** Adds a turn and trims the conversation to `options.turns`. */
  async append(key: string, turn: Turn): Promise<void> {
    if (this.options.turns <= 0) return;
    // Read again rather than reuse what the prompt was built from: another message of the same
    // user may have finished meanwhile, and its turn must not be overwritten.
    const turns = [...(await this.load(key)), turn].slice(-this.options.turns);
    await setJson(this.store, key, { v: 1, turns } satisfies Stored, this.options.ttlMs);
  }

  /** Forgets the conversation. */
  async clear(key: string): Promise<void> {
    await this.store.delete(key);
  }
}
