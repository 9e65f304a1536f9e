import type { Store } from '@wxbot/core';

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

/** The appends in progress in this process, per store and conversation key (see `append`). */
const saving = new WeakMap<Store, Map<string, Promise<void>>>();

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
  /** The stored text last read and the turns in it: `append` parses again only if it changed. */
  #read: { key: string; raw: string | undefined; turns: Turn[] } | undefined;

  constructor(
    readonly store: Store,
    readonly options: MemoryOptions,
    /** The clock (tests may replace it). */
    readonly now: () => number = Date.now,
  ) {}

  /**
   * The conversation's live turns, oldest first, at most `options.turns`. Copies: a
   * `buildMessages` hook may edit them for its prompt, and `append` saves the turns it keeps,
   * which must stay what the user said and the model answered.
   */
  async load(key: string): Promise<Turn[]> {
    if (this.options.turns <= 0) return [];
    return this.#live(key, await this.store.get(key)).map((t) => ({ user: t.user, assistant: t.assistant, at: t.at }));
  }

  /**
   * Adds a turn and trims the conversation to `options.turns`. A conversation's appends in this
   * process go one after another: two answers that end together would each read the turns
   * before the other wrote its own, and one turn would be lost. (Instances sharing a store
   * are not ordered here: their answers to one sender rarely end within a round trip.)
   */
  async append(key: string, turn: Turn): Promise<void> {
    if (this.options.turns <= 0) return;
    let queue = saving.get(this.store);
    if (!queue) saving.set(this.store, (queue = new Map()));
    const before = queue.get(key);
    const saved = before ? before.then(() => this.#save(key, turn)) : this.#save(key, turn);
    const done = saved.catch(() => undefined);
    queue.set(key, done);
    try {
      await saved;
    } finally {
      if (queue.get(key) === done) queue.delete(key);
    }
  }

  async #save(key: string, turn: Turn): Promise<void> {
    // Read again rather than reuse what the prompt was built from: another message of the same
    // user may have finished meanwhile, and its turn must not be overwritten. Unchanged (the
    // usual case) it is not parsed twice.
    const turns = [...this.#live(key, await this.store.get(key)), turn].slice(-this.options.turns);
    await this.store.set(key, JSON.stringify({ v: 1, turns } satisfies Stored), this.options.ttlMs);
  }

  /** Forgets the conversation. */
  async clear(key: string): Promise<void> {
    await this.store.delete(key);
  }

  /** The live turns of the stored text (parsed unless it is the text read last). */
  #live(key: string, raw: string | undefined): Turn[] {
    const read = this.#read;
    const all = read && read.key === key && read.raw === raw ? read.turns : parseTurns(raw);
    this.#read = { key, raw, turns: all };
    const oldest = this.now() - this.options.ttlMs;
    return all.filter((t) => t.at > oldest).slice(-this.options.turns);
  }
}

/**
 * The readable turns of a stored conversation: anything unreadable inside valid JSON (another
 * version, a hand edit) counts as no memory rather than an error; bad JSON throws, as a store
 * failure does.
 */
function parseTurns(raw: string | undefined): Turn[] {
  if (raw === undefined) return [];
  const stored = JSON.parse(raw) as Partial<Stored> | null;
  return Array.isArray(stored?.turns) ? stored.turns.filter(isTurn) : [];
}
