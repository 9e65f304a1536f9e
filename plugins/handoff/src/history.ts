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

/** The entry of a user's message; undefined for events, which are not conversation. */
export function entryFromMessage(message: Message): HistoryEntry | undefined {
  const base = { id: message.id, at: message.time.getTime() || Date.now(), direction: 'in' as const, from: 'user' as const, type: message.type };
  switch (message.type) {
    case 'event':
      return undefined;
    case 'text':
      return { ...base, text: message.text };
    case 'voice':
      return { ...base, mediaId: message.mediaId, ...(message.recognition && { text: message.recognition }) };
    case 'image':
    case 'video':
    case 'shortvideo':
    case 'file':
      return { ...base, mediaId: message.mediaId, ...(message.type === 'file' && message.fileName && { summary: message.fileName }) };
    case 'location':
      return { ...base, summary: message.label || `${message.latitude}, ${message.longitude}` };
    case 'link':
      return { ...base, summary: `${message.title} ${message.url}`.trim() };
    case 'miniprogram':
      return { ...base, summary: message.title };
    case 'business_card':
      return { ...base, summary: message.userId };
    case 'msgmenu':
      return { ...base, summary: message.headContent ?? message.items.map((item) => item.content).join(' / ') };
    case 'channels':
      return { ...base, summary: `${message.nickname} ${message.title}`.trim() };
    case 'channels_shop_product':
      return { ...base, summary: message.title };
    case 'channels_shop_order':
      return { ...base, summary: message.productTitles };
    case 'merged_msg':
      return { ...base, summary: message.title };
    case 'other':
      return { ...base, summary: message.msgType };
  }
}

/** The entry of a reply sent to the user by the bot or an agent. */
export function entryFromReply(reply: Reply, from: 'bot' | 'agent', agent?: string): HistoryEntry {
  const base = { id: randomUUID(), at: Date.now(), direction: 'out' as const, from, ...(agent && { agent }), type: reply.type };
  switch (reply.type) {
    case 'text':
    case 'markdown':
      return { ...base, text: reply.text };
    case 'templateCard':
      return { ...base, summary: String((reply.card['main_title'] as { title?: unknown } | undefined)?.title ?? reply.card.card_type) };
    case 'news':
      return { ...base, summary: reply.articles.map((a) => a.title).join(' / ') };
    case 'music':
      return { ...base, summary: reply.title ?? 'music' };
    case 'stream':
      return { ...base, summary: 'streamed answer' };
    case 'updateButton':
      return { ...base, summary: reply.replaceName };
    default:
      return { ...base, mediaId: reply.mediaId };
  }
}

/** A short preview of an entry for the conversation list. */
export function previewOf(entry: HistoryEntry): string {
  const text = entry.text ?? entry.summary ?? `[${entry.type}]`;
  return text.length > 80 ? `${text.slice(0, 79)}…` : text;
}

/**
 * The last `size` messages of each conversation, both directions, in the store (so every
 * instance sees the same), kept `ttlMs` after the last one.
 *
 * Two stores, because every message of every user is recorded but only the conversations
 * agents have open need to survive a restart: `recent` takes everyone's (the bot's store), and
 * `kept` (the hand-off state file over a memory store; the same store otherwise) takes the
 * history of open conversations, moved there by {@link History.keep} when one opens. A
 * FileStore rewrites its file on each write, so everyone's history there made every message
 * cost a growing file rewrite.
 */
export class History {
  constructor(
    private readonly recent: Store,
    private readonly kept: Store,
    private readonly locks: KeyedLocks,
    private readonly options: { size: number; ttlMs: number },
  ) {}

  /** Records an entry; `open` says the conversation is open to agents (its history is kept). */
  async append(conversationId: string, entry: HistoryEntry, open: boolean): Promise<void> {
    const key = historyKey(conversationId);
    const store = open ? this.kept : this.recent;
    await this.locks.run(key, async () => {
      const entries = (await getJson<HistoryEntry[]>(store, key)) ?? [];
      // A redelivered message (same msgid) is not recorded twice.
      if (entry.direction === 'in' && entries.some((e) => e.id === entry.id)) return;
      entries.push(entry);
      await setJson(store, key, entries.slice(-this.options.size), this.options.ttlMs);
    });
  }

  /** A conversation was opened to agents: its history so far moves to the kept store. */
  async keep(conversationId: string): Promise<void> {
    if (this.kept === this.recent) return;
    const key = historyKey(conversationId);
    await this.locks.run(key, async () => {
      const recent = (await getJson<HistoryEntry[]>(this.recent, key)) ?? [];
      if (recent.length === 0) return;
      const kept = (await getJson<HistoryEntry[]>(this.kept, key)) ?? [];
      const known = new Set(kept.map((e) => e.id));
      const merged = [...kept, ...recent.filter((e) => !known.has(e.id))].sort((a, b) => a.at - b.at);
      await setJson(this.kept, key, merged.slice(-this.options.size), this.options.ttlMs);
      await this.recent.delete(key);
    });
  }

  /** The last `limit` entries, oldest first. */
  async read(conversationId: string, limit = this.options.size): Promise<HistoryEntry[]> {
    const key = historyKey(conversationId);
    const entries = (await getJson<HistoryEntry[]>(this.kept, key)) ?? (this.kept === this.recent ? undefined : await getJson<HistoryEntry[]>(this.recent, key)) ?? [];
    return entries.slice(-limit);
  }
}

function historyKey(conversationId: string): string {
  return `handoff:history:${conversationId}`;
}
