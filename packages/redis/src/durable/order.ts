import type { Redis } from 'ioredis';

/**
 * Per-conversation order for jobs that several workers take from shared queues.
 *
 * BullMQ (open source) has no job groups: two workers would happily run a customer's second
 * message while the first is still in the LLM. So every conversation keeps a **timeline** in
 * Redis, a sorted set of the work still open for it, scored in arrival order:
 *
 * - a message gets a sequence number once (`seqOf`, the same on every instance and retry);
 *   its inbound job is entered at `seq * SLOTS`, the n-th active send answering it at
 *   `seq * SLOTS + 1 + n` (so a message's replies follow it and precede the next message's);
 * - a job may run only at its **turn**: an inbound job when no earlier *message* is still
 *   open (the conversation's messages run one at a time, in order, while earlier replies may
 *   still be on their way); a send when nothing is before it but the inbound job of the
 *   message it answers (that run is what produces it), so replies go out in order;
 * - a job that is not at its turn goes back to BullMQ's delayed set for a moment; a job that
 *   finished (or failed for good) leaves the timeline, and the next one's turn comes.
 *
 * An entry whose job no longer exists (a crash between entering and queueing, a job removed
 * by hand) would block the conversation forever: whoever finds it at the head checks the job
 * and removes the entry (`blockers` + `leave`). Different conversations never wait for each
 * other.
 */
export class ConversationOrder {
  /** Room for the sends of one message between it and the next message. */
  static readonly SLOTS = 1024;
  /** How long a timeline lives after its last entry came (a day). */
  static readonly TTL_MS = 24 * 3600_000;
  readonly #redis: Redis;
  readonly #prefix: string;

  constructor(redis: Redis, prefix: string) {
    this.#redis = redis;
    this.#prefix = prefix;
    redis.defineCommand('wxbotSeqOf', { numberOfKeys: 2, lua: SEQ_OF });
    redis.defineCommand('wxbotBlockers', { numberOfKeys: 1, lua: BLOCKERS });
    redis.defineCommand('wxbotEnterPage', { lua: ENTER_PAGE });
  }

  /** The arrival number of message `messageKey` (assigned on first call, kept a day). */
  async seqOf(messageKey: string): Promise<number> {
    const seq = await (this.#redis as RedisWithScripts).wxbotSeqOf(`${this.#prefix}seq:${messageKey}`, `${this.#prefix}seq`, String(DAY_MS));
    return Number(seq);
  }

  /**
   * A page of messages, in one command: each message's arrival number (as {@link seqOf}) and
   * its entry entered at `seq * SLOTS` (as {@link enter}). Returns the numbers, in order.
   * (A pipeline of a command per message cost the process more than the page's jobs did.)
   */
  async enterPage(items: readonly { messageKey: string; conversation: string; entry: string }[]): Promise<number[]> {
    if (items.length === 0) return [];
    const keys = [`${this.#prefix}seq`];
    for (const { messageKey } of items) keys.push(`${this.#prefix}seq:${messageKey}`);
    for (const { conversation } of items) keys.push(this.#key(conversation));
    const seqs = await (this.#redis as RedisWithScripts).wxbotEnterPage(keys.length, ...keys, String(DAY_MS), String(ConversationOrder.SLOTS), ...items.map((i) => i.entry));
    return seqs.map(Number);
  }

  /** Enters several entries (conversation, entry, score) in one round trip. */
  async enterMany(entries: readonly { conversation: string; entry: string; score: number }[]): Promise<void> {
    if (entries.length === 0) return;
    const pipeline = this.#redis.pipeline();
    for (const { conversation, entry, score } of entries) pipeline.zadd(this.#key(conversation), 'NX', score, entry);
    for (const conversation of new Set(entries.map((e) => e.conversation))) pipeline.pexpire(this.#key(conversation), DAY_MS);
    for (const [error] of (await pipeline.exec()) ?? []) if (error) throw error;
  }

  /** Enters `entry` at `score` (kept if already there: a retry keeps its place). */
  async enter(conversation: string, entry: string, score: number): Promise<void> {
    // Both written at once (one round trip); a caller may queue more behind them on the connection.
    await Promise.all([this.#redis.zadd(this.#key(conversation), 'NX', score, entry), this.#redis.pexpire(this.#key(conversation), DAY_MS)]);
  }

  /**
   * The entries that must finish before the one at `score` may run (empty: its turn), at most
   * 8. For a send, every earlier entry but the inbound entry of its own message (at
   * `floor(score / SLOTS) * SLOTS`); for an inbound entry, the earlier inbound entries only.
   * `enter`: enters the entry first (as {@link enter}), in the same round trip.
   */
  async blockers(conversation: string, entry: string, score: number, options: { enter?: boolean } = {}): Promise<string[]> {
    const base = Math.floor(score / ConversationOrder.SLOTS) * ConversationOrder.SLOTS;
    const inbound = score === base;
    const own = inbound ? -1 : base;
    return (await (this.#redis as RedisWithScripts).wxbotBlockers(
      this.#key(conversation),
      String(score),
      String(own),
      entry,
      inbound ? '1' : '0',
      String(ConversationOrder.SLOTS),
      options.enter ? String(DAY_MS) : '0',
    )) as string[];
  }

  /** The first `count` entries still open (the ones whose turn may have come). */
  async head(conversation: string, count: number): Promise<string[]> {
    return this.#redis.zrange(this.#key(conversation), '0', String(count - 1));
  }

  /** Removes a finished (or dead) entry. */
  async leave(conversation: string, entry: string): Promise<void> {
    await this.#redis.zrem(this.#key(conversation), entry);
  }

  /** Entries still open for a conversation, in order (tests, `wxbot queue`). */
  async open(conversation: string): Promise<string[]> {
    return this.#redis.zrange(this.#key(conversation), '0', '-1');
  }

  /** The timeline's key (for scripts that read it with other keys in one round trip). */
  keyOf(conversation: string): string {
    return this.#key(conversation);
  }

  #key(conversation: string): string {
    return `${this.#prefix}conv:${conversation}`;
  }
}

const DAY_MS = ConversationOrder.TTL_MS;

type RedisWithScripts = Redis & {
  wxbotSeqOf(key: string, counter: string, ttl: string): Promise<string>;
  wxbotEnterPage(numberOfKeys: number, ...keysThenArgs: string[]): Promise<string[]>;
  wxbotBlockers(key: string, score: string, own: string, entry: string, inboundOnly: string, slots: string, enterTtl: string): Promise<string[]>;
};

/** Get-or-assign: the first caller for a message takes the next number, later ones read it. */
const SEQ_OF = `
local seq = redis.call('GET', KEYS[1])
if seq then return seq end
seq = redis.call('INCR', KEYS[2])
redis.call('SET', KEYS[1], seq, 'PX', ARGV[1])
return tostring(seq)`;

/**
 * SEQ_OF and an entry per message of a page. KEYS: the counter, then n seq keys, then n
 * timelines. ARGV: ttl ms, slots, then n entries. Returns the n arrival numbers.
 */
const ENTER_PAGE = `
local n = (#KEYS - 1) / 2
local slots = tonumber(ARGV[2])
local seqs = {}
local touched = {}
for i = 1, n do
  local seq = redis.call('GET', KEYS[1 + i])
  if not seq then
    seq = redis.call('INCR', KEYS[1])
    redis.call('SET', KEYS[1 + i], seq, 'PX', ARGV[1])
  end
  local timeline = KEYS[1 + n + i]
  redis.call('ZADD', timeline, 'NX', string.format('%d', tonumber(seq) * slots), ARGV[2 + i])
  if not touched[timeline] then
    touched[timeline] = true
    redis.call('PEXPIRE', timeline, ARGV[1])
  end
  seqs[i] = tostring(seq)
end
return seqs`;

/**
 * The turn check, as a Lua fragment that defines `local function blockers(key, score, own,
 * entry, inboundOnly, slots, enterTtl)`: the entries of timeline `key` scored below `score`,
 * except `entry` itself and the one scored exactly `own`; with `inboundOnly` only inbound
 * entries (scores that are multiples of `slots`). At most 8. `enterTtl` (ms) given: enters
 * `entry` at `score` first (kept if there), the key living `enterTtl` ms. Scripts that need
 * the turn (ConversationOrder's `blockers`, the engine's send check) are built from it, so
 * there is one copy of the rule.
 */
export const BLOCKERS_LUA = `
local function blockers(key, score, own, entry, inboundOnly, slots, enterTtl)
  if enterTtl then
    redis.call('ZADD', key, 'NX', score, entry)
    redis.call('PEXPIRE', key, enterTtl)
  end
  local found = redis.call('ZRANGEBYSCORE', key, '-inf', '(' .. score, 'WITHSCORES', 'LIMIT', 0, 512)
  local out = {}
  local ownScore = tonumber(own)
  local slotCount = tonumber(slots)
  for i = 1, #found, 2 do
    local s = tonumber(found[i + 1])
    if found[i] ~= entry and s ~= ownScore and (not inboundOnly or s % slotCount == 0) then
      table.insert(out, found[i])
      if #out >= 8 then break end
    end
  end
  return out
end`;

/**
 * {@link BLOCKERS_LUA} for `ConversationOrder.blockers`. KEYS: timeline. ARGV: score, own,
 * entry, '1' for inbound entries only, slots, ttl to enter the entry first ('0': don't).
 */
const BLOCKERS = `${BLOCKERS_LUA}
return blockers(KEYS[1], ARGV[1], ARGV[2], ARGV[3], ARGV[4] == '1', ARGV[5], ARGV[6] ~= '0' and ARGV[6] or nil)`;
