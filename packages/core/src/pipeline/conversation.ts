import { AsyncLocalStorage } from 'node:async_hooks';
import type { Logger } from 'pino';
import type { Message } from '../message/types.ts';
import type { Store } from '../store/types.ts';

/**
 * The conversation a message belongs to, as a store key part: the group chat when there is
 * one, else the sender, on one channel (and one KF account, which is its own conversation).
 */
export function conversationKey(message: Message): string {
  const where = message.openKfId ? `${message.channel.name}@${message.openKfId}` : message.channel.name;
  return message.chat?.type === 'group' && message.chat.id ? `${where}:group:${message.chat.id}` : `${where}:${message.from}`;
}

/** How long `withConversation` holds a conversation's lock, and how long a message waits for it. */
export interface ConversationLockOptions {
  /**
   * Longest one message may hold its conversation (ms, default 60 000). A crashed instance's
   * lock frees itself after this; a handler that runs longer lets the next message in.
   */
  lockTtlMs?: number;
  /** Longest a message waits for its conversation before it goes on unlocked (default `lockTtlMs`). */
  waitMs?: number;
}

/** What the holder of a conversation shares with nested runs (a transcript redispatched, say). */
export interface ConversationScope {
  readonly key: string;
  /** Values loaded by the outermost holder (a session), reused by nested ones. */
  readonly shared: Map<string, unknown>;
}

const DEFAULT_LOCK_TTL_MS = 60_000;
/** The conversations the current async call chain holds. */
const held = new AsyncLocalStorage<ReadonlyMap<string, ConversationScope>>();
/** In-process turns per store and conversation, so local messages queue without polling the store. */
const queues = new WeakMap<Store, Map<string, Promise<void>>>();

/**
 * Runs `fn` while holding the conversation `key`: messages of one conversation take turns,
 * in this process (a queue, in arrival order) and across instances sharing the store (a
 * store lock, polled). Nested calls for a conversation already held by the calling chain (a
 * redispatched transcript, a session inside a dialog) run at once, sharing the scope, instead
 * of waiting for themselves.
 *
 * Never loses a message: if the lock cannot be had within `waitMs`, or the store fails,
 * `fn` runs anyway and a warning says so.
 */
export async function withConversation<T>(store: Store, key: string, log: Logger, fn: (scope: ConversationScope) => Promise<T>, options: ConversationLockOptions = {}): Promise<T> {
  const current = held.getStore();
  const mine = current?.get(key);
  if (mine) return fn(mine);

  let perStore = queues.get(store);
  if (!perStore) queues.set(store, (perStore = new Map()));
  const previous = perStore.get(key);
  let endTurn!: () => void;
  const turn = new Promise<void>((resolve) => (endTurn = resolve));
  const tail = previous ? previous.then(() => turn) : turn;
  perStore.set(key, tail);
  try {
    if (previous) await previous;
    const ttl = options.lockTtlMs ?? DEFAULT_LOCK_TTL_MS;
    const unlock = await takeStoreLock(store, `lock:conversation:${key}`, ttl, options.waitMs ?? ttl, log);
    try {
      const scope: ConversationScope = { key, shared: new Map() };
      const holding = new Map(current ?? []);
      holding.set(key, scope);
      return await held.run(holding, () => fn(scope));
    } finally {
      await unlock?.().catch((error: unknown) => log.warn({ err: error, conversation: key }, 'conversation lock release failed; it frees itself at its TTL'));
    }
  } finally {
    endTurn();
    if (perStore.get(key) === tail) perStore.delete(key);
  }
}

/** Polls the store lock with a growing pause (10 ms up to 200 ms) until it is ours or `waitMs` passed. */
async function takeStoreLock(store: Store, lockKey: string, ttlMs: number, waitMs: number, log: Logger): Promise<(() => Promise<void>) | undefined> {
  const deadline = Date.now() + waitMs;
  let pause = 10;
  for (;;) {
    try {
      const release = await store.lock(lockKey, ttlMs);
      if (release) return release;
    } catch (error) {
      log.warn({ err: error, lock: lockKey }, 'conversation lock unavailable (store failed); going on without it');
      return undefined;
    }
    if (Date.now() >= deadline) {
      log.warn({ lock: lockKey, waitedMs: waitMs }, 'conversation still busy after the wait; going on without its lock');
      return undefined;
    }
    await new Promise((resolve) => setTimeout(resolve, pause));
    pause = Math.min(pause * 2, 200);
  }
}
