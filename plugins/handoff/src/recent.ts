/**
 * Everyone's recent history in this process ({@link ProcessShelf}): every message of every user
 * and the bot's replies pass here, so its layout is about what the garbage collector sees. A
 * message leaves nothing new on the JavaScript heap: its entry's fields are copied into one
 * log of 16-bit units outside it ({@link EntryLog}), and only a conversation has an object.
 */
import { endianness } from 'node:os';
import type { Message, Reply } from '@wxbot/core';
import { contentOfReply, entry, entryFromMessage, freshId, nextSerial, REDELIVERY_LOOKBACK, type Author, type HistoryEntry, type HistoryShelf } from './entries.ts';
import { EntryLog } from './entryLog.ts';
import { RepeatedTexts } from './repeatedTexts.ts';

/** Default memory budget of everyone's recent history in process (issue 12: bounded spaces). */
export const DEFAULT_RECENT_HISTORY_BYTES = 64 * 1024 * 1024;

/**
 * One conversation: where its newest entry is in the log and how many of the entries linked
 * back from there are its history (at most `size`). Linked from the least to the most recently
 * written (`older`, `newer`, in a ring through the shelf's ends), so that a write moves its conversation to the end without taking
 * it out of the map and putting it back (a Map's delete leaves a hole, and the holes made it
 * rebuild its table every few thousand messages).
 */
class Recent {
  /** The absolute log position of the newest entry. */
  last = 0;
  /** Entries linked back from `last` that are this history (those overwritten since read as gone). */
  count = 0;
  /** Entries written, the newest's {@link fingerprints} slot being `(written - 1) % REDELIVERY_LOOKBACK`. */
  written = 0;
  /** When it was last written (milliseconds since the epoch). */
  lastAt = 0;
  /**
   * The fingerprints ({@link scanId}) of the last {@link REDELIVERY_LOOKBACK} entries' ids, a ring: the
   * redelivery look-back compares these, in one place, and reads the log only where one
   * matches. Reading the last ten entries' ids from the log instead was ten cache misses a
   * message (they are as far apart as everyone's messages in between): 20% of the shelf's CPU.
   */
  readonly fingerprints = new Int32Array(REDELIVERY_LOOKBACK);
  older: Recent | undefined = undefined;
  newer: Recent | undefined = undefined;
  constructor(readonly conversationId: string) {}
}

/** What the redelivery look-back reads of a conversation ({@link Recent}), and never writes. */
interface LookBack {
  readonly last: number;
  readonly count: number;
  readonly written: number;
  readonly fingerprints: { readonly [slot: number]: number };
}

/**
 * What a new conversation is looked back in for a redelivery ({@link ProcessShelf.#write}): one
 * entry whose fingerprint no id has ({@link scanId}'s are 0 to 2^30 − 1, a reply's -1). Never
 * written nor linked; shared by every shelf, so read-only by its type. A Recent like the others,
 * so the look-back sees one shape: not `Object.freeze`d, which gives it a map of its own, and
 * the look-back's code, compiled while only new users wrote (the bench's first 5 000 messages),
 * was deoptimized ("wrong map") at the first real history (a micro, `--trace-deopt`). Its
 * fingerprints cannot be frozen either (a typed array with elements cannot be).
 */
export const NO_HISTORY: LookBack = (() => {
  const none = new Recent('');
  none.count = 1;
  none.written = 1;
  none.fingerprints[0] = -2;
  return none;
})();

/**
 * One pass over a string id (the look-back and the log need three things of it): returns its
 * fingerprint, a small integer from its characters to compare before the ids themselves, and
 * leaves in `packed` its {@link DIGITS} form when it is decimal digits (WeChat's msgids are):
 * `packed[0]` its length, then four digits a unit, the first lowest; `packed[0]` is 0 when it is
 * not digits. One `charCodeAt` a character instead of three (the fingerprint's pass, the digit
 * check's and the packing's were ~1k instructions a 19-digit msgid, callgrind).
 */
function scanId(id: string, packed: Uint16Array): number {
  const length = id.length;
  let hash = length;
  let digits = length > 0 && length <= MAX_DIGITS;
  let unit = 0;
  let at = 1;
  for (let i = 0; i < length; i++) {
    const c = id.charCodeAt(i);
    hash = (Math.imul(hash, 31) + c) | 0;
    if (!digits) continue;
    const digit = c - 0x30;
    if (digit < 0 || digit > 9) {
      digits = false;
      continue;
    }
    unit |= digit << ((i & 3) * 4);
    if ((i & 3) === 3) {
      packed[at++] = unit;
      unit = 0;
    }
  }
  if (digits && (length & 3) !== 0) packed[at] = unit;
  packed[0] = digits ? length : 0;
  return hash & 0x3fffffff;
}

/**
 * An entry in the log, in 16-bit units:
 *
 *   0–1  units back to the conversation's previous entry (0: none), 32 bits
 *   2    flags ({@link HAS_TEXT} and the others)
 *   3    its {@link Kind}'s index ({@link INLINE_KIND}: type and agent are written below)
 *   4–7  `at`, the 64-bit double as it is
 *   8…   the id: a reply's serial number in 4 units ({@link freshId} makes it its id when read,
 *        most replies are never read), {@link DIGITS} (most message ids), or a string; then the
 *        type and agent of an inline kind;
 *        then text, mediaId and summary, those the flags say are there; a text
 *        {@link TEXT_NUMBER} says is a repeated one is its number in one unit ({@link RepeatedTexts}).
 *
 * A string is its length in 2 units, then its UTF-16 code units as they are (lone surrogates
 * included). Digits (WeChat's msgids, 19–20 of them) are their count in a unit, then four
 * digits a unit (four bits each, the first lowest): 6 units for 19, not 21. A user's text
 * message of 20 characters with a 19-digit id is 8 + 6 + 22 = 36 units, 72 bytes; the bot's
 * text reply to it 8 + 4 + 2 + its length, or 8 + 4 + 1 when its text is a repeated one.
 */
const PREVIOUS = 0;
const FLAGS = 2;
const KIND = 3;
const AT = 4;
const ID = 8;

/** Bits of an entry's flags unit: which content fields it has, how its id and kind are written, its direction and author. */
const HAS_TEXT = 1;
const HAS_MEDIA_ID = 2;
const HAS_SUMMARY = 4;
/** The id is a reply's serial number. */
const SERIAL_ID = 8;
/** An inline kind ({@link INLINE_KIND}) with an agent. */
const HAS_AGENT = 16;
const OUT = 32;
/** Two bits from here: the author's index in {@link AUTHORS}. */
const AUTHOR_SHIFT = 6;
/** The text is a {@link RepeatedTexts} number (one unit), not the text itself. */
const TEXT_NUMBER = 256;
/** The id is decimal digits, written as such (see the layout). */
const DIGITS = 512;
/** The longest id written as {@link DIGITS}. */
const MAX_DIGITS = 64;
const AUTHORS: readonly Author[] = ['user', 'bot', 'agent'];

/** What entries of one kind share: type and agent. Made once per kind ({@link kindOf}), an index in the log. */
interface Kind {
  readonly index: number;
  readonly type: string;
  readonly agent: string | undefined;
}
const KINDS: Kind[] = [];
const KIND_INDEX = new Map<string, Kind>();
/** Kinds are few (message and reply types × agents); past this many, an entry writes its type and agent itself. */
const MAX_KINDS = 1000;
const INLINE_KIND = 0xffff;

function kindOf(type: string, agent: string | undefined): Kind {
  const key = agent === undefined ? type : `${type}\u0000${agent}`;
  let kind = KIND_INDEX.get(key);
  if (!kind) {
    if (KINDS.length >= MAX_KINDS) return { index: INLINE_KIND, type, agent };
    kind = { index: KINDS.length, type, agent };
    KINDS.push(kind);
    KIND_INDEX.set(key, kind);
  }
  return kind;
}
const TEXT = kindOf('text', undefined);
const MARKDOWN = kindOf('markdown', undefined);

const USER_IN = 0 << AUTHOR_SHIFT;
const BOT_OUT = OUT | (1 << AUTHOR_SHIFT);

/** The flags of an entry: its direction, author, and which content fields it has. */
function flagsOf(direction: 'in' | 'out', from: Author, text: string | undefined, mediaId: string | undefined, summary: string | undefined): number {
  return (
    (direction === 'out' ? OUT : 0) |
    ((AUTHORS.indexOf(from) & 3) << AUTHOR_SHIFT) |
    (text === undefined ? 0 : HAS_TEXT) |
    (mediaId === undefined ? 0 : HAS_MEDIA_ID) |
    (summary === undefined ? 0 : HAS_SUMMARY)
  );
}

/** Units a string field takes, 0 for an absent one. */
function stringUnits(value: string | undefined): number {
  return value === undefined ? 0 : 2 + value.length;
}

/** Writes a string field at `at`; returns where the next field starts. */
function putString(units: Uint16Array, bytes: Buffer, at: number, value: string): number {
  const length = value.length;
  units[at] = length & 0xffff;
  units[at + 1] = length >>> 16;
  at += 2;
  if (length >= NATIVE_COPY_FROM) bytes.write(value, at * 2, length * 2, 'utf16le');
  else for (let i = 0; i < length; i++) units[at + i] = value.charCodeAt(i);
  return at + length;
}

/**
 * From this many UTF-16 units a string is copied by Node's UTF-16 write (one native call, its
 * units as they are, lone surrogates too), below by a loop. The loop costs ~36 instructions a
 * unit (charCodeAt dispatches on the string's representation each time), the native write the
 * same whatever the length (Buffer.write's checks and the call): a user's text message through
 * ProcessShelf under callgrind, instructions a message with a text of 16 units 3.45k (loop) /
 * 4.39k (native), 24 3.59k / 4.47k, 40 4.22k / 4.40k, 100 6.49k / 4.41k. Little-endian platforms only: the log's units are in the platform's order, the write's
 * are little-endian.
 */
const NATIVE_COPY_FROM = endianness() === 'LE' ? 48 : Number.POSITIVE_INFINITY;

/** Writes the {@link DIGITS} id {@link scanId} packed at `at`; returns where the next field starts. */
function putDigits(units: Uint16Array, at: number, packed: Uint16Array): number {
  const count = digitsUnits(packed[0]!);
  for (let i = 0; i < count; i++) units[at + i] = packed[i]!;
  return at + count;
}

/** Units an id of {@link DIGITS} of `length` digits takes. */
function digitsUnits(length: number): number {
  return 1 + ((length + 3) >>> 2);
}

/** The digit `i` of the {@link DIGITS} id at `at`. */
function digitAt(units: Uint16Array, at: number, i: number): number {
  return (units[at + 1 + (i >>> 2)]! >>> ((i & 3) * 4)) & 0xf;
}

/** The {@link DIGITS} id at `at`. */
function getDigits(units: Uint16Array, at: number): string {
  let out = '';
  for (let i = 0, length = units[at]!; i < length; i++) out += String.fromCharCode(0x30 + digitAt(units, at, i));
  return out;
}

/**
 * Whether the {@link DIGITS} id at `at` is the one {@link scanId} packed, compared in place from
 * the end (as {@link sameString}): a packing is one id's alone (unused high digits are 0).
 */
function sameDigits(units: Uint16Array, at: number, packed: Uint16Array): boolean {
  if (units[at] !== packed[0]) return false;
  for (let i = digitsUnits(packed[0]!) - 1; i > 0; i--) if (units[at + i] !== packed[i]) return false;
  return true;
}

/** The 32-bit number in units `at` and `at + 1` (low first). */
function uint32At(units: Uint16Array, at: number): number {
  return units[at]! + units[at + 1]! * 0x10000;
}

/** The string field at `at` (made from its units in pieces: an argument list has a limit). */
function getString(units: Uint16Array, at: number): string {
  const start = at + 2;
  const end = start + uint32At(units, at);
  let out = '';
  for (let from = start; from < end; from += 8192) out += String.fromCharCode.apply(null, units.subarray(from, Math.min(end, from + 8192)) as unknown as number[]);
  return out;
}

/** Whether the string field at `at` is `value`, compared in place (from the end: msgids that differ, differ there). */
function sameString(units: Uint16Array, at: number, value: string): boolean {
  const length = value.length;
  if (uint32At(units, at) !== length) return false;
  at += 2;
  for (let i = length - 1; i >= 0; i--) if (units[at + i] !== value.charCodeAt(i)) return false;
  return true;
}

/** {@link scanId}'s packing of the id being written: its length, then up to 16 units of digits. */
const PACKED = new Uint16Array(1 + MAX_DIGITS / 4);

/** A double's four units, through one 8-byte buffer (written and read in the platform's order, as the log). */
const AT_DOUBLE = new Float64Array(1);
const AT_UNITS = new Uint16Array(AT_DOUBLE.buffer);

/**
 * Histories in this process, for a bot whose store is in memory anyway: no JSON and no lock
 * per message. Bounded: all entries are in one log of at most `maxBytes` (texts and ids at two
 * bytes a character, 24–28 bytes more an entry), grown as it fills; once full, each entry
 * overwrites the oldest ones, so every conversation loses its oldest entries first and one
 * whose newest entry is overwritten is forgotten. A conversation reads at most its last `size`
 * entries, but one written far more often than that takes more of the log than those. Also past `maxConversations` the conversations least recently
 * written go first, and a history reads as empty `ttlMs` after its last entry. An entry larger
 * than the whole budget is not recorded.
 */
export class ProcessShelf implements HistoryShelf {
  readonly #histories = new Map<string, Recent>();
  /**
   * The ends of the conversations' list, which is a ring through this: `newer` is the least
   * recently written conversation, `older` the most (itself when there is none). Linking and
   * unlinking have no branch: a branch first taken once TurboFan has compiled the writer (the
   * oldest conversation written again: at the bench traffic's first repeat user) has no type
   * feedback, and TurboFan's code is deoptimized there.
   */
  readonly #ends = new Recent('');
  readonly #log: EntryLog;
  /** The bot's reply texts written as numbers. */
  readonly #repeated = new RepeatedTexts();

  constructor(private readonly options: { size: number; ttlMs: number; maxConversations: number; maxBytes: number }) {
    this.#log = new EntryLog(options.maxBytes);
    this.#ends.older = this.#ends.newer = this.#ends;
  }

  append(conversationId: string, entry: HistoryEntry): void {
    const { text, mediaId, summary } = entry;
    this.#write(
      conversationId,
      Date.now(),
      entry.id,
      entry.at,
      flagsOf(entry.direction, entry.from, text, mediaId, summary),
      kindOf(entry.type, entry.agent),
      text,
      mediaId,
      summary,
    );
  }

  /** Records a user's message straight from it (a text builds no entry). Not for events. */
  appendMessage(conversationId: string, message: Message): void {
    if (message.type !== 'text') {
      const entry = entryFromMessage(message);
      if (entry) this.append(conversationId, entry);
      return;
    }
    const now = Date.now();
    this.#write(conversationId, now, message.id, message.time.getTime() || now, USER_IN | HAS_TEXT, TEXT, message.text, undefined, undefined);
  }

  /** Records a reply straight from it (a text builds no entry, and its id is made when read). */
  appendReply(conversationId: string, reply: Reply, from: 'bot' | 'agent', agent?: string): void {
    const now = Date.now();
    if ((reply.type === 'text' || reply.type === 'markdown') && from === 'bot') {
      const kind = reply.type === 'text' ? TEXT : MARKDOWN;
      const number = this.#repeated.numberOf(reply.text);
      if (number < 0) this.#write(conversationId, now, nextSerial(), now, BOT_OUT | HAS_TEXT, kind, reply.text, undefined, undefined);
      else this.#write(conversationId, now, nextSerial(), now, BOT_OUT | HAS_TEXT | TEXT_NUMBER, kind, number, undefined, undefined);
      return;
    }
    const { text, mediaId, summary } = contentOfReply(reply);
    this.#write(conversationId, now, nextSerial(), now, flagsOf('out', from, text, mediaId, summary), kindOf(reply.type, agent || undefined), text, mediaId, summary);
  }

  #write(
    conversationId: string,
    now: number,
    id: string | number,
    at: number,
    flags: number,
    kind: Kind,
    text: string | number | undefined,
    mediaId: string | undefined,
    summary: string | undefined,
  ): void {
    let history = this.#live(conversationId, now);
    // A reply's serial number: 4 units, never looked back at (fingerprint -1).
    let print = -1;
    let digits = false;
    let idUnits = 4;
    if (typeof id === 'string') {
      print = scanId(id, PACKED);
      digits = PACKED[0] !== 0;
      idUnits = digits ? digitsUnits(id.length) : 2 + id.length;
      // A new conversation is looked back in too ({@link NO_HISTORY}): the look-back's loop then
      // runs for every user's message, and has type feedback when the first user writes again.
      // Skipped for new users, it was code TurboFan's writer had never seen run, and deoptimized
      // at the bench traffic's first repeat user (message 5 001), with a third compile of ~9 KB.
      if ((flags & OUT) === 0 && this.#isRecentRedelivery(history ?? NO_HISTORY, id, print, digits)) return;
    }
    const inline = kind.index === INLINE_KIND;
    const length =
      ID +
      idUnits +
      (inline ? 2 + kind.type.length + stringUnits(kind.agent) : 0) +
      (typeof text === 'number' ? 1 : stringUnits(text)) +
      stringUnits(mediaId) +
      stringUnits(summary);
    const log = this.#log;
    if (length > log.maxRecordUnits) return;
    const position = log.reserve(length);
    if (!history) {
      history = new Recent(conversationId);
      this.#histories.set(conversationId, history);
    } else {
      this.#unlink(history);
    }
    // After the reservation: it may have overwritten the conversation's newest entry.
    if (history.count > 0 && !log.intact(history.last)) history.count = 0;
    const previous = history.count === 0 ? 0 : position - history.last;
    const units = log.segmentOf(position);
    const bytes = log.bytesOf(position);
    const offset = log.indexOf(position);
    units[offset + PREVIOUS] = previous & 0xffff;
    units[offset + PREVIOUS + 1] = previous >>> 16;
    units[offset + KIND] = kind.index;
    AT_DOUBLE[0] = at;
    units[offset + AT] = AT_UNITS[0]!;
    units[offset + AT + 1] = AT_UNITS[1]!;
    units[offset + AT + 2] = AT_UNITS[2]!;
    units[offset + AT + 3] = AT_UNITS[3]!;
    let next = offset + ID;
    if (typeof id === 'number') {
      flags |= SERIAL_ID;
      const high = Math.floor(id / 0x100000000);
      units[next] = id & 0xffff;
      units[next + 1] = (id >>> 16) & 0xffff;
      units[next + 2] = high & 0xffff;
      units[next + 3] = (high >>> 16) & 0xffff;
      next += 4;
    } else if (digits) {
      flags |= DIGITS;
      next = putDigits(units, next, PACKED);
    } else {
      next = putString(units, bytes, next, id);
    }
    if (inline) {
      next = putString(units, bytes, next, kind.type);
      if (kind.agent !== undefined) {
        flags |= HAS_AGENT;
        next = putString(units, bytes, next, kind.agent);
      }
    }
    // The content fields through one call site: a call TurboFan's code has never seen made has
    // no type feedback, and the writer was deoptimized at the first reply with a summary (a
    // news reply, a few hundred messages into the bench's traffic); an image's mediaId next.
    for (let field = 0; field < 3; field++) {
      const value = field === 0 ? text : field === 1 ? mediaId : summary;
      if (typeof value === 'number') units[next++] = value;
      else if (value !== undefined) next = putString(units, bytes, next, value);
    }
    units[offset + FLAGS] = flags;
    history.last = position;
    if (history.count < this.options.size) history.count++;
    history.fingerprints[history.written % REDELIVERY_LOOKBACK] = print;
    history.written++;
    history.lastAt = now;
    // The most recently written last; the least recently written go first.
    const ends = this.#ends;
    const newest = ends.older!;
    history.older = newest;
    history.newer = ends;
    newest.newer = history;
    ends.older = history;
    while (this.#histories.size > this.options.maxConversations) this.delete(ends.newer!.conversationId);
    // The least recently written conversation has the oldest newest entry: once the log has
    // written over that, all its entries are gone, and so is it.
    for (let oldest = ends.newer!; oldest !== ends && !log.intact(oldest.last); oldest = ends.newer!) this.delete(oldest.conversationId);
  }

  read(conversationId: string): HistoryEntry[] | undefined {
    const history = this.#live(conversationId, Date.now());
    if (!history) return undefined;
    const log = this.#log;
    const positions: number[] = [];
    for (let position = history.last; positions.length < history.count && log.intact(position); ) {
      positions.push(position);
      const previous = uint32At(log.segmentOf(position), log.indexOf(position) + PREVIOUS);
      if (previous === 0) break;
      position -= previous;
    }
    const out: HistoryEntry[] = [];
    for (let i = positions.length - 1; i >= 0; i--) out.push(entryAt(log.segmentOf(positions[i]!), log.indexOf(positions[i]!), this.#repeated));
    return out;
  }

  delete(conversationId: string): void {
    const history = this.#histories.get(conversationId);
    if (!history) return;
    this.#histories.delete(conversationId);
    this.#unlink(history);
  }

  /** Bytes of the log's segments reached (tests: it grows with what is written). */
  get allocatedBytes(): number {
    return this.#log.allocatedBytes;
  }

  /** Bytes allocated for the log, segments reached or not (tests: one allocation of the budget, up to 64 MiB, at the first entry). */
  get reservedBytes(): number {
    return this.#log.reservedBytes;
  }

  /**
   * {@link isRedelivery} over the log: the id among the last few entries of the conversation
   * (`print` its fingerprint, `digits` whether it is {@link DIGITS}, then packed in {@link PACKED}), compared in place
   * where the fingerprints match. Replies' ids are serial numbers there, not compared.
   */
  #isRecentRedelivery(history: LookBack, id: string, print: number, digits: boolean): boolean {
    const { fingerprints, written } = history;
    const last = Math.min(history.count, REDELIVERY_LOOKBACK);
    for (let back = 0; back < last; back++) {
      if (fingerprints[(written - 1 - back) % REDELIVERY_LOOKBACK] !== print) continue;
      const position = this.#positionBack(history, back);
      if (position < 0) return false;
      const units = this.#log.segmentOf(position);
      const offset = this.#log.indexOf(position);
      const flags = units[offset + FLAGS]!;
      if (flags & SERIAL_ID) continue;
      // An id is written as digits exactly when it is digits: one of each kind never matches.
      if (flags & DIGITS ? digits && sameDigits(units, offset + ID, PACKED) : !digits && sameString(units, offset + ID, id)) return true;
    }
    return false;
  }

  /** The log position of the entry `back` entries before a conversation's newest, -1 if it is overwritten. */
  #positionBack(history: LookBack, back: number): number {
    const log = this.#log;
    let position = history.last;
    for (let i = 0; ; i++) {
      if (!log.intact(position)) return -1;
      if (i === back) return position;
      const previous = uint32At(log.segmentOf(position), log.indexOf(position) + PREVIOUS);
      if (previous === 0) return -1;
      position -= previous;
    }
  }

  /** Takes a conversation out of the ring of {@link #ends} (where every one in the map is). */
  #unlink(history: Recent): void {
    const older = history.older!;
    const newer = history.newer!;
    older.newer = newer;
    newer.older = older;
    history.older = history.newer = undefined;
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

/** The entry written at `offset`, as {@link HistoryShelf.read} gives it (`repeated`: the shelf's numbered texts). */
function entryAt(units: Uint16Array, offset: number, repeated: RepeatedTexts): HistoryEntry {
  const flags = units[offset + FLAGS]!;
  AT_UNITS[0] = units[offset + AT]!;
  AT_UNITS[1] = units[offset + AT + 1]!;
  AT_UNITS[2] = units[offset + AT + 2]!;
  AT_UNITS[3] = units[offset + AT + 3]!;
  const at = AT_DOUBLE[0]!;
  let next = offset + ID;
  let id: string;
  if (flags & SERIAL_ID) {
    id = freshId(units[next]! + units[next + 1]! * 0x10000 + (units[next + 2]! + units[next + 3]! * 0x10000) * 0x100000000);
    next += 4;
  } else if (flags & DIGITS) {
    id = getDigits(units, next);
    next += digitsUnits(units[next]!);
  } else {
    id = getString(units, next);
    next += 2 + uint32At(units, next);
  }
  const field = (flag: number): string | undefined => {
    if ((flags & flag) === 0) return undefined;
    const value = getString(units, next);
    next += 2 + value.length;
    return value;
  };
  let kind = KINDS[units[offset + KIND]!];
  if (units[offset + KIND] === INLINE_KIND || kind === undefined) {
    const type = getString(units, next);
    next += 2 + type.length;
    kind = { index: INLINE_KIND, type, agent: field(HAS_AGENT) };
  }
  const direction = flags & OUT ? 'out' : 'in';
  const from = AUTHORS[(flags >>> AUTHOR_SHIFT) & 3]!;
  const text = flags & TEXT_NUMBER ? repeated.textOf(units[next++]!) : field(HAS_TEXT);
  const mediaId = field(HAS_MEDIA_ID);
  const summary = field(HAS_SUMMARY);
  return entry(id, at, direction, from, kind.agent, kind.type, { text, mediaId, summary });
}
