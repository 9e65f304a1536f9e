import { getJson, setJson, type ChannelKind, type Message, type Recipient, type Store } from '@wxbot/core';
import type { KeyedLocks } from './locks.ts';

/**
 * Who answers a conversation: the bot, nobody yet (handed off, waiting for an agent), or an
 * agent. `waiting` and `agent` are "held": the user's messages skip the bot.
 */
export type ConversationStatus = 'bot' | 'waiting' | 'agent';

/** A conversation the agents can see, as kept in the store and sent to them. */
export interface Conversation {
  /** `channel/openKfId/user`, each part URI-encoded. */
  readonly id: string;
  /** The bot's channel name (for `bot.sendTo`). */
  readonly channel: string;
  readonly channelKind: ChannelKind;
  /** openid, WeCom userid or KF external_userid. */
  readonly user: string;
  /** KF: the account the customer talks to. */
  readonly openKfId?: string;
  /** WeCom app: the agent id the user wrote to. */
  readonly agentId?: string;
  status: ConversationStatus;
  /** The agent holding it, when `status` is `agent`. */
  agent?: string;
  /** The user's name where the platform gives one (OA remark, KF nickname); the console shows it. */
  displayName?: string;
  /** Why it was handed off (from `ctx.handoff({ reason })`). */
  reason?: string;
  /** KF: the session state this plugin last knew (0–4), when it moved it or saw it moved. */
  kfState?: number;
  /** KF: the WeCom servicer userid of state 3. */
  servicer?: string;
  /** User messages no agent has looked at yet. */
  unread: number;
  /** The last message, shortened, for the list. */
  preview?: string;
  readonly openedAt: number;
  lastMessageAt: number;
}

/** The id of the conversation a message belongs to: channel, KF account and user. */
export function conversationIdOf(message: Message): string {
  return conversationId(message.channel.name, message.from, message.openKfId);
}

/**
 * The id of a conversation from its channel name, user and KF account. Joined, not a template:
 * a template makes a chain of concatenations that every Map lookup of the id (one to three a
 * message) compares character by character through V8's slow path, and that a history keeps
 * alive with its parts (the user's id, a slice of its message); a join is one flat string.
 *
 * A user who wrote recently gets the id made for them then ({@link madeIds}): one lookup by the
 * user instead of three escape checks and a join (~1.5k instructions a message, callgrind), and
 * the same string every time, whose hash V8 keeps and which the plugin's maps then find by
 * identity instead of comparing characters.
 */
export function conversationId(channel: string, user: string, openKfId?: string): string {
  const last = lastId;
  if (user === last.user && channel === last.channel && openKfId === last.openKfId) return last.id;
  // Every comparison made for every user, a user with none comparing {@link NOT_MADE}'s: they
  // then have type feedback when the first user writes again. Skipped for new users, they were
  // code TurboFan had never seen run, and deoptimized this, conversationIdOf and onUserMessage
  // at the bench traffic's first repeat user (message 5 001).
  let made = madeIds.get(user) ?? NOT_MADE;
  const none = made === NOT_MADE;
  const sameChannel = made.channel === channel;
  const sameKfAccount = made.openKfId === openKfId;
  if (none || !sameChannel || !sameKfAccount) {
    made = { channel, openKfId, id: [escapePart(channel), openKfId ? escapePart(openKfId) : '', escapePart(user)].join('/') };
    if (madeIds.size >= MAX_MADE_IDS) madeIds.clear();
    madeIds.set(user, made);
  }
  last.channel = channel;
  last.user = user;
  last.openKfId = openKfId;
  last.id = made.id;
  return made.id;
}

/**
 * The id {@link conversationId} made last, and of what: the bot's reply to a message most often
 * comes right after it, and its id is then this one without a lookup.
 */
const lastId: { channel: string; user: string; openKfId: string | undefined; id: string } = { channel: '', user: '', openKfId: undefined, id: '//' };

/**
 * Ids made for users who wrote recently, by user (one user per entry: a user of two channels or
 * KF accounts in turn has theirs made again). Bounded: at {@link MAX_MADE_IDS} users it starts
 * over empty: ~2.9 MB at most with 28-character openids (~175 B a user: its entry, the user's id
 * and the conversation id, which the in-process histories keep anyway; measured after GC). More
 * users than that in turn find none: a lookup and an entry more than the join alone.
 */
const madeIds = new Map<string, { readonly channel: string; readonly openKfId: string | undefined; readonly id: string }>();
const MAX_MADE_IDS = 16_384;
/** No id made ({@link conversationId}): the shape of those made, from the same literal's fields in the same order. */
const NOT_MADE: { readonly channel: string; readonly openKfId: string | undefined; readonly id: string } = { channel: '', openKfId: undefined, id: '' };

/**
 * encodeURIComponent, skipped for the usual ids (openids, KF ids) that it leaves unchanged:
 * letters, digits and `_.~-`, told by a loop (a RegExp test was ~160 instructions a part, callgrind).
 */
function escapePart(part: string): string {
  for (let i = 0; i < part.length; i++) {
    const c = part.charCodeAt(i);
    const safe = (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || (c >= 0x30 && c <= 0x39) || c === 0x5f || c === 0x2e || c === 0x7e || c === 0x2d;
    if (!safe) return encodeURIComponent(part);
  }
  return part;
}

/** Where an agent's answer goes. */
export function recipientOfConversation(conversation: Conversation): Recipient {
  return {
    user: conversation.user,
    ...(conversation.openKfId && { openKfId: conversation.openKfId }),
    ...(conversation.agentId && { agentId: conversation.agentId }),
  };
}

export const isHeld = (conversation: Conversation | undefined): boolean => conversation !== undefined && conversation.status !== 'bot';

const OPEN_KEY = 'handoff:open';
const recordKey = (id: string) => `handoff:conv:${id}`;
const heldKey = (id: string) => `handoff:held:${id}`;

/**
 * The conversations agents see ("open"), in the store so that every instance shares them:
 *
 * - `handoff:conv:<id>`: the {@link Conversation} record;
 * - `handoff:held:<id>`: present while a human holds it, with a TTL of the idle timeout, so a
 *   conversation everyone forgot goes back to the bot even if no instance is left to notice;
 * - `handoff:open`: the ids of the open conversations (the store cannot list keys).
 *
 * Callers change a conversation inside {@link ConversationStore.update}, which holds its lock.
 */
export class ConversationStore {
  /**
   * With `local` (a store only this process writes: memory, the hand-off state file), the ids
   * that may have a record: read once from the open list, then kept in step by {@link save} and
   * {@link remove}. Every message of every user asks whether its conversation has a record, and
   * nearly always none does: this answers that without a store read. Undefined until read (or
   * over a shared store, where another instance may open a conversation at any time).
   */
  #known: Set<string> | undefined;
  /** Ids saved before the open list was read (an id reaches that list only after its record). */
  #savedEarly: string[] | undefined;
  #loading = false;

  constructor(
    private readonly store: Store,
    private readonly locks: KeyedLocks,
    private readonly options: { idleTimeoutMs: number; recordTtlMs: number; local?: boolean },
  ) {
    if (options.local) this.#savedEarly = [];
  }

  get(id: string): Promise<Conversation | undefined> {
    return getJson<Conversation>(this.store, recordKey(id));
  }

  /**
   * True when `id` surely has no record, known without reading the store (a local store whose
   * open list has been read); false means "read it" ({@link get}). Synchronous: the common case
   * of a message costs no promise.
   */
  surelyAbsent(id: string): boolean {
    const known = this.#known;
    if (known) return !known.has(id);
    if (this.options.local && !this.#loading) this.#load();
    return false;
  }

  /** Reads the open list once into {@link #known}; on failure the store is read per message until it works. */
  #load(): void {
    this.#loading = true;
    this.openIds().then(
      (ids) => {
        this.#known = new Set([...ids, ...(this.#savedEarly ?? [])]);
        this.#savedEarly = undefined;
      },
      () => {
        // The state cannot be read now (the per-message read says so in the log): try again later.
        this.#loading = false;
      },
    );
  }

  /** Whether the hold of a conversation is still alive (its idle timer has not run out). */
  async holdAlive(id: string): Promise<boolean> {
    return (await this.store.get(heldKey(id))) !== undefined;
  }

  /**
   * Reads, changes and saves a conversation under its lock. `change` gets the current record
   * (undefined when there is none) and returns the new one, or undefined to leave it as is.
   * Returns what is stored afterwards.
   */
  async update(id: string, change: (current: Conversation | undefined) => Conversation | undefined | Promise<Conversation | undefined>): Promise<Conversation | undefined> {
    return this.locks.run(recordKey(id), async () => {
      const current = await this.get(id);
      const next = await change(current === undefined ? undefined : { ...current });
      if (!next) return current;
      await this.save(next);
      return next;
    });
  }

  /** Saves a record and keeps the hold marker in step with its status (refreshing its TTL). */
  async save(conversation: Conversation): Promise<void> {
    this.#known?.add(conversation.id);
    this.#savedEarly?.push(conversation.id);
    await setJson(this.store, recordKey(conversation.id), conversation, Math.max(this.options.recordTtlMs, this.options.idleTimeoutMs * 2));
    if (isHeld(conversation)) await this.store.set(heldKey(conversation.id), conversation.agent ?? '-', this.options.idleTimeoutMs);
    else await this.store.delete(heldKey(conversation.id));
  }

  /** Forgets a conversation (its history stays until it expires). */
  async remove(id: string): Promise<void> {
    await this.store.delete(heldKey(id));
    await this.store.delete(recordKey(id));
    await this.#changeOpen((ids) => ids.filter((x) => x !== id));
    this.#known?.delete(id);
  }

  /** Adds a conversation to the open list; true when it was not there. */
  async addOpen(id: string): Promise<boolean> {
    let added = false;
    await this.#changeOpen((ids) => {
      if (ids.includes(id)) return ids;
      added = true;
      return [...ids, id];
    });
    return added;
  }

  async openIds(): Promise<string[]> {
    return (await getJson<string[]>(this.store, OPEN_KEY)) ?? [];
  }

  /** The open conversations, newest activity first; ids whose record expired are dropped. */
  async listOpen(): Promise<Conversation[]> {
    const ids = await this.openIds();
    const records = await Promise.all(ids.map((id) => this.get(id)));
    const missing = ids.filter((_, i) => records[i] === undefined);
    if (missing.length > 0) await this.#changeOpen((current) => current.filter((id) => !missing.includes(id)));
    return records.filter((c): c is Conversation => c !== undefined).sort((a, b) => b.lastMessageAt - a.lastMessageAt);
  }

  async #changeOpen(change: (ids: string[]) => string[]): Promise<void> {
    await this.locks.run(OPEN_KEY, async () => {
      const ids = await this.openIds();
      const next = change(ids);
      if (next !== ids) await setJson(this.store, OPEN_KEY, next);
    });
  }
}
