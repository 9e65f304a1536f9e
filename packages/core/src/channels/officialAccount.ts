import { WeChatApiClient, type MediaFile } from '../api/client.ts';
import { customSendBody } from '../api/replyJson.ts';
import type { WXBizMsgCrypt } from '../crypto/wxBizMsgCrypt.ts';
import { signaturesEqual, sortedSha1 } from '../crypto/signature.ts';
import { ChannelError } from '../errors.ts';
import { messageFromXml } from '../message/fromXml.ts';
import type { Recipient } from '../message/recipient.ts';
import type { Message } from '../message/types.ts';
import type { Reply, ReplyType } from '../reply/types.ts';
import { parseXml, type XmlFields } from '../xml.ts';
import { buildChannel, BaseChannel, COMMON_CHANNEL_KEYS, encodePassive, openEncryptedBody, required, type CommonChannelOptions } from './base.ts';
import type { KeysOf } from '../optionKeys.ts';
import type { CallbackResult, Channel, ChannelRuntime, MediaType, Query, UploadFile } from './types.ts';

/** Settings of an Official Account channel: app id and secret, token, EncodingAESKey and mode. */
export interface OfficialAccountOptions extends CommonChannelOptions {
  /** AppID (wx…): the receiveid of encrypted messages and the API credential. */
  appId: string;
  /** AppSecret, for the active API (replies after the window, media). */
  appSecret?: string;
  /** The Token set in the console (服务器配置). */
  token: string;
  /** EncodingAESKey: set it for safe or compat mode. */
  encodingAESKey?: string;
  /**
   * With an EncodingAESKey, plaintext callbacks are refused: their `signature` does not cover
   * the body, so anyone who saw one callback URL could forge messages. Set this only while
   * switching the console from plain to safe mode.
   */
  allowPlain?: boolean;
  /**
   * Access tokens from `stable_token` (default: the same token for every caller while it is
   * valid) or `token` (the classic endpoint, where each fetch replaces the token before).
   */
  tokenEndpoint?: 'stable_token' | 'token';
}

const PASSIVE: ReadonlySet<ReplyType> = new Set(['text', 'image', 'voice', 'video', 'music', 'news']);

const KEYS = {
  ...COMMON_CHANNEL_KEYS,
  appId: true,
  appSecret: true,
  token: true,
  encodingAESKey: true,
  allowPlain: true,
  tokenEndpoint: true,
} as const satisfies KeysOf<OfficialAccountOptions>;

/**
 * Official Account (公众号) callbacks: plain mode (`signature`) and safe/compat mode
 * (`encrypt_type=aes`, `msg_signature`), with passive replies encrypted when the request was.
 * Replies after the window go through `message/custom/send` when an AppSecret is set.
 */
export class OfficialAccountChannel extends BaseChannel implements Channel {
  readonly kind = 'officialAccount' as const;
  readonly passiveReplyTypes = PASSIVE;
  /** Customer-service messages allow 2048 characters; bytes keep Chinese text safe. */
  readonly textLimitBytes = 2048;
  readonly options: OfficialAccountOptions;
  readonly #token: string;
  readonly #crypt: WXBizMsgCrypt | undefined;
  #client: WeChatApiClient | undefined;

  constructor(options: OfficialAccountOptions) {
    super(options, { name: 'officialAccount', path: '/wx', keys: KEYS });
    if (!options.token) throw new Error(`channel ${this.name}: token is required`);
    this.options = options;
    this.#token = options.token;
    this.#crypt = options.encodingAESKey ? this.createCrypt(options.token, options.encodingAESKey, options.appId) : undefined;
  }

  override start(runtime: ChannelRuntime): void {
    super.start(runtime);
    if (this.options.appSecret) {
      this.#client = new WeChatApiClient({
        credential: { kind: 'officialAccount', appId: this.options.appId, secret: this.options.appSecret, tokenEndpoint: this.options.tokenEndpoint },
        baseUrl: this.options.apiBaseUrl,
        store: runtime.store,
        log: runtime.log,
        observer: runtime.metrics.apiObserver,
      });
    }
  }

  /** The API client (undefined without an AppSecret). */
  get api(): WeChatApiClient | undefined {
    return this.#client;
  }

  /** Whether `send` can reach the API (an AppSecret is configured). */
  get activeApi(): boolean {
    return this.#client !== undefined;
  }

  /** GET verification always uses the plain signature, in every mode; the replay window applies as to a POST. */
  verify(query: Query): string {
    this.#checkPlainSignature(query);
    this.checkFresh(required(query, 'timestamp'));
    return required(query, 'echostr', 400);
  }

  /**
   * Kept small (the two modes' checks in methods of their own, which its optimized code inlines):
   * V8 optimizes a function of at most 81 bytes of bytecode at its first budget tick, a larger one
   * after 3 + length/150 ticks, and this runs once a message (at 236 bytes it was compiled only
   * 2 000–3 000 messages in: bench/jitTrace.ts safe channel).
   */
  receive(query: Query, body: string): CallbackResult {
    const encrypted = query['encrypt_type'] === 'aes';
    const message = messageFromXml(encrypted ? this.#encryptedFields(query, body) : this.#plainFields(query, body), this.ref);
    return { kind: 'message', message, encodeReply: this.#encoder(message, encrypted ? this.#crypt : undefined) };
  }

  /** The decrypted fields of a safe/compat-mode callback. */
  #encryptedFields(query: Query, body: string): XmlFields {
    if (!this.#crypt) throw new ChannelError(400, 'encrypted callback but no EncodingAESKey is configured');
    // Compat mode also sends plaintext fields beside Encrypt: only the decrypted ones count.
    return openEncryptedBody(this.#crypt, query, body, this.checkFresh);
  }

  /** The fields of a plain-mode callback, refused when the account is set up for encryption. */
  #plainFields(query: Query, body: string): XmlFields {
    if (this.#crypt && !this.options.allowPlain) {
      throw new ChannelError(401, 'plaintext callback refused: this account is configured for encrypted (safe/compat) mode');
    }
    this.#checkPlainSignature(query);
    // Plain mode signs only timestamp and nonce: the window is what stops a replay with a new body.
    this.checkFresh(required(query, 'timestamp'));
    return parseXml(body);
  }

  /**
   * The passive encoder of one message. Returned from a method, not written as a property of
   * the result: run from sources by tsx, such a property's arrow gets its name set with
   * Object.defineProperty on every message (~0.3 µs).
   */
  #encoder(message: Message, crypt: WXBizMsgCrypt | undefined): (reply: Reply) => string {
    return (reply) => encodePassive(this.#fitNews(reply, message.type === 'event'), message.from, message.to, crypt);
  }

  /**
   * WeChat shows one news article in a passive answer to a user's message, up to 8 for events
   * (menu clicks, subscribe): the rest are dropped here, with a warning, rather than by WeChat.
   */
  #fitNews(reply: Reply, isEvent: boolean): Reply {
    const max = isEvent ? 8 : 1;
    if (reply.type !== 'news' || reply.articles.length <= max) return reply;
    this.log.warn({ articles: reply.articles.length, max }, 'news reply has more articles than WeChat shows passively; extra ones dropped');
    return { ...reply, articles: reply.articles.slice(0, max) };
  }

  /** message/custom/send (within 48 hours of the user's last message). */
  async send(to: Recipient, reply: Reply): Promise<void> {
    await this.requireClient(this.#client, 'send through the API (message/custom/send)').post('cgi-bin/message/custom/send', { touser: to.user, ...customSendBody(reply) });
  }

  downloadMedia(mediaId: string): Promise<MediaFile> {
    return this.requireClient(this.#client, 'download media').downloadMedia(mediaId);
  }

  uploadMedia(type: MediaType, file: UploadFile): Promise<string> {
    return this.requireClient(this.#client, 'upload media').uploadMedia(type, file);
  }

  /**
   * The operator's remark for each follower (cgi-bin/user/info; since December 2021 it no longer
   * returns nicknames, so a nickname is used only where an older account still gets one).
   * Needs the AppSecret; without it nobody is named.
   */
  async displayNames(users: readonly Recipient[]): Promise<Map<string, string>> {
    const names = new Map<string, string>();
    const client = this.#client;
    if (!client) return names;
    for (const openid of new Set(users.map((u) => u.user))) {
      const info = await client.get<{ remark?: string; nickname?: string }>('cgi-bin/user/info', { openid, lang: 'zh_CN' });
      const name = info.remark || info.nickname;
      if (name) names.set(openid, name);
    }
    return names;
  }

  describe(): Record<string, unknown> {
    const mode = this.#crypt ? (this.options.allowPlain ? 'safe/compat (plain accepted)' : 'safe/compat') : 'plain';
    return { appId: this.options.appId, mode, activeApi: Boolean(this.#client) };
  }

  #checkPlainSignature(query: Query): void {
    const signature = required(query, 'signature');
    const expected = sortedSha1(this.#token, required(query, 'timestamp'), required(query, 'nonce'));
    if (!signaturesEqual(expected, signature)) throw new ChannelError(401, 'signature does not match');
  }
}

/** An Official Account channel (default path `/wx`). */
export function officialAccount(options: OfficialAccountOptions): OfficialAccountChannel {
  return buildChannel('officialAccount', options, () => new OfficialAccountChannel(options));
}
