import { WXBizMsgCrypt } from '../crypto/wxBizMsgCrypt.ts';
import { messageFromXml } from '../message/fromXml.ts';
import type { ReplyType } from '../reply/types.ts';
import { BaseChannel, encodePassive, openEncryptedBody, required, type CommonChannelOptions } from './base.ts';
import type { CallbackResult, Channel, Query } from './types.ts';

export interface WecomAppOptions extends CommonChannelOptions {
  /** CorpID (企业ID): the receiveid of every callback. */
  corpId: string;
  /** AgentId of the self-built app, for active sends. */
  agentId?: string | number;
  /** The app's Secret, for the active API. */
  secret?: string;
  /** Token and EncodingAESKey from the app's 接收消息 settings. */
  token: string;
  encodingAESKey: string;
}

const PASSIVE: ReadonlySet<ReplyType> = new Set(['text', 'image', 'voice', 'video', 'news']);

/** WeCom self-built app (企业微信自建应用): always encrypted, passive replies encrypted. */
export class WecomAppChannel extends BaseChannel implements Channel {
  readonly kind = 'wecomApp' as const;
  readonly passiveReplyTypes = PASSIVE;
  readonly textLimitBytes = 2048;
  readonly options: WecomAppOptions;
  protected readonly crypt: WXBizMsgCrypt;

  constructor(options: WecomAppOptions) {
    super(options, { name: 'wecomApp', path: '/wecom/callback' });
    if (!options.token || !options.encodingAESKey) throw new Error(`channel ${this.name}: token and encodingAESKey are required`);
    this.options = options;
    this.crypt = new WXBizMsgCrypt(options.token, options.encodingAESKey, options.corpId);
  }

  /** URL verification: check msg_signature over echostr, answer its decrypted plaintext. */
  verify(query: Query): string {
    // The query decoder turned a literal '+' of the base64 into a space: put it back.
    const echostr = required(query, 'echostr', 400).replaceAll(' ', '+');
    return this.crypt.open(required(query, 'msg_signature'), required(query, 'timestamp'), required(query, 'nonce'), echostr);
  }

  receive(query: Query, body: string): CallbackResult {
    const fields = openEncryptedBody(this.crypt, query, body);
    const message = messageFromXml(fields, this.ref);
    return {
      kind: 'message',
      message,
      encodeReply: (reply) => encodePassive(reply, message.from, message.to, this.crypt),
    };
  }

  describe(): Record<string, unknown> {
    return { corpId: this.options.corpId, agentId: this.options.agentId };
  }
}

/** A WeCom self-built app channel (default path `/wecom/callback`). */
export function wecomApp(options: WecomAppOptions): WecomAppChannel {
  return new WecomAppChannel(options);
}
