/**
 * History entries (what agents see of a message or a reply), how they are built from messages
 * and replies, and what the two history shelves share (history.ts, recent.ts).
 */
import { randomUUID } from 'node:crypto';
import type { Message, Reply } from '@wxbot/core';

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
export function entry(
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
export function freshId(serial = ++entrySerial): string {
  return ID_PREFIX + serial.toString(36);
}
const ID_PREFIX = `${randomUUID()}-`;
let entrySerial = 0;

export function contentOfReply(reply: Reply): { text?: string; mediaId?: string; summary?: string } {
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

/** The next serial number of a reply's id ({@link freshId}). */
export function nextSerial(): number {
  return ++entrySerial;
}

/** Where the last messages of conversations are kept: in a store, or in this process. */
export interface HistoryShelf {
  append(conversationId: string, entry: HistoryEntry): Promise<void> | void;
  read(conversationId: string): Promise<HistoryEntry[] | undefined> | HistoryEntry[] | undefined;
  delete(conversationId: string): Promise<void> | void;
}

/**
 * A redelivered message (same msgid) is not recorded twice. Only the last few entries are
 * looked at: WeChat's retries come within seconds, and the core's dedup already keeps a retry
 * from reaching the plugins; this catches what slips past it (a KF page read twice) cheaply.
 */
export function isRedelivery(entries: readonly HistoryEntry[], entry: HistoryEntry): boolean {
  if (entry.direction !== 'in') return false;
  for (let i = entries.length - 1; i >= 0 && i >= entries.length - REDELIVERY_LOOKBACK; i--) if (entries[i]!.id === entry.id) return true;
  return false;
}
export const REDELIVERY_LOOKBACK = 10;
