import { wecomSendBody } from '../api/replyJson.ts';
import type { WXBizMsgCrypt } from '../crypto/wxBizMsgCrypt.ts';
import { messageFromXml } from '../message/fromXml.ts';
import type { Recipient, SendOptions } from '../message/recipient.ts';
import type { HandoffOptions } from '../vocabulary.ts';
import { UnsupportedReplyError } from '../reply/passiveXml.ts';
import type { Reply, ReplyType } from '../reply/types.ts';
import type { KfEmptyCursor } from './kfSync.ts';
import type { Store } from '../store/types.ts';
import { buildChannel, COMMON_CHANNEL_KEYS, encodePassive, openEncryptedBody, type CommonChannelOptions } from './base.ts';
import type { KeysOf } from '../optionKeys.ts';
import type { CallbackResult, Channel, ChannelRuntime, Query } from './types.ts';
import { WecomChannelBase } from './wecomBase.ts';

/** Settings of a WeCom self-built app channel: corp id, agent id and secret, callback token and key. */
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
  /** With no saved KF cursor: start from now (default) or answer the history (see wecomKf's `emptyCursor`). */
  kfEmptyCursor?: KfEmptyCursor;
}

/** templateCard and updateButton only answer a template_card_event passively (as card updates). */
const PASSIVE: ReadonlySet<ReplyType> = new Set(['text', 'image', 'voice', 'video', 'news', 'templateCard', 'updateButton']);

const KEYS = {
  ...COMMON_CHANNEL_KEYS,
  corpId: true,
  agentId: true,
  secret: true,
  token: true,
  encodingAESKey: true,
  kfCursorStore: true,
  kfEmptyCursor: true,
} as const satisfies KeysOf<WecomAppOptions>;

/**
 * WeCom self-built app (企业微信自建应用): always encrypted, passive replies encrypted,
 * `message/send` after the window. A `kf_msg_or_event` arriving here (a KF account managed
 * by this app) is synced with the app's secret, and its messages are answered through KF.
 */
export class WecomAppChannel extends WecomChannelBase implements Channel {
  readonly kind = 'wecomApp' as const;
  readonly passiveReplyTypes = PASSIVE;
  readonly textLimitBytes = 2048;
  readonly options: WecomAppOptions;
  protected readonly crypt: WXBizMsgCrypt;

  constructor(options: WecomAppOptions) {
    super(options, { name: 'wecomApp', path: '/wecom/callback', keys: KEYS });
    if (!options.token || !options.encodingAESKey) throw new Error(`channel ${this.name}: token and encodingAESKey are required`);
    this.options = options;
    this.crypt = this.createCrypt(options.token, options.encodingAESKey, options.corpId);
  }

  override start(runtime: ChannelRuntime): void {
    super.start(runtime);
    const { secret, corpId, apiBaseUrl, kfCursorStore, kfEmptyCursor } = this.options;
    if (secret) this.startApi(runtime, { corpId, secret, apiBaseUrl, cursorStore: kfCursorStore, emptyCursor: kfEmptyCursor });
  }

  receive(query: Query, body: string): CallbackResult {
    const fields = openEncryptedBody(this.crypt, query, body, this.checkFresh);
    const ack = this.kfAck(fields);
    if (ack) return ack;
    const message = messageFromXml(fields, this.ref);
    const cardEvent = message.type === 'event' && message.event === 'template_card_event';
    return {
      kind: 'message',
      message,
      // A card answering a card click updates it in place; elsewhere a card is a new message,
      // which only message/send can send: the window stays open for the replies after it.
      acceptsPassive: (reply) => cardEvent || (reply.type !== 'templateCard' && reply.type !== 'updateButton'),
      encodeReply: (reply) => {
        // A card answering a card click updates it (update_template_card); elsewhere a card is
        // a new message, which only message/send can send (the caller then sends it actively).
        if ((reply.type === 'templateCard' || reply.type === 'updateButton') && !cardEvent) {
          throw new UnsupportedReplyError(`a ${reply.type} is a passive reply only to a template_card_event`);
        }
        return encodePassive(reply, message.from, message.to, this.crypt);
      },
    };
  }

  /** message/send to the user (KF customers go through kf/send_msg). */
  async send(to: Recipient, reply: Reply, options: SendOptions = {}): Promise<void> {
    if (to.openKfId && this.kf) return this.kf.actions.send(to, reply, options);
    const client = this.requireClient(this.api, 'send through the API (message/send)');
    const agentid = Number(this.options.agentId ?? to.agentId);
    if (reply.type === 'updateButton' || (reply.type === 'templateCard' && to.responseCode)) {
      // A card click answered after the reply window: the event's response code updates the card, once.
      if (!to.responseCode) throw new UnsupportedReplyError('updateButton needs the response code of a template_card_event (answer the event with it)');
      const update = reply.type === 'updateButton' ? { button: { replace_name: reply.replaceName } } : { template_card: reply.card };
      await client.post('cgi-bin/message/update_template_card', { userids: [to.user], agentid, response_code: to.responseCode, ...update });
      return;
    }
    await client.post('cgi-bin/message/send', { touser: to.user, agentid, ...wecomSendBody(reply) });
  }

  /** KF customers: service_state/trans. App users: no platform notion (the bot emits an event). */
  async handoff(to: Recipient, options: HandoffOptions): Promise<boolean> {
    if (to.openKfId && this.kf) return this.kf.actions.handoff(to, options);
    return false;
  }

  /** The KF customers' WeChat nicknames (kf/customer/batchget); the app's own users are not looked up. */
  async displayNames(users: readonly Recipient[]): Promise<Map<string, string>> {
    const customers = users.filter((u) => u.openKfId).map((u) => u.user);
    return this.kf && customers.length > 0 ? this.kf.actions.names(customers) : new Map();
  }

  /** Only the KF customers of a managed KF account (the app's own users have no platform hand-off). */
  canHandoff(to?: Recipient): boolean {
    return Boolean(this.kf) && (to === undefined || Boolean(to.openKfId));
  }

  describe(): Record<string, unknown> {
    return { corpId: this.options.corpId, agentId: this.options.agentId, activeApi: Boolean(this.api) };
  }
}

/** A WeCom self-built app channel (default path `/wecom/callback`). */
export function wecomApp(options: WecomAppOptions): WecomAppChannel {
  return buildChannel('wecomApp', options, () => new WecomAppChannel(options));
}
