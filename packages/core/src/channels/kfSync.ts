import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import type { WeChatApiClient } from '../api/client.ts';
import { WeChatApiError } from '../api/errors.ts';
import { kfApi } from '../api/kf.ts';
import { messageFromKf, type KfMessageItem } from '../message/fromKf.ts';
import type { ChannelRef, Message } from '../message/types.ts';
import { holdLock } from '../store/lease.ts';
import type { Store } from '../store/types.ts';

export interface KfSyncOptions {
  client: WeChatApiClient;
  /** Shared state: the sync lock and the "sync again" flag. */
  store: Store;
  /**
   * Durable state per open_kfid: `next_cursor` and the "answered" marks of messages on pages
   * whose cursor is not saved yet (file or Redis, so restarts resume).
   */
  cursorStore: Store;
  /**
   * Shared store that other instances sync from too (Redis), or undefined in a single process.
   * When set, a message is claimed there before it is handed over, so two instances never run
   * it at once; a claim left by a dead instance expires after {@link CLAIM_TTL_MS}.
   */
  claimStore?: Store;
  log: Logger;
  channel: ChannelRef;
  /**
   * Hands a message over. The returned promise settles when the message is answered (or its
   * handling failed and was logged): only then is it marked done and may the cursor pass it.
   */
  dispatch(message: Message): Promise<void>;
  /**
   * Takes over a whole page instead of `dispatch` (the durable engine enqueues it as jobs):
   * resolves once every message is stored safely; the cursor is saved right after.
   */
  handOverPage?(messages: readonly Message[]): Promise<void>;
  /** sync_msg page size (1..1000, default 1000). */
  limit?: number;
  /** Told the age of each message handed over (metrics). */
  onLag?(seconds: number): void;
  /** Sync lock TTL in ms, renewed every third of it while held (default 15 s). */
  lockTtlMs?: number;
  /** First retry delay after a failed sync, doubling up to 60 s (default 1 s). */
  retryBaseMs?: number;
  /** What a pass with no saved cursor does with messages sent before it: see {@link KfEmptyCursor}. */
  emptyCursor?: KfEmptyCursor;
  /** Told each time WeChat rejected a saved cursor and it was dropped (metrics). */
  onCursorDropped?(): void;
}

/**
 * What a sync does when it finds no saved cursor for an account: a first start, or a store
 * that lost its data (a Redis restarted empty, a deleted cursor file). `sync_msg` without a
 * cursor returns the account's last 3 days, and the "answered" marks are gone too.
 *
 * - `'now'` (default): start from now. Messages sent more than {@link EMPTY_CURSOR_GRACE_S}
 *   seconds before the notification that started the sync are skipped (counted in one
 *   warning), the cursor is saved past them, and only newer ones are answered. After a Redis
 *   wipe at most that last minute can be answered twice; nothing older is answered again.
 * - `'history'`: answer every message `sync_msg` returns (up to 3 days back), as a bot that
 *   must not miss what customers wrote before it was deployed would. After a wipe this answers
 *   those 3 days again.
 */
export type KfEmptyCursor = 'now' | 'history';

/** With `emptyCursor: 'now'`, how far before the notification messages are still answered. */
export const EMPTY_CURSOR_GRACE_S = 60;

/**
 * WeCom's 分页查询的游标无效 (global errcode list, doc 90313): sync_msg refuses the cursor (one
 * too old, or not from this account). Retrying it can never work.
 */
export const INVALID_CURSOR_ERRCODE = 50100;

interface SyncState {
  again: boolean;
  token: string | undefined;
  done: Promise<void>;
  /** Epoch seconds of the notification that started this sync. */
  since: number;
}

/** Per open_kfid: where this process has read to, and the pages not yet answered. */
interface Progress {
  /** next_cursor of the last page fetched (ahead of the saved cursor while pages are open). */
  fetched: string | undefined;
  /** Pages fetched whose cursor is not saved yet. */
  openPages: number;
  /** Saves cursors in page order. Never rejects. */
  commits: Promise<void>;
  /** Bumped when a rejected cursor is dropped: commits of pages read before then save nothing. */
  generation: number;
}

/** How long an "answered" mark lives if its page is never committed (it is deleted when it is). */
const DONE_TTL_MS = 3 * 24 * 3600_000;
/** How long a claim by another instance holds a message (longer than any sane handler). */
export const CLAIM_TTL_MS = 10 * 60_000;
/** Short, renewed while held: a dead instance's lock frees up within this. */
const LOCK_TTL_MS = 15_000;
/** The "sync again" flag outlives any pass: only its pickup (or a takeover) clears it. */
const AGAIN_TTL_MS = 10 * 60_000;
const WAIT_POLL_MS = 250;
const RETRY_MAX_MS = 60_000;

/**
 * Pulls KF messages after a `kf_msg_or_event` notification: `kf/sync_msg` from the saved
 * cursor, page after page while `has_more`. One sync at a time per open_kfid, in this
 * process and (through a store lock) across instances: a notification that arrives during a
 * sync causes one more pass, not a parallel one. Messages of one customer are handed to the
 * pipeline in order; different customers run concurrently.
 *
 * **At least once, at most once in practice.** A page's `next_cursor` is saved only when
 * every message on it (and on the pages before it) has been answered, and each answered
 * message leaves a durable "done" mark. A process killed mid-stream resumes from the last
 * saved cursor: answered messages are skipped by their marks, the others run again. Only a
 * message whose answer left but whose mark did not land can run twice (KF sends carry a
 * client msgid derived from the message, which WeChat uses to recognise a resend).
 */
export class KfSyncer {
  readonly #options: KfSyncOptions;
  readonly #states = new Map<string, SyncState>();
  readonly #chains = new Map<string, Promise<void>>();
  /** msgid → settles when that message is answered (this process only). */
  readonly #pending = new Map<string, Promise<void>>();
  readonly #progress = new Map<string, Progress>();
  #stopping = false;

  constructor(options: KfSyncOptions) {
    this.#options = options;
  }

  /** Reacts to a notification; resolves when the sync it caused (or joined) is done. */
  notify(openKfId: string, token?: string): Promise<void> {
    const running = this.#states.get(openKfId);
    if (running) {
      running.again = true;
      running.token = token ?? running.token;
      return running.done;
    }
    const state = { again: false, token, since: Date.now() / 1000 } as SyncState;
    this.#states.set(openKfId, state);
    state.done = this.#drive(openKfId, state).catch((error) => {
      if (this.#states.get(openKfId) === state) this.#states.delete(openKfId);
      this.#options.log.error({ openKfId, ...failure(error) }, 'KF sync failed');
    });
    return state.done;
  }

  /** Stops retrying failed syncs (shutdown); passes already running finish. */
  stop(): void {
    this.#stopping = true;
  }

  /** Resolves when every message handed over so far is answered and its cursor saved (tests, shutdown). */
  async idle(): Promise<void> {
    await Promise.all([...this.#states.values()].map((s) => s.done));
    await Promise.all([...this.#chains.values()]);
    await Promise.all([...this.#progress.values()].map((p) => p.commits));
  }

  async #drive(openKfId: string, state: SyncState): Promise<void> {
    const { store, log } = this.#options;
    const againKey = `kf:sync-again:${this.#options.channel.name}:${openKfId}`;
    const lockKey = `kf:sync-lock:${this.#options.channel.name}:${openKfId}`;
    const lockTtl = this.#options.lockTtlMs ?? LOCK_TTL_MS;
    for (;;) {
      let lock = await holdLock(store, lockKey, lockTtl, log);
      if (!lock) {
        // Another instance is syncing this account: ask it for one more pass, and wait until
        // it picks the request up (it clears the flag) or its lock frees up, which a dead
        // holder's does within the lock TTL: then this instance syncs. Never dropped.
        await store.set(againKey, '1', AGAIN_TTL_MS);
        lock = await this.#waitForLockOrPickup(openKfId, lockKey, againKey, lockTtl);
        if (!lock) return this.#finish(openKfId, state);
      }
      try {
        do {
          state.again = false;
          await store.delete(againKey);
          await this.#passWithRetry(openKfId, state);
        } while (state.again);
      } finally {
        await lock.release();
      }
      const askedElsewhere = (await store.get(againKey)) !== undefined;
      // No await between this check and forgetting the state: a notification that arrives
      // later starts a new sync instead of setting `again` on one that is ending.
      if (!askedElsewhere && !state.again) return this.#finish(openKfId, state);
    }
  }

  /**
   * Waits while another instance holds the sync lock. Undefined once the holder has picked
   * up our "sync again" flag (it will pass again); the lock once we got it. Getting it with
   * the flag still set means the holder stopped renewing without finishing: logged.
   */
  async #waitForLockOrPickup(openKfId: string, lockKey: string, againKey: string, lockTtl: number) {
    const { store, log } = this.#options;
    const since = Date.now();
    for (;;) {
      const lock = await holdLock(store, lockKey, lockTtl, log);
      if (lock) {
        // A live holder renews its lock and picks the flag up within its pass: getting the lock
        // after a whole TTL with the flag still there means the holder stopped.
        if (Date.now() - since >= lockTtl && (await store.get(againKey)) !== undefined) {
          log.warn({ openKfId }, 'KF sync lock taken over: its holder stopped renewing it before syncing again (a dead instance?); syncing here');
        }
        return lock;
      }
      if ((await store.get(againKey)) === undefined) return undefined;
      await sleep(Math.min(WAIT_POLL_MS, lockTtl / 3));
    }
  }

  /**
   * One pass, retried with backoff (1 s doubling to 60 s) while sync_msg fails, until it
   * succeeds or a new notification arrives (which brings a fresh token: the next pass uses it).
   */
  async #passWithRetry(openKfId: string, state: SyncState): Promise<void> {
    const base = this.#options.retryBaseMs ?? 1000;
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.#pass(openKfId, state);
      } catch (error) {
        if (this.#stopping) throw error;
        if (state.again) {
          this.#options.log.warn({ openKfId, ...failure(error) }, 'KF sync failed; a newer notification takes over');
          return;
        }
        const delay = Math.min(RETRY_MAX_MS, base * 2 ** attempt);
        this.#options.log.warn({ openKfId, attempt: attempt + 1, retryInMs: delay, ...failure(error) }, 'KF sync failed; retrying');
        await this.#sleepUnlessNotified(state, delay);
      }
    }
  }

  /** Sleeps `ms`, waking early when a notification sets `again`. */
  async #sleepUnlessNotified(state: SyncState, ms: number): Promise<void> {
    const until = Date.now() + ms;
    while (!state.again && !this.#stopping && Date.now() < until) await sleep(Math.min(100, until - Date.now()));
  }

  #finish(openKfId: string, state: SyncState): void {
    if (this.#states.get(openKfId) === state) this.#states.delete(openKfId);
  }

  async #pass(openKfId: string, state: SyncState): Promise<void> {
    const { client, cursorStore, channel, log } = this.#options;
    const { token } = state;
    const cursorKey = `kf:cursor:${channel.name}:${openKfId}`;
    const progress = this.#progressOf(openKfId);
    // While pages of this process are still open, the saved cursor lags behind what was
    // fetched: continue from the fetched one, or the open pages would be read again.
    let cursor = progress.openPages > 0 ? progress.fetched : await cursorStore.get(cursorKey);
    // No cursor (first start, or a store that lost it): start from now unless told otherwise.
    let notBefore = !cursor && (this.#options.emptyCursor ?? 'now') === 'now' ? state.since - EMPTY_CURSOR_GRACE_S : undefined;
    let skipped = 0;
    let dropped = false;
    // Once a page must stay unsaved, so must every page after it in this pass.
    let blocked = false;
    for (let page = 1; ; page++) {
      let result: Awaited<ReturnType<ReturnType<typeof kfApi>['syncMsg']>>;
      try {
        result = await kfApi(client).syncMsg({
          ...(cursor && { cursor }),
          ...(token && { token }),
          limit: this.#options.limit ?? 1000,
          open_kfid: openKfId,
        });
      } catch (error) {
        if (!cursor || !(error instanceof WeChatApiError) || error.errcode !== INVALID_CURSOR_ERRCODE) throw error;
        // WeChat will never take this cursor again (expired, or not this account's): retrying
        // it would fail once a minute forever. Drop it and sync from now, as with no cursor.
        await this.#dropCursor(openKfId, cursorKey, progress, error);
        cursor = undefined;
        notBefore = state.since - EMPTY_CURSOR_GRACE_S;
        dropped = true;
        continue;
      }
      let items = result.msg_list ?? [];
      if (notBefore !== undefined) {
        const since = notBefore;
        const fresh = items.filter((item) => item.send_time >= since);
        skipped += items.length - fresh.length;
        items = fresh;
        if (result.has_more !== 1 && skipped > 0) {
          log.warn(
            { openKfId, skipped, notBefore: new Date(notBefore * 1000).toISOString() },
            dropped
              ? 'KF sync restarted from now after WeChat rejected its cursor: older messages skipped'
              : "KF sync found no saved cursor (first start, or the store lost it): started from now, older messages skipped; emptyCursor: 'history' answers them",
          );
        }
      }
      const taken = await this.#takePage(items);
      const { handed } = taken;
      blocked ||= taken.blocked;
      taken.blocked = blocked;
      if (result.next_cursor) {
        cursor = result.next_cursor;
        progress.fetched = cursor;
        this.#commitWhenAnswered(progress, cursorKey, cursor, taken);
      }
      log.debug({ openKfId, page, handed, hasMore: result.has_more === 1 }, 'KF page synced');
      if (result.has_more !== 1) return;
    }
  }

  /**
   * A cursor WeChat rejected (50100): forgotten here and in the cursor store, and pages read
   * with it that are still open will not save theirs (their answers still go out). Said in one
   * warning and counted (`wxbot_kf_cursor_dropped_total`).
   */
  async #dropCursor(openKfId: string, cursorKey: string, progress: Progress, error: WeChatApiError): Promise<void> {
    const { cursorStore, log } = this.#options;
    progress.generation += 1;
    progress.fetched = undefined;
    await cursorStore.delete(cursorKey);
    this.#options.onCursorDropped?.();
    log.warn(
      { openKfId, errcode: error.errcode, errmsg: error.errmsg, notBeforeS: EMPTY_CURSOR_GRACE_S },
      `KF sync cursor rejected by WeChat (errcode ${error.errcode}: invalid or expired cursor): dropped, syncing again from now; messages sent more than ${EMPTY_CURSOR_GRACE_S} s before the notification are skipped`,
    );
  }

  /**
   * Hands over a page's new messages and says what its cursor must wait for: the answers of
   * the messages handed over now or earlier in this process; `marks`: the msgids whose done
   * marks may go once the cursor is past them. `blocked`: a message claimed by another instance and not answered yet; this page's
   * cursor is then left for a later pass to save.
   */
  async #takePage(items: readonly KfMessageItem[]): Promise<TakenPage> {
    const { cursorStore, claimStore, channel } = this.#options;
    const waits: Promise<unknown>[] = [];
    const marks: string[] = [];
    const fresh: Message[] = [];
    let blocked = false;
    // 3: the customer, 4: system events. 5 (a human servicer's own messages) is not for the bot.
    const forBot = items.filter((item) => item.origin === 3 || item.origin === 4);
    // The done marks of the page in one request where the store can (not one round trip each).
    const marked = new Map<string, string | undefined>();
    if (cursorStore.getMany) {
      const unknown = forBot.filter((item) => !this.#pending.has(item.msgid));
      const values = await cursorStore.getMany(unknown.map((item) => doneKey(channel.name, item.msgid)));
      for (const [i, item] of unknown.entries()) marked.set(item.msgid, values[i]);
    }
    for (const item of forBot) {
      const pending = this.#pending.get(item.msgid);
      if (pending) {
        waits.push(pending);
        continue;
      }
      // Not read above (it was pending then, and answered since): read it now.
      const mark = marked.has(item.msgid) ? marked.get(item.msgid) : await cursorStore.get(doneKey(channel.name, item.msgid));
      if (mark !== undefined) {
        marks.push(item.msgid);
        continue;
      }
      if (claimStore && !(await claimStore.setIfAbsent(`kf:claim:${channel.name}:${item.msgid}`, '1', CLAIM_TTL_MS))) {
        blocked = true;
        continue;
      }
      this.#options.onLag?.(Date.now() / 1000 - item.send_time);
      fresh.push(messageFromKf(item, channel));
    }
    let inProcess = !this.#options.handOverPage;
    if (this.#options.handOverPage && fresh.length > 0) {
      // The durable engine: once the page is stored as jobs it is safe, answered or not.
      try {
        await this.#options.handOverPage(fresh);
      } catch (error) {
        // Its queue is unavailable (Redis does not answer): the page runs here, at least once.
        this.#options.log.warn(
          { err: error, messages: fresh.length },
          'KF page could not be queued durably: handling it in this process (its cursor is saved once it is answered)',
        );
        inProcess = true;
      }
    }
    if (inProcess) {
      for (const message of fresh) {
        waits.push(this.#handOver(message));
        marks.push(message.id);
      }
    }
    return { waits, marks, handed: fresh.length, blocked };
  }

  /**
   * Saves `cursor` once the page's answers are in and every earlier page of this open_kfid
   * is saved; then its done marks go (the cursor is past them), which keeps a file store small.
   */
  #commitWhenAnswered(progress: Progress, cursorKey: string, cursor: string, page: TakenPage): void {
    const { cursorStore, channel, log } = this.#options;
    progress.openPages += 1;
    const { generation } = progress;
    progress.commits = progress.commits
      .then(() => Promise.all(page.waits))
      .then(async () => {
        // A page read with a cursor WeChat rejected since: its cursor must not come back.
        if (page.blocked || progress.generation !== generation) return;
        await cursorStore.set(cursorKey, cursor);
        await Promise.all(page.marks.map((msgid) => cursorStore.delete(doneKey(channel.name, msgid))));
      })
      .catch((error) => log.error({ err: error }, 'KF cursor could not be saved; the page will be read again'))
      .finally(() => (progress.openPages -= 1));
  }

  #progressOf(openKfId: string): Progress {
    let progress = this.#progress.get(openKfId);
    if (!progress) {
      progress = { fetched: undefined, openPages: 0, commits: Promise.resolve(), generation: 0 };
      this.#progress.set(openKfId, progress);
    }
    return progress;
  }

  /** Queues a message behind the same customer's earlier ones; settles when it is answered and marked. */
  #handOver(message: Message): Promise<void> {
    const { cursorStore, channel, log } = this.#options;
    const key = `${message.openKfId}:${message.from}`;
    const previous = this.#chains.get(key) ?? Promise.resolve();
    // The customer's next message waits for this one's mark too: a kill then finds at most
    // one answered-but-unmarked message per customer (the bound on a repeat).
    const answered = previous
      .then(() => this.#options.dispatch(message))
      .catch((error) => log.error({ msgId: message.id, err: error }, 'KF message failed in the pipeline'))
      .then(() => cursorStore.set(doneKey(channel.name, message.id), '1', DONE_TTL_MS))
      .catch((error) => log.error({ msgId: message.id, err: error }, 'KF message answered but its done mark was not saved; a restart may answer it again'))
      .finally(() => this.#pending.delete(message.id));
    this.#chains.set(key, answered);
    void answered.finally(() => {
      if (this.#chains.get(key) === answered) this.#chains.delete(key);
    });
    this.#pending.set(message.id, answered);
    return answered;
  }
}

interface TakenPage {
  waits: Promise<unknown>[];
  marks: string[];
  handed: number;
  blocked: boolean;
}

/** The durable "this message was answered" mark. */
function doneKey(channel: string, msgid: string): string {
  return `kf:done:${channel}:${msgid}`;
}

/**
 * What a failed sync logs: WeChat's answer (an errcode, a refused connection) is the whole
 * story, one line without a stack (a line per retry while the API is down); anything else is a
 * bug worth its stack.
 */
function failure(error: unknown): { error: string } | { err: unknown } {
  return error instanceof WeChatApiError ? { error: error.message } : { err: error };
}
