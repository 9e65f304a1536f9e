import type { WXBizMsgCrypt } from '../crypto/wxBizMsgCrypt.ts';
import type { Recipient, SendOptions } from '../message/recipient.ts';
import type { HandoffOptions } from '../vocabulary.ts';
import type { Reply, ReplyType } from '../reply/types.ts';
import type { Store } from '../store/types.ts';
import { field } from '../xml.ts';
import { buildChannel, COMMON_CHANNEL_KEYS, openEncryptedBody, type CommonChannelOptions } from './base.ts';
import type { KeysOf } from '../optionKeys.ts';
import type { KfSupport } from './kf.ts';
import type { KfEmptyCursor } from './kfSync.ts';
import type { CallbackResult, Channel, ChannelRuntime, Query } from './types.ts';
import { WecomChannelBase } from './wecomBase.ts';

/** Settings of a WeChat Customer Service (KF) channel: corp id, KF secret, callback token and key. */
export interface WecomKfOptions extends CommonChannelOptions {
  /** CorpID: the receiveid of callbacks and the API credential's corp. */
  corpId: string;
  /** The KF Secret (微信客服 → API → Secret): its own token, separate from any app's. */
  secret: string;
  /** Token and EncodingAESKey of the KF callback settings. */
  token: string;
  encodingAESKey: string;
  /** Where `next_cursor` is kept per open_kfid; default: the bot's store if durable, else `cursorFile`. */
  cursorStore?: Store;
  /** Cursor file when no durable store is given (default `.wxbot/kf-cursors.json`). */
  cursorFile?: string;
  /** sync_msg page size (default 1000). */
  syncLimit?: number;
  /** KF sync lock TTL in ms, renewed while held (default 15 s): how soon a dead instance's lock frees up. */
  syncLockTtlMs?: number;
  /** First retry delay after a failed sync_msg, doubling up to 60 s (default 1 s). */
  syncRetryBaseMs?: number;
  /**
   * With no saved cursor (a first start, or a store that lost it, e.g. Redis restarted empty):
   * `'now'` (default) skips messages sent over a minute before the notification, with one
   * warning, and answers only newer ones; `'history'` answers all `sync_msg` returns (3 days).
   */
  emptyCursor?: KfEmptyCursor;
}

const NO_PASSIVE: ReadonlySet<ReplyType> = new Set();

const KEYS = {
  ...COMMON_CHANNEL_KEYS,
  corpId: true,
  secret: true,
  token: true,
  encodingAESKey: true,
  cursorStore: true,
  cursorFile: true,
  syncLimit: true,
  syncLockTtlMs: true,
  syncRetryBaseMs: true,
  emptyCursor: true,
} as const satisfies KeysOf<WecomKfOptions>;

/**
 * WeChat Customer Service (微信客服). The callback only says "messages are waiting": it is
 * answered `success` at once, then `kf/sync_msg` fetches them and feeds the pipeline. Every
 * reply goes through `kf/send_msg` (KF has no passive reply); `ctx.handoff()` moves the
 * session with `kf/service_state/trans`.
 */
export class WecomKfChannel extends WecomChannelBase implements Channel {
  readonly kind = 'wecomKf' as const;
  readonly passiveReplyTypes = NO_PASSIVE;
  readonly textLimitBytes = 2048;
  readonly options: WecomKfOptions;
  protected readonly crypt: WXBizMsgCrypt;

  constructor(options: WecomKfOptions) {
    super(options, { name: 'wecomKf', path: '/wecom/kf', keys: KEYS });
    if (!options.token || !options.encodingAESKey || !options.secret) throw new Error(`channel ${this.name}: token, encodingAESKey and secret are required`);
    this.options = options;
    this.crypt = this.createCrypt(options.token, options.encodingAESKey, options.corpId);
  }

  override start(runtime: ChannelRuntime): void {
    super.start(runtime);
    this.startApi(runtime, this.options);
  }

  receive(query: Query, body: string): CallbackResult {
    const fields = openEncryptedBody(this.crypt, query, body, this.checkFresh);
    const ack = this.kfAck(fields);
    if (ack) return ack;
    this.log.debug({ msgType: field(fields, 'MsgType'), event: field(fields, 'Event') }, 'KF callback without messages to sync');
    return { kind: 'ack', body: 'success' };
  }

  async send(to: Recipient, reply: Reply, options: SendOptions = {}): Promise<void> {
    await this.#support().actions.send(to, reply, options);
  }

  async handoff(to: Recipient, options: HandoffOptions): Promise<boolean> {
    return this.#support().actions.handoff(to, options);
  }

  /** Customers' WeChat nicknames (kf/customer/batchget). */
  displayNames(users: readonly Recipient[]): Promise<Map<string, string>> {
    return this.#support().actions.names(users.map((u) => u.user));
  }

  /** Every KF session can go to the waiting pool or a servicer. */
  canHandoff(): boolean {
    return true;
  }

  describe(): Record<string, unknown> {
    return { corpId: this.options.corpId };
  }

  #support(): KfSupport {
    if (!this.kf) throw new Error(`channel ${this.name} used before start()`);
    return this.kf;
  }
}

/** A WeChat Customer Service channel (default path `/wecom/kf`). */
export function wecomKf(options: WecomKfOptions): WecomKfChannel {
  return buildChannel('wecomKf', options, () => new WecomKfChannel(options));
}
