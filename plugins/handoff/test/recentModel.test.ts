import type { Message, Reply } from '@wxbot/core';
import { image, seededRandom, text } from '@wxbot/testing';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { HistoryEntry } from '../src/entries.ts';
import { EntryLog } from '../src/entryLog.ts';
import { NO_HISTORY, ProcessShelf } from '../src/recent.ts';

/**
 * EntryLog and ProcessShelf against reference models of their documented semantics, driven by
 * long seeded random sequences (lengths up to a segment, logs of one unit to a few segments,
 * conversations written, read, redelivered, expired and deleted; texts with surrogate pairs,
 * lone surrogates, empty; times of every kind).
 *
 * The log's model: absolute positions; a record goes after the last one, or, when it does not
 * fit in what is left of its segment (segments of 2^17 units, the last one shorter), at the
 * start of the next segment or lap; a record at `p` is intact while `p >= head - capacity`, and
 * an intact record's units are exactly as written. Segments are allocated when first reached.
 *
 * The shelf's model: each conversation's entries (with the log positions the log model gives
 * them: an entry's units are 8, its id (2 + its length; 1 + a unit for four digits of an id of
 * 1–64 decimal digits; 4 for a reply's serial number) and
 * 2 + the length of each content string, 1 for a bot's text reply the shelf numbers: see
 * RepeatedModel); it reads its last `size` intact entries; an inbound
 * entry whose id is among the last 10 it reads is not recorded (isRedelivery); it reads as
 * absent `ttlMs` after its last write; past `maxConversations` the least recently written go;
 * one whose newest entry is overwritten is forgotten; an entry larger than a segment or the
 * whole log is not recorded.
 */

afterEach(() => vi.useRealTimers());

const SEGMENT = 2 ** 17;

class LogModel {
  readonly capacity: number;
  head = 0;
  #lapStart = 0;
  readonly #reached = new Set<number>();

  constructor(maxBytes: number) {
    const units = Math.floor(maxBytes / 2);
    this.capacity = units > 0 ? Math.min(units, 2 ** 30) : 0;
  }

  get maxRecordUnits(): number {
    return Math.min(this.capacity, SEGMENT);
  }

  get allocatedBytes(): number {
    let bytes = 0;
    for (const segment of this.#reached) bytes += 2 * Math.min(SEGMENT, this.capacity - segment * SEGMENT);
    return bytes;
  }

  reserve(length: number): number {
    let offset = this.head - this.#lapStart;
    const segmentStart = Math.floor(offset / SEGMENT) * SEGMENT;
    if (offset + length > Math.min(segmentStart + SEGMENT, this.capacity)) {
      offset = segmentStart + SEGMENT;
      if (offset + length > this.capacity) {
        this.#lapStart += this.capacity;
        offset = 0;
      }
    }
    this.#reached.add(Math.floor(offset / SEGMENT));
    this.head = this.#lapStart + offset + length;
    return this.#lapStart + offset;
  }

  intact(position: number): boolean {
    return position >= this.head - this.capacity;
  }
}

describe('EntryLog against a reference model (seeded random sequences)', () => {
  it.each([
    [31, 2, 300],
    [32, 7, 500],
    [33, 101, 3000],
    [34, 4000, 5000],
    [35, 2 * 2 * SEGMENT, 3000],
    [36, 2 * (2 * SEGMENT + 1234) + 1, 3000],
  ])('seed %i: %i bytes, %i records', (seed, maxBytes, records) => {
    const random = seededRandom(seed);
    const log = new EntryLog(maxBytes);
    const model = new LogModel(maxBytes);
    expect(log.maxRecordUnits).toBe(model.maxRecordUnits);
    if (model.capacity === 0) return;
    const written: { position: number; length: number; id: number }[] = [];
    const pattern = (id: number, i: number) => (id * 40_503 + i * 7) & 0xffff;
    const whole = ({ position, length, id }: (typeof written)[number]) => {
      const units = log.segmentOf(position);
      const at = log.indexOf(position);
      if (at + length > units.length) return false; // straddles its segment's end
      for (let i = 0; i < length; i++) if (units[at + i] !== pattern(id, i)) return false;
      return true;
    };
    for (let id = 0; id < records; id++) {
      const r = random();
      const most = model.maxRecordUnits;
      const length = Math.max(
        1,
        Math.min(
          most,
          r < 0.7 ? 1 + Math.floor(random() * 60) : r < 0.9 ? 1 + Math.floor(random() * 2000) : r < 0.97 ? most - Math.floor(random() * 3) : Math.floor(random() * most),
        ),
      );
      const position = log.reserve(length);
      const expected = model.reserve(length);
      if (position !== expected || log.head !== model.head) throw new Error(`seed ${seed}: record ${id} (${length} units) at ${position}, model ${expected}`);
      const units = log.segmentOf(position);
      const at = log.indexOf(position);
      for (let i = 0; i < length; i++) units[at + i] = pattern(id, i);
      written.push({ position, length, id });
      if (log.allocatedBytes !== model.allocatedBytes) throw new Error(`seed ${seed}: ${log.allocatedBytes} bytes allocated, model ${model.allocatedBytes}`);
      // Some earlier records: intact as the model says, and then whole.
      for (let k = 0; k < 3; k++) {
        const record = written[Math.floor(random() * written.length)]!;
        const intact = log.intact(record.position);
        if (intact !== model.intact(record.position)) throw new Error(`seed ${seed}: record ${record.id} intact ${intact}, model ${!intact}`);
        if (intact && !whole(record)) throw new Error(`seed ${seed}: record ${record.id} intact but not whole`);
      }
    }
    for (const record of written)
      expect([log.intact(record.position), model.intact(record.position) && whole(record)]).toEqual([model.intact(record.position), model.intact(record.position)]);
    expect(log.allocatedBytes).toBeLessThanOrEqual(maxBytes);
  });
});

interface ModelEntry {
  /** undefined: a reply's id, made by the shelf (taken from its first read, the same ever after). */
  id: string | undefined;
  readonly at: number;
  readonly direction: 'in' | 'out';
  readonly from: 'user' | 'bot' | 'agent';
  readonly agent: string | undefined;
  readonly type: string;
  readonly text: string | undefined;
  readonly mediaId: string | undefined;
  readonly summary: string | undefined;
  position: number;
}

/**
 * Which of the bot's text replies the shelf writes as a number: a text of at most 1 024 units
 * found among the last 4 distinct texts looked for and not found, numbered at that second
 * sighting while fewer than 256 are numbered; a numbered text still takes its number only
 * when found there.
 */
class RepeatedModel {
  readonly #recent: string[] = [];
  readonly #numbered = new Set<string>();

  numbered(text: string): boolean {
    if (text.length > 1024) return false;
    if (this.#recent.includes(text)) {
      if (this.#numbered.size < 256) this.#numbered.add(text);
      return this.#numbered.has(text);
    }
    this.#recent.push(text);
    if (this.#recent.length > 4) this.#recent.shift();
    return false;
  }
}

class ShelfModel {
  readonly log: LogModel;
  readonly repeated = new RepeatedModel();
  /** In the order last written (a Map keeps insertion order). */
  readonly conversations = new Map<string, { entries: ModelEntry[]; lastAt: number }>();

  constructor(readonly options: { size: number; ttlMs: number; maxConversations: number; maxBytes: number }) {
    this.log = new LogModel(options.maxBytes);
  }

  #live(id: string, now: number) {
    const conversation = this.conversations.get(id);
    if (conversation && now - conversation.lastAt > this.options.ttlMs) {
      this.conversations.delete(id);
      return undefined;
    }
    return conversation;
  }

  read(id: string, now: number): ModelEntry[] | undefined {
    const conversation = this.#live(id, now);
    return conversation?.entries.filter((entry) => this.log.intact(entry.position)).slice(-this.options.size);
  }

  /** `numbered`: the text takes one unit (a bot's repeated text reply). */
  write(conversationId: string, entry: ModelEntry, now: number, numbered = false): void {
    let conversation = this.#live(conversationId, now);
    if (
      conversation &&
      entry.direction === 'in' &&
      entry.id !== undefined &&
      this.read(conversationId, now)!
        .slice(-10)
        .some((e) => e.id === entry.id)
    )
      return;
    const units =
      8 +
      (entry.id === undefined ? 4 : /^[0-9]{1,64}$/.test(entry.id) ? 1 + Math.ceil(entry.id.length / 4) : 2 + entry.id.length) +
      (numbered ? 1 : 0) +
      [numbered ? undefined : entry.text, entry.mediaId, entry.summary].reduce((sum, s) => sum + (s === undefined ? 0 : 2 + s.length), 0);
    if (units > this.log.maxRecordUnits) return;
    entry.position = this.log.reserve(units);
    if (conversation) this.conversations.delete(conversationId);
    else conversation = { entries: [], lastAt: now };
    conversation.entries.push(entry);
    if (conversation.entries.length > this.options.size) conversation.entries.shift();
    conversation.lastAt = now;
    this.conversations.set(conversationId, conversation);
    for (const id of this.conversations.keys()) {
      if (this.conversations.size <= this.options.maxConversations) break;
      this.conversations.delete(id);
    }
    for (const [id, { entries }] of this.conversations) if (!this.log.intact(entries.at(-1)!.position)) this.conversations.delete(id);
  }
}

const COLLIDING_IDS = ['Aa', 'BB', 'AaAa', 'AaBB', 'BBAa', 'BBBB'];
/**
 * Ids of decimal digits (WeChat's msgids), which the shelf writes packed: lengths around a unit's
 * four digits, up to one past the longest it packs, leading zeros; '02' and '/Q' have equal
 * fingerprints, a digit id and a string id compared in the log; ids that differ in one digit of
 * each of their units (as packed, four digits a unit), in the last one only, in a partly filled
 * last unit; msgids of equal fingerprints (found by a random search), whose packed digits the
 * look-back then compares in the log.
 */
const DIGIT_IDS = [
  '0',
  '9',
  '007',
  '18',
  '2470',
  '98765',
  '1234567890',
  '7000000000000000017',
  '70000000000000000171',
  '1'.repeat(64),
  '1'.repeat(65),
  '02',
  '/Q',
  '7000000000000000018',
  '7000000010000000017',
  '8000000000000000017',
  '98766',
  '18765',
  '7553425737631261022',
  '7916411903719013724',
  '7631524304855997842',
  '7641884662418798142',
];
/** The bot's canned reply texts: more than the shelf looks back over, one longer than it numbers, one empty. */
const CANNED = ['没听懂，您可以问我：营业时间、价格', '好的', '', 'x'.repeat(1025), 'y'.repeat(1024), '您好😀', 'a\ud800b'];

/** Strings of every kind of UTF-16: ASCII, Chinese, surrogate pairs, lone surrogates, empty. */
function stringOf(random: () => number, length: number): string {
  const pieces = ['a', 'Z', '0', '长', '😀', '\ud800', '\udc00', ' ', '\u0000', '\uffff'];
  let out = '';
  while (out.length < length) out += pieces[Math.floor(random() * pieces.length)];
  return out.slice(0, length);
}

interface Run {
  seed: number;
  maxBytes: number;
  size: number;
  maxConversations: number;
  ttlMs: number;
  conversations: number;
  steps: number;
  /** How long texts get. */
  textUnits: number;
}

function driveShelf({ seed, maxBytes, size, maxConversations, ttlMs, conversations, steps, textUnits }: Run): void {
  vi.useFakeTimers({ toFake: ['Date'] });
  vi.setSystemTime(1_700_000_000_000);
  const random = seededRandom(seed);
  const pick = <T>(from: readonly T[]): T => from[Math.floor(random() * from.length)]!;
  const options = { size, ttlMs, maxConversations, maxBytes };
  const shelf = new ProcessShelf(options);
  const model = new ShelfModel(options);
  const ids = Array.from({ length: conversations }, (_, i) => `oa:user${i}`);
  const maybe = (chance: number, make: () => string) => (random() < chance ? make() : undefined);
  const textOf = () => {
    const length = random() < 0.9 ? Math.floor(random() * 40) : Math.floor(random() * textUnits);
    return length <= 64
      ? stringOf(random, length)
      : stringOf(random, 64)
          .repeat(Math.ceil(length / 64))
          .slice(0, length);
  };
  const replyIds = new Set<string>();

  const compare = (conversationId: string) => {
    const got = shelf.read(conversationId);
    const want = model.read(conversationId, Date.now());
    const fail = (what: string) => {
      throw new Error(`seed ${seed}: ${conversationId} ${what}: ${JSON.stringify(got?.map((e) => e.id))}, model ${JSON.stringify(want?.map((e) => e.id))}`);
    };
    if ((got === undefined) !== (want === undefined)) fail('absent or not');
    if (!got || !want) return;
    if (got.length !== want.length) fail('length');
    for (const [i, entry] of got.entries()) {
      const expected = want[i]!;
      if (expected.id === undefined) {
        // A reply's id, made by the shelf: new, and the same at every read.
        if (replyIds.has(entry.id)) fail(`reply id ${entry.id} seen before`);
        replyIds.add(entry.id);
        expected.id = entry.id;
      }
      const { position: _, ...fields } = expected;
      if (!sameEntry(entry, fields)) fail(`entry ${i} ${JSON.stringify(entry)} vs ${JSON.stringify(fields)}`);
    }
  };

  for (let step = 0; step < steps; step++) {
    const conversationId = pick(ids);
    const now = Date.now();
    const r = random();
    if (r < 0.1) vi.setSystemTime(now + Math.floor(random() * (random() < 0.05 ? 2 * ttlMs : 300)));
    else if (r < 0.105) {
      // To the last millisecond of a conversation's TTL, or the first past it.
      const lastAt = model.conversations.get(conversationId)?.lastAt;
      if (lastAt !== undefined && lastAt + ttlMs >= now && ttlMs < 1e8) vi.setSystemTime(lastAt + ttlMs + (random() < 0.5 ? 0 : 1));
    } else if (r < 0.3) compare(conversationId);
    else if (r < 0.31) {
      shelf.delete(conversationId);
      model.conversations.delete(conversationId);
    } else if (r < 0.55) {
      // A user's text message, straight from it; ids from a small pool: redeliveries.
      // '' too, and ids of equal fingerprints (Java's String hash: 'Aa' and 'BB'): then compared in the log.
      const id = random() < 0.05 ? '' : random() < 0.2 ? pick(COLLIDING_IDS) : random() < 0.3 ? pick(DIGIT_IDS) : `m${Math.floor(random() * 30)}`;
      const time = pick([now - 5000, 0, 1_600_000_000_000, Number.NaN]);
      const body = textOf();
      shelf.appendMessage(conversationId, { ...text(body, { id, from: 'u' }), time: new Date(time) } as Message);
      model.write(conversationId, entryOf(id, time || now, 'in', 'user', undefined, 'text', body, undefined, undefined), now);
    } else if (r < 0.6) {
      const id = `m${Math.floor(random() * 30)}`;
      const mediaId = stringOf(random, Math.floor(random() * 20));
      shelf.appendMessage(conversationId, { ...image(mediaId, { id, from: 'u' }), time: new Date(now - 1) } as Message);
      model.write(conversationId, entryOf(id, now - 1, 'in', 'user', undefined, 'image', undefined, mediaId, undefined), now);
    } else if (r < 0.8) {
      // The bot's text or markdown reply, or an agent's, or an image. Half of the texts canned
      // ones, as a bot's fallback and FAQ answers: repeated (the shelf numbers them).
      const kind = Math.floor(random() * 4);
      const body = random() < 0.5 ? pick(CANNED) : textOf();
      const reply: Reply = kind === 3 ? { type: 'image', mediaId: body } : { type: kind === 1 ? 'markdown' : 'text', text: body };
      const from = kind === 2 ? 'agent' : 'bot';
      const agent = kind === 2 ? pick(['alice', '', 'bob']) : undefined;
      shelf.appendReply(conversationId, reply, from, agent);
      model.write(
        conversationId,
        entryOf(undefined, now, 'out', from, agent || undefined, reply.type, kind === 3 ? undefined : body, kind === 3 ? body : undefined, undefined),
        now,
        from === 'bot' && kind < 2 && model.repeated.numbered(body),
      );
    } else {
      // Any entry, as History.append gives one: ids of any characters, times of any kind, any fields.
      const direction = random() < 0.6 ? 'in' : 'out';
      const from = direction === 'in' ? 'user' : pick(['bot', 'agent'] as const);
      const agent = from === 'agent' ? pick(['alice', '', undefined]) : undefined;
      const id =
        random() < 0.5 ? `m${Math.floor(random() * 30)}` : random() < 0.3 ? pick(DIGIT_IDS) : random() < 0.5 ? pick(COLLIDING_IDS) : stringOf(random, Math.floor(random() * 12));
      const at = pick([now, 1_700_000_000_123.5, -0, Number.NaN, 4_102_444_800_000.25, Number.MAX_VALUE, -1]);
      const entry = entryOf(id, at, direction, from, agent, pick(['text', 'voice', 'file', 'location']), maybe(0.7, textOf), maybe(0.3, textOf), maybe(0.3, textOf));
      const { position: _, ...fields } = entry;
      shelf.append(conversationId, fields as HistoryEntry);
      model.write(conversationId, entry, now);
    }
    if (step % 500 === 0) for (const id of ids) compare(id);
  }
  for (const id of ids) compare(id);
  // The new conversations' look-back sentinel, shared by every shelf, is as it was made.
  expect([NO_HISTORY.last, NO_HISTORY.count, NO_HISTORY.written, NO_HISTORY.fingerprints[0]]).toEqual([0, 1, 1, -2]);
  expect(shelf.allocatedBytes).toBe(model.log.allocatedBytes);
  expect(shelf.allocatedBytes).toBeLessThanOrEqual(Math.max(0, maxBytes));
}

function entryOf(
  id: string | undefined,
  at: number,
  direction: 'in' | 'out',
  from: 'user' | 'bot' | 'agent',
  agent: string | undefined,
  type: string,
  text: string | undefined,
  mediaId: string | undefined,
  summary: string | undefined,
): ModelEntry {
  return { id, at, direction, from, agent, type, text, mediaId, summary, position: -1 };
}

function sameEntry(entry: HistoryEntry, expected: Omit<ModelEntry, 'position'>): boolean {
  return (
    entry.id === expected.id &&
    Object.is(entry.at, expected.at) &&
    entry.direction === expected.direction &&
    entry.from === expected.from &&
    entry.agent === expected.agent &&
    entry.type === expected.type &&
    entry.text === expected.text &&
    entry.mediaId === expected.mediaId &&
    entry.summary === expected.summary
  );
}

describe('ProcessShelf against a reference model (seeded random sequences)', () => {
  const runs: Run[] = [
    { seed: 41, maxBytes: 4096, size: 5, maxConversations: 100, ttlMs: 3600_000, conversations: 8, steps: 8000, textUnits: 600 },
    { seed: 42, maxBytes: 1000, size: 1, maxConversations: 3, ttlMs: 5000, conversations: 6, steps: 5000, textUnits: 500 },
    { seed: 43, maxBytes: 40_000, size: 50, maxConversations: 20, ttlMs: 60_000, conversations: 40, steps: 10_000, textUnits: 3000 },
    { seed: 44, maxBytes: 60_000, size: 12, maxConversations: 100_000, ttlMs: 10_000, conversations: 5, steps: 8000, textUnits: 200 },
    { seed: 45, maxBytes: 2 * (2 * SEGMENT + 999), size: 10, maxConversations: 100_000, ttlMs: 1e9, conversations: 200, steps: 8000, textUnits: SEGMENT },
    { seed: 46, maxBytes: 0, size: 10, maxConversations: 10, ttlMs: 1e9, conversations: 3, steps: 500, textUnits: 10 },
  ];
  it.each(runs)('seed $seed: $maxBytes bytes, size $size, $maxConversations conversations at most, TTL $ttlMs ms', (run) => driveShelf(run));
});

describe("the new conversations' look-back sentinel (NO_HISTORY)", () => {
  it('is read-only by its type: writing any of its fields does not typecheck (npm run typecheck fails without the errors below)', () => {
    const writes = (sentinel: typeof NO_HISTORY) => {
      // @ts-expect-error: read-only
      sentinel.count = 0;
      // @ts-expect-error: read-only
      sentinel.written = 0;
      // @ts-expect-error: read-only
      sentinel.last = 5;
      // @ts-expect-error: read-only
      sentinel.fingerprints[0] = 7;
    };
    // Never run: the check is the compiler's (`npm test` typechecks first); each expected
    // error above becomes an error of its own once its write is allowed.
    void writes;
    expect([NO_HISTORY.last, NO_HISTORY.count, NO_HISTORY.written, NO_HISTORY.fingerprints[0]]).toEqual([0, 1, 1, -2]);
  });
});
