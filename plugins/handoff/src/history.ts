import { randomUUID } from 'node:crypto';
import { getJson, setJson, type Message, type Reply, type Store } from '@wxbot/core';
import type { KeyedLocks } from './locks.ts';

/** Who wrote a history entry. */
export type Author = 'user' | 'bot' | 'agent';

/** One message of a conversation, as agents see it. */
export interface HistoryEntry {
  /** The WeChat msgid for the user's messages, a fresh id for the others. */
  readonly id: string;
  /** Milliseconds since the epoch. */
  readonly at: number;
  /** `in`: from the user; `out`: to the user. */
  readonly direction: 'in' | 'out';
  readonly from: Author;
  /** The agent's name, for `from: 'agent'`. */
  readonly agent?: string;
  /** The message or reply type: text, image, voice, … */
  readonly type: string;
  /** The text of a text (or transcribed voice) message. */
  readonly text?: string;
  /** The media_id of an image, voice, video or file. */
  readonly mediaId?: string;
  /** A one-line description of what has no text (a location, a link, news…). */
  readonly summary?: string;
}

/**
 * One entry, always built with the same fields in the same order (absent ones undefined, which
 * JSON leaves out): one hidden class for every entry keeps the per-message history code
 * monomorphic, where spreads made a new shape per message type.
 */
function entry(
  id: string,
  at: number,
  direction: 'in' | 'out',
  from: Author,
  agent: string | undefined,
  type: string,
  content: { text?: string | undefined; mediaId?: string | undefined; summary?: string | undefined },
): HistoryEntry {
  return { id, at, direction, from, agent, type, text: content.text, mediaId: content.mediaId, summary: content.summary };
}

/** The entry of a user's message; undefined for events, which are not conversation. */
export function entryFromMessage(message: Message): HistoryEntry | undefined {
  const content = contentOfMessage(message);
  return content && entry(message.id, message.time.getTime() || Date.now(), 'in', 'user', undefined, message.type, content);
}

function contentOfMessage(message: Message): { text?: string; mediaId?: string; summary?: string } | undefined {
  switch (message.type) {
    case 'event':
      return undefined;
    case 'text':
      return { text: message.text };
    case 'voice':
      return { mediaId: message.mediaId, text: message.recognition || undefined };
    case 'image':
    case 'video':
    case 'shortvideo':
      return { mediaId: message.mediaId };
    case 'file':
      return { mediaId: message.mediaId, summary: message.fileName || undefined };
    case 'location':
      return { summary: message.label || `${message.latitude}, ${message.longitude}` };
    case 'link':
      return { summary: `${message.title} ${message.url}`.trim() };
    case 'miniprogram':
      return { summary: message.title };
    case 'business_card':
      return { summary: message.userId };
    case 'msgmenu':
      return { summary: message.headContent ?? message.items.map((item) => item.content).join(' / ') };
    case 'channels':
      return { summary: `${message.nickname} ${message.title}`.trim() };
    case 'channels_shop_product':
      return { summary: message.title };
    case 'channels_shop_order':
      return { summary: message.productTitles };
    case 'merged_msg':
      return { summary: message.title };
    case 'other':
      return { summary: message.msgType };
  }
}

/** The entry of a reply sent to the user by the bot or an agent. */
export function entryFromReply(reply: Reply, from: 'bot' | 'agent', agent?: string): HistoryEntry {
  return entry(freshId(), Date.now(), 'out', from, agent || undefined, reply.type, contentOfReply(reply));
}

/**
 * A new entry id, unique across instances: this process's random id and a counter (a UUID a
 * reply cost more than the rest of its entry; every bot reply is recorded).
 */
function freshId(serial = ++entrySerial): string {
  return ID_PREFIX + serial.toString(36);
}
const ID_PREFIX = `${randomUUID()}-`;
let entrySerial = 0;

function contentOfReply(reply: Reply): { text?: string; mediaId?: string; summary?: string } {
  switch (reply.type) {
    case 'text':
    case 'markdown':
      return { text: reply.text };
    case 'templateCard':
      return { summary: String((reply.card['main_title'] as { title?: unknown } | undefined)?.title ?? reply.card.card_type) };
    case 'news':
      return { summary: reply.articles.map((a) => a.title).join(' / ') };
    case 'music':
      return { summary: reply.title ?? 'music' };
    case 'stream':
      return { summary: 'streamed answer' };
    case 'updateButton':
      return { summary: reply.replaceName };
    default:
      return { mediaId: reply.mediaId };
  }
}

/** A short preview of an entry for the conversation list. */
export function previewOf(entry: HistoryEntry): string {
  const text = entry.text ?? entry.summary ?? `[${entry.type}]`;
  return text.length > 80 ? `${text.slice(0, 79)}…` : text;
}

/** Where the last messages of conversations are kept: in a store, or in this process. */
interface HistoryShelf {
  append(conversationId: string, entry: HistoryEntry): Promise<void> | void;
  read(conversationId: string): Promise<HistoryEntry[] | undefined> | HistoryEntry[] | undefined;
  delete(conversationId: string): Promise<void> | void;
}

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

/** What an entry costs in memory, roughly: its object, and its texts at two bytes a character. */
function textBytes(text: string | undefined, summary: string | undefined): number {
  return 200 + 2 * ((text?.length ?? 0) + (summary?.length ?? 0));
}

/** Default memory budget of everyone's recent history in process (issue 12: bounded spaces). */
export const DEFAULT_RECENT_HISTORY_BYTES = 64 * 1024 * 1024;

/**
 * One conversation's recent entries in a ring of flat slots ({@link SLOTS} an entry, oldest at
 * `start`), not an object each: everyone's last messages live long in the heap, and the garbage
 * collector's work grows with the objects kept (an entry object and its boxed time were two of
 * the four a message kept), measured. Linked from the least to the most recently written
 * (`older`, `newer`), so that a write moves its conversation to the end without taking it out
 * of the map and putting it back (a Map's delete leaves a hole, and the holes made it rebuild
 * its table every few thousand messages).
 */
class Recent {
  readonly slots: unknown[] = [];
  /** The ring position of the oldest entry. */
  start = 0;
  count = 0;
  lastAt = 0;
  bytes = 0;
  older: Recent | undefined = undefined;
  newer: Recent | undefined = undefined;
  constructor(readonly conversationId: string) {}
}

/**
 * Slots an entry takes: id, at (from {@link AT_BASE}), direction, from, agent, type, text,
 * mediaId, summary. The id of a reply this process recorded is its serial number, made into
 * its string id ({@link freshId}) only when read: most replies are never read.
 */
const SLOTS = 9;
/** Times are kept as milliseconds after this: a small integer for ~12 days, not a boxed double. */
const AT_BASE = Date.now();

/**
 * Histories in this process, for a bot whose store is in memory anyway: no JSON and no lock
 * per message. Bounded: the conversations least recently written go first past
 * `maxConversations` or past `maxBytes` of entries (every user's last `size` messages would
 * otherwise grow with the number of users: 100 000 conversations of 50 long texts are GBs),
 * and a history reads as empty `ttlMs` after its last entry.
 */
class ProcessShelf implements HistoryShelf {
  readonly #histories = new Map<string, Recent>();
  /** The least and the most recently written conversations. */
  #oldest: Recent | undefined;
  #newest: Recent | undefined;
  #bytes = 0;

  constructor(private readonly options: { size: number; ttlMs: number; maxConversations: number; maxBytes: number }) {}

  append(conversationId: string, entry: HistoryEntry): void {
    this.#write(conversationId, Date.now(), entry.id, entry.at, entry.direction, entry.from, entry.agent, entry.type, entry.text, entry.mediaId, entry.summary);
  }

  /** Records a user's message straight from it (a text builds no entry). Not for events. */
  appendMessage(conversationId: string, message: Message): void {
    if (message.type !== 'text') {
      const entry = entryFromMessage(message);
      if (entry) this.append(conversationId, entry);
      return;
    }
    const now = Date.now();
    this.#write(conversationId, now, message.id, message.time.getTime() || now, 'in', 'user', undefined, 'text', message.text, undefined, undefined);
  }

  /** Records a reply straight from it (a text builds no entry, and its id is made when read). */
  appendReply(conversationId: string, reply: Reply, from: 'bot' | 'agent', agent?: string): void {
    const now = Date.now();
    if (reply.type !== 'text' && reply.type !== 'markdown') {
      const content = contentOfReply(reply);
      this.#write(conversationId, now, ++entrySerial, now, 'out', from, agent || undefined, reply.type, content.text, content.mediaId, content.summary);
      return;
    }
    this.#write(conversationId, now, ++entrySerial, now, 'out', from, agent || undefined, reply.type, reply.text, undefined, undefined);
  }

  #write(
    conversationId: string,
    now: number,
    id: string | number,
    entryAt: number,
    direction: 'in' | 'out',
    from: Author,
    agent: string | undefined,
    type: string,
    text: string | undefined,
    mediaId: string | undefined,
    summary: string | undefined,
  ): void {
    const { size } = this.options;
    let history = this.#live(conversationId, now);
    if (!history) {
      history = new Recent(conversationId);
      this.#histories.set(conversationId, history);
    } else {
      if (direction === 'in' && isRecentRedelivery(history, size, id)) return;
      this.#unlink(history);
    }
    // The most recently written last; the least recently written go first.
    history.older = this.#newest;
    if (this.#newest) this.#newest.newer = history;
    else this.#oldest = history;
    this.#newest = history;
    let at: number;
    if (history.count < size) {
      at = ((history.start + history.count) % size) * SLOTS;
      history.count++;
    } else {
      // Full: the oldest entry's slots take the new one.
      at = history.start * SLOTS;
      this.#grow(history, -slotBytes(history.slots, at));
      history.start = (history.start + 1) % size;
    }
    const { slots } = history;
    slots[at] = id;
    slots[at + 1] = entryAt - AT_BASE;
    slots[at + 2] = direction;
    slots[at + 3] = from;
    slots[at + 4] = agent;
    slots[at + 5] = type;
    slots[at + 6] = text;
    slots[at + 7] = mediaId;
    slots[at + 8] = summary;
    this.#grow(history, textBytes(text, summary));
    history.lastAt = now;
    while (this.#histories.size > this.options.maxConversations || (this.#bytes > this.options.maxBytes && this.#histories.size > 1)) {
      this.delete(this.#oldest!.conversationId);
    }
  }

  read(conversationId: string): HistoryEntry[] | undefined {
    const history = this.#live(conversationId, Date.now());
    if (!history) return undefined;
    const { slots, start, count } = history;
    const { size } = this.options;
    const out: HistoryEntry[] = [];
    for (let i = 0; i < count; i++) {
      const at = ((start + i) % size) * SLOTS;
      const id = slots[at] as string | number;
      out.push(
        entry(
          typeof id === 'number' ? freshId(id) : id,
          (slots[at + 1] as number) + AT_BASE,
          slots[at + 2] as 'in' | 'out',
          slots[at + 3] as Author,
          slots[at + 4] as string | undefined,
          slots[at + 5] as string,
          { text: slots[at + 6] as string | undefined, mediaId: slots[at + 7] as string | undefined, summary: slots[at + 8] as string | undefined },
        ),
      );
    }
    return out;
  }

  delete(conversationId: string): void {
    const history = this.#histories.get(conversationId);
    if (!history) return;
    this.#bytes -= history.bytes;
    this.#histories.delete(conversationId);
    this.#unlink(history);
  }

  /** Approximate bytes held (tests). */
  get bytes(): number {
    return this.#bytes;
  }

  #unlink(history: Recent): void {
    const { older, newer } = history;
    if (older) older.newer = newer;
    else this.#oldest = newer;
    if (newer) newer.older = older;
    else this.#newest = older;
    history.older = history.newer = undefined;
  }

  #grow(history: { bytes: number }, bytes: number): void {
    history.bytes += bytes;
    this.#bytes += bytes;
  }

  #live(conversationId: string, now: number): Recent | undefined {
    const history = this.#histories.get(conversationId);
    if (history && now - history.lastAt > this.options.ttlMs) {
      this.delete(conversationId);
      return undefined;
    }
    return history;
  }
}

/** {@link textBytes} of the entry in `slots` at `at`. */
function slotBytes(slots: readonly unknown[], at: number): number {
  return textBytes(slots[at + 6] as string | undefined, slots[at + 8] as string | undefined);
}

/**
 * {@link isRedelivery} over a ring: the id among the last few entries of an incoming message.
 * Replies' ids are numbers there, so only the user's messages' ids are compared as strings.
 */
function isRecentRedelivery(history: Recent, size: number, id: string | number): boolean {
  const { slots, start, count } = history;
  const last = Math.max(0, count - REDELIVERY_LOOKBACK);
  for (let i = count - 1; i >= last; i--) {
    let at = start + i;
    if (at >= size) at -= size;
    if (slots[at * SLOTS] === id) return true;
  }
  return false;
}

/**
 * A redelivered message (same msgid) is not recorded twice. Only the last few entries are
 * looked at: WeChat's retries come within seconds, and the core's dedup already keeps a retry
 * from reaching the plugins; this catches what slips past it (a KF page read twice) cheaply.
 */
function isRedelivery(entries: readonly HistoryEntry[], entry: HistoryEntry): boolean {
  if (entry.direction !== 'in') return false;
  for (let i = entries.length - 1; i >= 0 && i >= entries.length - REDELIVERY_LOOKBACK; i--) if (entries[i]!.id === entry.id) return true;
  return false;
}
const REDELIVERY_LOOKBACK = 10;

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
    this.#size = size;
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
    const recent = this.#recent;
    if (recent instanceof ProcessShelf) return recent.appendMessage(conversationId, message);
    const entry = entryFromMessage(message);
    if (entry) return recent.append(conversationId, entry);
  }

  /** Records a bot's reply in a conversation not open to agents, as {@link appendMessage}. */
  appendReply(conversationId: string, reply: Reply, from: 'bot' | 'agent'): Promise<void> | void {
    const recent = this.#recent;
    if (recent instanceof ProcessShelf) return recent.appendReply(conversationId, reply, from);
    return recent.append(conversationId, entryFromReply(reply, from));
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
