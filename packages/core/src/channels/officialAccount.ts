import { WXBizMsgCrypt } from '../crypto/wxBizMsgCrypt.ts';
import { signaturesEqual, sortedSha1 } from '../crypto/signature.ts';
import { ChannelError } from '../errors.ts';
import { messageFromXml } from '../message/fromXml.ts';
import type { ReplyType } from '../reply/types.ts';
import { parseXml } from '../xml.ts';
import { BaseChannel, encodePassive, openEncryptedBody, required, type CommonChannelOptions } from './base.ts';
import type { CallbackResult, Channel, Query } from './types.ts';

export interface OfficialAccountOptions extends CommonChannelOptions {
  /** AppID (wx…): the receiveid of encrypted messages and the API credential. */
  appId: string;
  /** AppSecret, for the active API (replies after the window). */
  appSecret?: string;
  /** The Token set in the console (服务器配置). */
  token: string;
  /** EncodingAESKey: set it for safe or compat mode. */
  encodingAESKey?: string;
}

const PASSIVE: ReadonlySet<ReplyType> = new Set(['text', 'image', 'voice', 'video', 'music', 'news']);

/**
 * Official Account (公众号) callbacks: plain mode (`signature`) and safe/compat mode
 * (`encrypt_type=aes`, `msg_signature`), with passive replies encrypted when the request was.
 */
export class OfficialAccountChannel extends BaseChannel implements Channel {
  readonly kind = 'officialAccount' as const;
  readonly passiveReplyTypes = PASSIVE;
  /** Customer-service messages allow 2048 characters; bytes keep Chinese text safe. */
  readonly textLimitBytes = 2048;
  readonly options: OfficialAccountOptions;
  readonly #token: string;
  readonly #crypt: WXBizMsgCrypt | undefined;

  constructor(options: OfficialAccountOptions) {
    super(options, { name: 'officialAccount', path: '/wx' });
    if (!options.token) throw new Error(`channel ${this.name}: token is required`);
    this.options = options;
    this.#token = options.token;
    this.#crypt = options.encodingAESKey ? new WXBizMsgCrypt(options.token, options.encodingAESKey, options.appId) : undefined;
  }

  /** GET verification always uses the plain signature, in every mode. */
  verify(query: Query): string {
    this.#checkPlainSignature(query);
    return required(query, 'echostr', 400);
  }

  receive(query: Query, body: string): CallbackResult {
    const encrypted = query['encrypt_type'] === 'aes';
    let fields;
    if (encrypted) {
      if (!this.#crypt) throw new ChannelError(400, 'encrypted callback but no EncodingAESKey is configured');
      // Compat mode also sends plaintext fields beside Encrypt: only the decrypted ones count.
      fields = openEncryptedBody(this.#crypt, query, body);
    } else {
      this.#checkPlainSignature(query);
      fields = parseXml(body);
    }
    const message = messageFromXml(fields, this.ref);
    const crypt = encrypted ? this.#crypt : undefined;
    return {
      kind: 'message',
      message,
      encodeReply: (reply) => encodePassive(reply, message.from, message.to, crypt),
    };
  }

  describe(): Record<string, unknown> {
    return { appId: this.options.appId, mode: this.#crypt ? 'safe/compat (plain accepted)' : 'plain' };
  }

  #checkPlainSignature(query: Query): void {
    const signature = required(query, 'signature');
    const expected = sortedSha1(this.#token, required(query, 'timestamp'), required(query, 'nonce'));
    if (!signaturesEqual(expected, signature)) throw new ChannelError(401, 'signature does not match');
  }
}

/** An Official Account channel (default path `/wx`). */
export function officialAccount(options: OfficialAccountOptions): OfficialAccountChannel {
  return new OfficialAccountChannel(options);
}
