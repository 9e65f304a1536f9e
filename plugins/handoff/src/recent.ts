/**
 * Everyone's recent history in this process ({@link ProcessShelf}): every message of every user
 * and the bot's replies pass here, so its layout is about what the garbage collector and the
 * caches see (few slots an entry, no object per entry, comparisons without a call into V8).
 */
import type { Message, Reply } from '@wxbot/core';
import { contentOfReply, entry, entryFromMessage, freshId, nextSerial, REDELIVERY_LOOKBACK, textBytes, type Author, type HistoryEntry, type HistoryShelf } from './entries.ts';

/** Default memory budget of everyone's recent history in process (issue 12: bounded spaces). */
export const DEFAULT_RECENT_HISTORY_BYTES = 64 * 1024 * 1024;

/**
 * One conversation's recent entries in a ring of flat slots ({@link SLOTS} an entry, oldest at
 * `start`), not an object each: everyone's last messages live long in the heap, and the garbage
 * collector's work grows with the objects kept (an entry object and its boxed time were two of
 * the four a message kept), measured. The ring is made of chunks of {@link CHUNK} entries, each
 * made when the ring first reaches it, so it never grows by copying: one array grown by writes
 * past its end was copied six times on its way to 50 entries (each copy promoted by a scavenge,
 * the one before left to a mark-compact), ~200 B a message of the callback bench's promotion.
 * Linked from the least to the most recently written (`older`, `newer`), so that a write moves
 * its conversation to the end without taking it out of the map and putting it back (a Map's
 * delete leaves a hole, and the holes made it rebuild its table every few thousand messages).
 */
class Recent {
  /** The ring's chunks, in ring order; undefined until the ring reaches one. */
  readonly chunks: (unknown[] | undefined)[];
  /** The ring position of the oldest entry. */
  start = 0;
  count = 0;
  /** When it was last written, from {@link AT_BASE}: a small integer, not a boxed double (an object more a conversation). */
  lastAt = 0;
  bytes = 0;
  older: Recent | undefined = undefined;
  newer: Recent | undefined = undefined;
  constructor(
    readonly conversationId: string,
    size: number,
  ) {
    this.chunks = new Array(Math.ceil(size / CHUNK));
  }
}

/** Entries a chunk of a ring holds (the last chunk of a ring, fewer when the size is not a multiple). */
const CHUNK = 5;

/**
 * Slots an entry takes: id, at (from {@link AT_BASE}), {@link Kind}, content, and the id's
 * {@link fingerprint}. The id of a reply this process recorded is its serial number, made into
 * its string id ({@link freshId}) only when read: most replies are never read. Five slots, not
 * one for each field: the slots of every user's last messages are most of what the history
 * keeps, and every entry of one kind (a user's text, the bot's text reply) shares its
 * direction, author, agent and type.
 */
const SLOTS = 5;
/** Times are kept as milliseconds after this: a small integer for ~24 days, not a boxed double. */
const AT_BASE = Date.now();

/**
 * `at` (milliseconds since the epoch) from {@link AT_BASE}, as a small integer where it fits.
 * Said in so many words because V8 does not see it: a difference of two doubles stored in an
 * array or a field was a boxed number each time (an object of 16 B an entry, measured in the
 * bot), though its value was a small integer; the int32 made here is stored in place.
 */
function sinceBase(at: number): number {
  const since = at - AT_BASE;
  return since === (since | 0) ? since | 0 : since;
}

/** The fields of an entry with more than one of text, mediaId and summary (a voice's transcript, a file's name). */
interface Content {
  readonly text: string | undefined;
  readonly mediaId: string | undefined;
  readonly summary: string | undefined;
}

/**
 * What entries of one kind share: direction, author, agent, type, and what their content slot
 * holds: the one content field they have (a string), a {@link Content} (`mixed`), or nothing.
 * Made once per kind ({@link kindOf}).
 */
interface Kind {
  readonly direction: 'in' | 'out';
  readonly from: Author;
  readonly agent: string | undefined;
  readonly type: string;
  readonly holds: 'text' | 'mediaId' | 'summary' | 'mixed' | 'none';
}

const KINDS = new Map<string, Kind>();
/** Kinds are few (message and reply types × authors × agents); past this many, not shared. */
const MAX_KINDS = 1000;

function kindOf(direction: 'in' | 'out', from: Author, agent: string | undefined, type: string, holds: Kind['holds']): Kind {
  const key = JSON.stringify([direction, from, agent ?? null, type, holds]);
  let kind = KINDS.get(key);
  if (!kind) {
    kind = { direction, from, agent, type, holds };
    if (KINDS.size < MAX_KINDS) KINDS.set(key, kind);
  }
  return kind;
}
const USER_TEXT = kindOf('in', 'user', undefined, 'text', 'text');
const BOT_TEXT = kindOf('out', 'bot', undefined, 'text', 'text');
const BOT_MARKDOWN = kindOf('out', 'bot', undefined, 'markdown', 'text');

/**
 * A small integer from a string id's characters (-1 for a reply's serial number), kept beside
 * the id: the redelivery look-back compares ids only where these match. A message's id is a
 * slice of its callback's text, and V8 compares two slices in its runtime (a call each, up to
 * ten a message); these compare in place.
 */
function fingerprint(id: string | number): number {
  if (typeof id === 'number') return -1;
  let hash = id.length;
  for (let i = 0; i < id.length; i++) hash = (Math.imul(hash, 31) + id.charCodeAt(i)) | 0;
  return hash & 0x3fffffff; // a small integer (Smi) in every V8 build
}

/** What the content slot of an entry with these fields holds. */
function holdsOf(text: string | undefined, mediaId: string | undefined, summary: string | undefined): Kind['holds'] {
  const fields = (text === undefined ? 0 : 1) + (mediaId === undefined ? 0 : 1) + (summary === undefined ? 0 : 1);
  if (fields > 1) return 'mixed';
  return text !== undefined ? 'text' : mediaId !== undefined ? 'mediaId' : summary !== undefined ? 'summary' : 'none';
}

/** The content slot of an entry with these fields, as `holds` says. */
function contentSlot(holds: Kind['holds'], text: string | undefined, mediaId: string | undefined, summary: string | undefined): string | Content | undefined {
  switch (holds) {
    case 'text':
      return text;
    case 'mediaId':
      return mediaId;
    case 'summary':
      return summary;
    case 'mixed':
      return { text, mediaId, summary };
    case 'none':
      return undefined;
  }
}

/** An entry's content fields from its kind and content slot. */
function contentOf(kind: Kind, content: unknown): { text?: string | undefined; mediaId?: string | undefined; summary?: string | undefined } {
  switch (kind.holds) {
    case 'text':
      return { text: content as string };
    case 'mediaId':
      return { mediaId: content as string };
    case 'summary':
      return { summary: content as string };
    case 'mixed':
      return content as Content;
    case 'none':
      return {};
  }
}

/** {@link textBytes} of an entry from its kind and content slot. */
function slotBytes(kind: Kind, content: unknown): number {
  switch (kind.holds) {
    case 'text':
      return textBytes(content as string, undefined);
    case 'summary':
      return textBytes(undefined, content as string);
    case 'mixed':
      return textBytes((content as Content).text, (content as Content).summary);
    default:
      return textBytes(undefined, undefined);
  }
}

/**
 * Histories in this process, for a bot whose store is in memory anyway: no JSON and no lock
 * per message. Bounded: the conversations least recently written go first past
 * `maxConversations` or past `maxBytes` of entries (every user's last `size` messages would
 * otherwise grow with the number of users: 100 000 conversations of 50 long texts are GBs),
 * and a history reads as empty `ttlMs` after its last entry.
 */
export class ProcessShelf implements HistoryShelf {
  readonly #histories = new Map<string, Recent>();
  /** The least and the most recently written conversations. */
  #oldest: Recent | undefined;
  #newest: Recent | undefined;
  #bytes = 0;

  constructor(private readonly options: { size: number; ttlMs: number; maxConversations: number; maxBytes: number }) {}

  append(conversationId: string, entry: HistoryEntry): void {
    const { text, mediaId, summary } = entry;
    const holds = holdsOf(text, mediaId, summary);
    const kind = kindOf(entry.direction, entry.from, entry.agent, entry.type, holds);
    this.#write(conversationId, Date.now(), entry.id, entry.at, kind, contentSlot(holds, text, mediaId, summary));
  }

  /** Records a user's message straight from it (a text builds no entry). Not for events. */
  appendMessage(conversationId: string, message: Message): void {
    if (message.type !== 'text') {
      const entry = entryFromMessage(message);
      if (entry) this.append(conversationId, entry);
      return;
    }
    const now = Date.now();
    this.#write(conversationId, now, message.id, message.time.getTime() || now, USER_TEXT, message.text);
  }

  /** Records a reply straight from it (a text builds no entry, and its id is made when read). */
  appendReply(conversationId: string, reply: Reply, from: 'bot' | 'agent', agent?: string): void {
    const now = Date.now();
    if ((reply.type === 'text' || reply.type === 'markdown') && from === 'bot') {
      this.#write(conversationId, now, nextSerial(), now, reply.type === 'text' ? BOT_TEXT : BOT_MARKDOWN, reply.text);
      return;
    }
    const { text, mediaId, summary } = contentOfReply(reply);
    const holds = holdsOf(text, mediaId, summary);
    this.#write(conversationId, now, nextSerial(), now, kindOf('out', from, agent || undefined, reply.type, holds), contentSlot(holds, text, mediaId, summary));
  }

  #write(conversationId: string, now: number, id: string | number, entryAt: number, kind: Kind, content: string | Content | undefined): void {
    const { size } = this.options;
    const fp = fingerprint(id);
    let history = this.#live(conversationId, now);
    if (!history) {
      history = new Recent(conversationId, size);
      this.#histories.set(conversationId, history);
    } else {
      if (kind.direction === 'in' && isRecentRedelivery(history, size, id, fp)) return;
      this.#unlink(history);
    }
    // The most recently written last; the least recently written go first.
    history.older = this.#newest;
    if (this.#newest) this.#newest.newer = history;
    else this.#oldest = history;
    this.#newest = history;
    const full = history.count === size;
    let pos = history.start + history.count;
    if (full) {
      // The oldest entry's slots take the new one.
      pos = history.start;
      history.start = pos + 1 === size ? 0 : pos + 1;
    } else {
      if (pos >= size) pos -= size;
      history.count++;
    }
    const c = (pos / CHUNK) | 0;
    let slots = history.chunks[c];
    if (slots === undefined) history.chunks[c] = slots = new Array(Math.min(CHUNK, size - c * CHUNK) * SLOTS);
    const at = (pos - c * CHUNK) * SLOTS;
    if (full) this.#grow(history, -slotBytes(slots[at + 2] as Kind, slots[at + 3]));
    slots[at] = id;
    slots[at + 1] = sinceBase(entryAt);
    slots[at + 2] = kind;
    slots[at + 3] = content;
    slots[at + 4] = fp;
    this.#grow(history, slotBytes(kind, content));
    history.lastAt = sinceBase(now);
    while (this.#histories.size > this.options.maxConversations || (this.#bytes > this.options.maxBytes && this.#histories.size > 1)) {
      this.delete(this.#oldest!.conversationId);
    }
  }

  read(conversationId: string): HistoryEntry[] | undefined {
    const history = this.#live(conversationId, Date.now());
    if (!history) return undefined;
    const { start, count } = history;
    const { size } = this.options;
    const out: HistoryEntry[] = [];
    for (let i = 0; i < count; i++) {
      const [slots, at] = slotsAt(history, (start + i) % size);
      const id = slots[at] as string | number;
      const kind = slots[at + 2] as Kind;
      out.push(
        entry(typeof id === 'number' ? freshId(id) : id, (slots[at + 1] as number) + AT_BASE, kind.direction, kind.from, kind.agent, kind.type, contentOf(kind, slots[at + 3])),
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
    if (history && now - AT_BASE - history.lastAt > this.options.ttlMs) {
      this.delete(conversationId);
      return undefined;
    }
    return history;
  }
}

/**
 * {@link isRedelivery} over a ring: the id among the last few entries of an incoming message
 * (`fp` its {@link fingerprint}). Replies' ids are numbers there, so only the user's messages'
 * ids are compared as strings, and only those with the same fingerprint.
 */
function isRecentRedelivery(history: Recent, size: number, id: string | number, fp: number): boolean {
  const { chunks, start, count } = history;
  const last = Math.max(0, count - REDELIVERY_LOOKBACK);
  for (let i = count - 1; i >= last; i--) {
    let pos = start + i;
    if (pos >= size) pos -= size;
    const c = (pos / CHUNK) | 0;
    const slots = chunks[c] as unknown[];
    const at = (pos - c * CHUNK) * SLOTS;
    if (slots[at + 4] === fp && slots[at] === id) return true;
  }
  return false;
}

/** The chunk holding ring position `pos` of a history, and where its entry's slots start there. */
function slotsAt(history: Recent, pos: number): [unknown[], number] {
  const c = (pos / CHUNK) | 0;
  return [history.chunks[c] as unknown[], (pos - c * CHUNK) * SLOTS];
}
