import type { WeChatApiClient } from '../api/client.ts';
import { kfApi, type KfApi } from '../api/kf.ts';
import { kfSendBody } from '../api/replyJson.ts';
import type { Recipient, SendOptions } from '../message/recipient.ts';
import type { HandoffOptions } from '../vocabulary.ts';
import type { Reply } from '../reply/types.ts';
import type { ChannelRef } from '../message/types.ts';
import { FileStore } from '../store/file.ts';
import { MemoryStore } from '../store/memory.ts';
import type { Store } from '../store/types.ts';
import { field, type XmlFields } from '../xml.ts';
import { KfSyncer, type KfEmptyCursor } from './kfSync.ts';
import type { ChannelRuntime, KfSessions } from './types.ts';

/** KF service states (kf/service_state). */
export const KfServiceState = { Untreated: 0, Bot: 1, WaitingPool: 2, Servicer: 3, Ended: 4 } as const;

/**
 * Answers and hand-offs of WeChat Customer Service, shared by the KF channel and by WeCom
 * app channels that manage a KF account.
 */
export class KfActions implements KfSessions {
  /** welcome codes are single-use: remember which were spent. */
  readonly #usedWelcomeCodes = new Set<string>();

  readonly #api: KfApi;

  constructor(client: WeChatApiClient) {
    this.#api = kfApi(client);
  }

  /**
   * Sends a reply: through `kf/send_msg_on_event` for the first text answer to an
   * enter_session event with a welcome code, else `kf/send_msg`, with `options.sendId` as the
   * client msgid so a resend after a crash is recognised. A refusal because a human
   * holds the session throws `WeChatApiError` 95018 (the bot logs it for replies; callers of
   * `bot.sendTo` see it).
   */
  async send(to: Recipient, reply: Reply, options: SendOptions = {}): Promise<void> {
    const openKfId = to.openKfId;
    if (!openKfId) throw new Error('a KF message needs the open_kfid of the account');
    const code = options.welcomeCode;
    if (code && reply.type === 'text' && !this.#usedWelcomeCodes.has(code)) {
      this.#usedWelcomeCodes.add(code);
      if (this.#usedWelcomeCodes.size > 10_000) this.#usedWelcomeCodes.clear();
      await this.#api.sendMsgOnEvent(code, { msgtype: 'text', text: { content: reply.text } }, options.sendId);
      return;
    }
    await this.#api.sendMsg(to.user, openKfId, kfSendBody(reply), options.sendId);
  }

  /** Moves the session to a named servicer, or to the waiting pool. */
  async handoff(to: Recipient, options: HandoffOptions): Promise<boolean> {
    if (!to.openKfId) throw new Error('a KF hand-off needs the open_kfid of the account');
    const state = options.servicerUserId ? KfServiceState.Servicer : KfServiceState.WaitingPool;
    await this.#api.transServiceState(to.openKfId, to.user, state, options.servicerUserId);
    return true;
  }

  async state(to: Recipient): Promise<{ state: number; servicerUserId?: string }> {
    const { service_state: state, servicer_userid: servicerUserId } = await this.#api.getServiceState(kfAccountOf(to), to.user);
    return { state, ...(servicerUserId && { servicerUserId }) };
  }

  async transfer(to: Recipient, state: number, servicerUserId?: string): Promise<void> {
    await this.#api.transServiceState(kfAccountOf(to), to.user, state, servicerUserId);
  }

  /** Customers' WeChat nicknames (kf/customer/batchget, 100 a call), by external_userid. */
  async names(externalUserIds: readonly string[]): Promise<Map<string, string>> {
    const names = new Map<string, string>();
    const ids = [...new Set(externalUserIds)];
    for (let i = 0; i < ids.length; i += 100) {
      const { customer_list: customers = [] } = await this.#api.customerBatchGet(ids.slice(i, i + 100));
      for (const c of customers) if (c.nickname) names.set(c.external_userid, c.nickname);
    }
    return names;
  }

  async sendOnEvent(code: string, reply: Reply): Promise<void> {
    await this.#api.sendMsgOnEvent(code, kfSendBody(reply));
  }
}

function kfAccountOf(to: Recipient): string {
  if (!to.openKfId) throw new Error('a KF session call needs the open_kfid of the account (recipient.openKfId)');
  return to.openKfId;
}

/** KF support of one channel: its actions and its syncer. */
export interface KfSupport {
  readonly actions: KfActions;
  readonly syncer: KfSyncer;
}

/**
 * Builds KF support for a channel. Cursors and "answered" marks go to `cursorStore`, else to
 * the bot's store when it is durable, else to a file (`.wxbot/kf-cursors.json`) so a restart
 * without Redis still resumes where it stopped, with nothing lost or repeated.
 */
export function createKfSupport(options: {
  client: WeChatApiClient;
  runtime: ChannelRuntime;
  channel: ChannelRef;
  cursorStore?: Store;
  cursorFile?: string;
  syncLimit?: number;
  syncLockTtlMs?: number;
  syncRetryBaseMs?: number;
  emptyCursor?: KfEmptyCursor;
}): KfSupport {
  const { client, runtime, channel } = options;
  const local = runtime.store instanceof MemoryStore || runtime.store instanceof FileStore;
  const cursorStore = options.cursorStore ?? (runtime.store instanceof MemoryStore ? new FileStore({ path: options.cursorFile ?? '.wxbot/kf-cursors.json' }) : runtime.store);
  return {
    actions: new KfActions(client),
    syncer: new KfSyncer({
      client,
      store: runtime.store,
      cursorStore,
      // A store other instances share (Redis) and no durable engine: claim messages there so
      // two instances never run one. A durable engine needs no claims (job ids are the msgids),
      // and a claim left by an instance killed before it queued the page would hide it.
      ...(!local && !runtime.enqueue && { claimStore: runtime.store }),
      log: runtime.log,
      channel,
      dispatch: runtime.dispatch,
      ...(runtime.enqueue && { handOverPage: runtime.enqueue }),
      limit: options.syncLimit,
      lockTtlMs: options.syncLockTtlMs,
      retryBaseMs: options.syncRetryBaseMs,
      emptyCursor: options.emptyCursor,
      onLag: (seconds) => runtime.metrics.kfSyncLag(channel.name, seconds),
      onCursorDropped: () => runtime.metrics.kfCursorDropped(channel.name),
    }),
  };
}

/** Whether decrypted callback fields are a KF "messages are waiting" notification. */
export function kfNotification(fields: XmlFields): { openKfId: string; token: string } | undefined {
  if (field(fields, 'MsgType') !== 'event' || field(fields, 'Event') !== 'kf_msg_or_event') return undefined;
  return { openKfId: field(fields, 'OpenKfId'), token: field(fields, 'Token') };
}
