import { WeChatApiClient, type MediaFile } from '../api/client.ts';
import { wecomSendBody } from '../api/replyJson.ts';
import { WXBizMsgCrypt } from '../crypto/wxBizMsgCrypt.ts';
import { messageFromXml } from '../message/fromXml.ts';
import type { Recipient, SendOptions } from '../message/recipient.ts';
import type { HandoffOptions } from '../pipeline/context.ts';
import type { Reply, ReplyType } from '../reply/types.ts';
import type { Store } from '../store/types.ts';
import { BaseChannel, encodePassive, openEncryptedBody, verifyEncryptedUrl, type CommonChannelOptions } from './base.ts';
import { createKfSupport, kfNotification, type KfSupport } from './kf.ts';
import type { CallbackResult, Channel, ChannelRuntime, MediaType, Query, UploadFile } from './types.ts';

export interface WecomAppOptions extends CommonChannelOptions {
  /** CorpID (企业ID): the receiveid of every callback. */
  corpId: string;
  /** AgentId of the self-built app, for active sends. */
  agentId?: string | number;
  /** The app's Secret, for the active API (and KF accounts this app manages). */
  secret?: string;
  /** Token and EncodingAESKey from the app's 接收消息 settings. */
  token: string;
  encodingAESKey: string;
  /** Where KF cursors are kept when this app manages a KF account (see wecomKf). */
  kfCursorStore?: Store;
}

const PASSIVE: ReadonlySet<ReplyType> = new Set(['text', 'image', 'voice', 'video', 'news']);

/**
 * WeCom self-built app (企业微信自建应用): always encrypted, passive replies encrypted,
 * `message/send` after the window. A `kf_msg_or_event` arriving here (a KF account managed
 * by this app) is synced with the app's secret, and its messages are answered through KF.
 */
export class WecomAppChannel extends BaseChannel implements Channel {
  readonly kind = 'wecomApp' as const;
  readonly passiveReplyTypes = PASSIVE;
  readonly textLimitBytes = 2048;
  readonly options: WecomAppOptions;
  readonly #crypt: WXBizMsgCrypt;
  #client: WeChatApiClient | undefined;
  #kf: KfSupport | undefined;

  constructor(options: WecomAppOptions) {
    super(options, { name: 'wecomApp', path: '/wecom/callback' });
    if (!options.token || !options.encodingAESKey) throw new Error(`channel ${this.name}: token and encodingAESKey are required`);
    this.options = options;
    this.#crypt = this.createCrypt(options.token, options.encodingAESKey, options.corpId);
  }

  override start(runtime: ChannelRuntime): void {
    super.start(runtime);
    if (!this.options.secret) return;
    this.#client = new WeChatApiClient({
      credential: { kind: 'wecom', corpId: this.options.corpId, secret: this.options.secret },
      baseUrl: this.options.apiBaseUrl,
      store: runtime.store,
      log: runtime.log,
      observer: runtime.metrics.apiObserver,
    });
    this.#kf = createKfSupport({ client: this.#client, runtime, channel: this.ref, cursorStore: this.options.kfCursorStore });
  }

  /** The API client (undefined without a secret). */
  get api(): WeChatApiClient | undefined {
    return this.#client;
  }

  /** KF support, when a secret is configured. */
  get kf(): KfSupport | undefined {
    return this.#kf;
  }

  verify(query: Query): string {
    return verifyEncryptedUrl(this.#crypt, query);
  }

  receive(query: Query, body: string): CallbackResult {
    const fields = openEncryptedBody(this.#crypt, query, body);
    const notification = kfNotification(fields);
    if (notification) {
      const kf = this.#kf;
      if (!kf) {
        this.log.warn('kf_msg_or_event received but no secret is configured to sync it');
        return { kind: 'ack', body: 'success' };
      }
      return { kind: 'ack', body: 'success', after: () => kf.syncer.notify(notification.openKfId, notification.token) };
    }
    const message = messageFromXml(fields, this.ref);
    return {
      kind: 'message',
      message,
      encodeReply: (reply) => encodePassive(reply, message.from, message.to, this.#crypt),
    };
  }

  /** message/send to the user (KF customers go through kf/send_msg). */
  async send(to: Recipient, reply: Reply, options: SendOptions = {}): Promise<void> {
    if (to.openKfId && this.#kf) return this.#kf.actions.send(to, reply, options);
    const client = this.requireClient(this.#client, 'send after the reply window');
    await client.post('cgi-bin/message/send', { touser: to.user, agentid: Number(this.options.agentId ?? to.agentId), ...wecomSendBody(reply) });
  }

  /** KF customers: service_state/trans. App users: no platform notion (the bot emits an event). */
  async handoff(to: Recipient, options: HandoffOptions): Promise<boolean> {
    if (to.openKfId && this.#kf) return this.#kf.actions.handoff(to, options);
    return false;
  }

  downloadMedia(mediaId: string): Promise<MediaFile> {
    return this.requireClient(this.#client, 'download media').downloadMedia(mediaId);
  }

  uploadMedia(type: MediaType, file: UploadFile): Promise<string> {
    return this.requireClient(this.#client, 'upload media').uploadMedia(type, file);
  }

  async stop(): Promise<void> {
    await this.#kf?.syncer.idle();
  }

  describe(): Record<string, unknown> {
    return { corpId: this.options.corpId, agentId: this.options.agentId, activeApi: Boolean(this.#client) };
  }
}

/** A WeCom self-built app channel (default path `/wecom/callback`). */
export function wecomApp(options: WecomAppOptions): WecomAppChannel {
  return new WecomAppChannel(options);
}
