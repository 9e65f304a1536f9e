import type { Logger } from 'pino';
import type { WeChatApiClient } from '../api/client.ts';
import { kfApi } from '../api/kf.ts';
import { messageFromKf } from '../message/fromKf.ts';
import type { ChannelRef, Message } from '../message/types.ts';
import type { Store } from '../store/types.ts';

export interface KfSyncOptions {
  client: WeChatApiClient;
  /** Shared state: the sync lock, the "sync again" flag and the seen msgids. */
  store: Store;
  /** Where next_cursor lives per open_kfid: durable (file or Redis), so restarts resume. */
  cursorStore: Store;
  log: Logger;
  channel: ChannelRef;
  /** Hands a message to the pipeline. */
  dispatch(message: Message): Promise<void>;
  /** sync_msg page size (1..1000, default 1000). */
  limit?: number;
  /** Told the age of each message handed over (metrics). */
  onLag?(seconds: number): void;
}

interface SyncState {
  again: boolean;
  token: string | undefined;
  done: Promise<void>;
}

const SEEN_TTL_MS = 7 * 24 * 3600_000;
const LOCK_TTL_MS = 60_000;

/**
 * Pulls KF messages after a `kf_msg_or_event` notification: `kf/sync_msg` from the saved
 * cursor, page after page while `has_more`, saving `next_cursor` after each page is handed
 * over. One sync at a time per open_kfid, in this process and (through a store lock) across
 * instances: a notification that arrives during a sync causes one more pass, not a parallel
 * one. Messages of one customer are handed to the pipeline in order; different customers
 * run concurrently.
 */
export class KfSyncer {
  readonly #options: KfSyncOptions;
  readonly #states = new Map<string, SyncState>();
  readonly #chains = new Map<string, Promise<void>>();

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
    const state = { again: false, token } as SyncState;
    this.#states.set(openKfId, state);
    state.done = this.#drive(openKfId, state).catch((error) => {
      if (this.#states.get(openKfId) === state) this.#states.delete(openKfId);
      this.#options.log.error({ openKfId, err: error }, 'KF sync failed');
    });
    return state.done;
  }

  /** Resolves when every message handed over so far has left the pipeline (tests, shutdown). */
  async idle(): Promise<void> {
    await Promise.all([...this.#states.values()].map((s) => s.done));
    await Promise.all([...this.#chains.values()]);
  }

  async #drive(openKfId: string, state: SyncState): Promise<void> {
    const { store } = this.#options;
    const againKey = `kf:sync-again:${this.#options.channel.name}:${openKfId}`;
    const lockKey = `kf:sync-lock:${this.#options.channel.name}:${openKfId}`;
    for (;;) {
      let release = await store.lock(lockKey, LOCK_TTL_MS);
      if (!release) {
        // Another instance is syncing this account: ask it for one more pass. It may have
        // finished between our lock attempt and the flag, so try the lock once more.
        await store.set(againKey, '1', LOCK_TTL_MS);
        release = await store.lock(lockKey, LOCK_TTL_MS);
        if (!release) return this.#finish(openKfId, state);
      }
      try {
        do {
          state.again = false;
          await store.delete(againKey);
          await this.#pass(openKfId, state.token);
        } while (state.again);
      } finally {
        await release();
      }
      const askedElsewhere = (await store.get(againKey)) !== undefined;
      // No await between this check and forgetting the state: a notification that arrives
      // later starts a new sync instead of setting `again` on one that is ending.
      if (!askedElsewhere && !state.again) return this.#finish(openKfId, state);
    }
  }

  #finish(openKfId: string, state: SyncState): void {
    if (this.#states.get(openKfId) === state) this.#states.delete(openKfId);
  }

  async #pass(openKfId: string, token: string | undefined): Promise<void> {
    const { client, cursorStore, store, channel, log } = this.#options;
    const cursorKey = `kf:cursor:${channel.name}:${openKfId}`;
    let cursor = await cursorStore.get(cursorKey);
    for (let page = 1; ; page++) {
      const result = await kfApi(client).syncMsg({
        ...(cursor && { cursor }),
        ...(token && { token }),
        limit: this.#options.limit ?? 1000,
        open_kfid: openKfId,
      });
      let handed = 0;
      for (const item of result.msg_list ?? []) {
        // 3: the customer, 4: system events. 5 (a human servicer's own messages) is not for the bot.
        if (item.origin !== 3 && item.origin !== 4) continue;
        if (!(await store.setIfAbsent(`kf:seen:${channel.name}:${item.msgid}`, '1', SEEN_TTL_MS))) continue;
        this.#options.onLag?.(Date.now() / 1000 - item.send_time);
        this.#handOver(messageFromKf(item, channel));
        handed += 1;
      }
      if (result.next_cursor) {
        cursor = result.next_cursor;
        await cursorStore.set(cursorKey, cursor);
      }
      log.debug({ openKfId, page, handed, hasMore: result.has_more === 1 }, 'KF page synced');
      if (result.has_more !== 1) return;
    }
  }

  #handOver(message: Message): void {
    const key = `${message.openKfId}:${message.from}`;
    const previous = this.#chains.get(key) ?? Promise.resolve();
    const next = previous
      .then(() => this.#options.dispatch(message))
      .catch((error) => this.#options.log.error({ msgId: message.id, err: error }, 'KF message failed in the pipeline'));
    this.#chains.set(key, next);
    void next.finally(() => {
      if (this.#chains.get(key) === next) this.#chains.delete(key);
    });
  }
}
