import { createHash, randomInt } from 'node:crypto';
import { decrypt, encrypt, getSignature } from '@wecom/crypto';
import { buildXml, readXml, type Fields } from './xml.ts';

/**
 * How the peer talks: Official Accounts in plain, safe (ciphertext only) or compat
 * (plaintext and ciphertext side by side) mode; WeCom apps and KF are always encrypted.
 */
export type PeerMode = 'plain' | 'safe' | 'compat';
/** The kinds of callback a `WeChatPeer` sends: Official Account, WeCom app or KF. */
export type PeerKind = 'officialAccount' | 'wecomApp' | 'wecomKf';

/** Who the fake WeChat peer is: the bot's callback URL, the channel kind and its credentials. */
export interface WeChatPeerOptions {
  /** The bot's callback URL, e.g. `http://127.0.0.1:3000/wx`. */
  url: string;
  kind: PeerKind;
  token: string;
  encodingAESKey?: string;
  /** AppID (Official Account) or CorpID (WeCom, KF): the receiveid in every ciphertext. */
  receiveId: string;
  /** Official Account only; default 'safe' when a key is given, else 'plain'. */
  mode?: PeerMode;
  /** ToUserName of callbacks (Official Account original id; defaults to receiveId). */
  accountId?: string;
  /** WeCom AgentID put in callbacks. */
  agentId?: string | number;
}

/** What the bot answered a callback: status, raw body and the verified, decrypted reply. */
export interface PeerResponse {
  status: number;
  /** Raw HTTP body. */
  body: string;
  /** The reply's fields after verifying and decrypting it; undefined for `success`/empty. */
  reply?: Record<string, unknown>;
}

/** Replaces parts of a callback as sent (timestamp, nonce, signature) to test refusals and replays. */
export interface CallbackOverrides {
  timestamp?: string;
  nonce?: string;
  /** Replaces the computed signature (to test refusals). */
  signature?: string;
  /** Replaces the Encrypt element. */
  encrypt?: string;
  /** Encrypt with another receiveid (to test refusals). */
  receiveId?: string;
  /** Replaces the whole body. */
  body?: string;
}

/**
 * A fake WeChat server: signs (and encrypts) callbacks exactly as WeChat does, posts them to
 * the bot, and verifies and decrypts what comes back. Its crypto is Tencent's own
 * `@wecom/crypto` package, not wxbot's, so the two implementations check each other.
 */
export class WeChatPeer {
  readonly options: WeChatPeerOptions;

  constructor(options: WeChatPeerOptions) {
    this.options = options;
  }

  get mode(): PeerMode {
    if (this.options.kind !== 'officialAccount') return 'safe';
    return this.options.mode ?? (this.options.encodingAESKey ? 'safe' : 'plain');
  }

  /** Sends the URL verification GET WeChat sends when the URL is saved in the console. */
  async verify(overrides: CallbackOverrides = {}): Promise<{ status: number; body: string; expected: string }> {
    const timestamp = overrides.timestamp ?? stamp();
    const nonce = overrides.nonce ?? String(randomInt(1e9));
    const expected = String(randomInt(1e14));
    const query = new URLSearchParams({ timestamp, nonce });
    if (this.options.kind === 'officialAccount') {
      query.set('signature', overrides.signature ?? sha1Sorted(this.options.token, timestamp, nonce));
      query.set('echostr', expected);
    } else {
      const echostr = overrides.encrypt ?? encrypt(this.#key(), expected, overrides.receiveId ?? this.options.receiveId);
      query.set('msg_signature', overrides.signature ?? getSignature(this.options.token, timestamp, nonce, echostr));
      query.set('echostr', echostr);
    }
    const response = await fetch(`${this.options.url}?${query}`);
    return { status: response.status, body: await response.text(), expected };
  }

  /** Builds the query and body of a callback carrying `fields`, as WeChat would send it. */
  buildCallback(fields: Fields, overrides: CallbackOverrides = {}): { query: URLSearchParams; body: string } {
    const timestamp = overrides.timestamp ?? stamp();
    const nonce = overrides.nonce ?? String(randomInt(1e9));
    const query = new URLSearchParams({ timestamp, nonce });
    const plainXml = buildXml(fields);
    if (this.mode === 'plain') {
      query.set('signature', overrides.signature ?? sha1Sorted(this.options.token, timestamp, nonce));
      return { query, body: overrides.body ?? plainXml };
    }
    const ciphertext = overrides.encrypt ?? encrypt(this.#key(), plainXml, overrides.receiveId ?? this.options.receiveId);
    const msgSignature = overrides.signature ?? getSignature(this.options.token, timestamp, nonce, ciphertext);
    query.set('msg_signature', msgSignature);
    let envelope: Fields;
    if (this.options.kind === 'officialAccount') {
      query.set('signature', sha1Sorted(this.options.token, timestamp, nonce));
      query.set('encrypt_type', 'aes');
      const plainPart = this.mode === 'compat' ? fields : { ToUserName: fields['ToUserName'] };
      envelope = { ...plainPart, Encrypt: ciphertext };
    } else {
      envelope = { ToUserName: this.options.receiveId, Encrypt: ciphertext, AgentID: this.options.agentId ?? '' };
    }
    return { query, body: overrides.body ?? buildXml(envelope) };
  }

  /** Posts a callback with these fields and returns the verified, decrypted reply. */
  async post(fields: Fields, overrides: CallbackOverrides = {}): Promise<PeerResponse> {
    const { query, body } = this.buildCallback(fields, overrides);
    const response = await fetch(`${this.options.url}?${query}`, {
      method: 'POST',
      headers: { 'content-type': 'text/xml' },
      body,
    });
    const text = await response.text();
    return { status: response.status, body: text, reply: this.openReply(text, response.status) };
  }

  /** Verifies and decrypts a reply body; throws when its signature or receiveid is wrong. */
  openReply(body: string, status = 200): Record<string, unknown> | undefined {
    if (status !== 200 || body === '' || body === 'success') return undefined;
    const outer = readXml(body);
    if (outer['Encrypt'] === undefined) {
      if (this.mode !== 'plain') throw new Error('an encrypted callback got a plaintext reply');
      return outer;
    }
    const ciphertext = String(outer['Encrypt']);
    const expected = getSignature(this.options.token, String(outer['TimeStamp']), String(outer['Nonce']), ciphertext);
    if (expected !== outer['MsgSignature']) throw new Error('reply MsgSignature does not verify');
    const { message, id } = decrypt(this.#key(), ciphertext);
    if (id !== this.options.receiveId) throw new Error(`reply encrypted for ${id}, expected ${this.options.receiveId}`);
    return readXml(message);
  }

  /** A text message from `from`. */
  text(content: string, options: MessageOptions = {}): Promise<PeerResponse> {
    return this.post(this.message('text', { Content: content }, options));
  }

  /** The fields of a message callback of any type, with the usual envelope. */
  message(msgType: string, extra: Fields, options: MessageOptions = {}): Fields {
    return {
      ToUserName: this.options.accountId ?? this.options.receiveId,
      FromUserName: options.from ?? 'user-1',
      CreateTime: options.createTime ?? Math.floor(Date.now() / 1000),
      MsgType: msgType,
      ...extra,
      MsgId: msgType === 'event' ? undefined : (options.msgId ?? newMsgId()),
      ...(this.options.agentId !== undefined && { AgentID: this.options.agentId }),
    };
  }

  /** An event callback (`subscribe`, `CLICK`, `enter_agent`, …). */
  event(event: string, extra: Fields = {}, options: MessageOptions = {}): Promise<PeerResponse> {
    return this.post(this.message('event', { Event: event, ...extra }, options));
  }

  #key(): string {
    if (!this.options.encodingAESKey) throw new Error('this peer has no EncodingAESKey');
    return this.options.encodingAESKey;
  }
}

/** Sender, MsgId and CreateTime of a message the peer sends (fresh ones by default). */
export interface MessageOptions {
  from?: string;
  msgId?: string;
  createTime?: number;
}

function sha1Sorted(...parts: string[]): string {
  return createHash('sha1').update(parts.sort().join('')).digest('hex');
}

function stamp(): string {
  return String(Math.floor(Date.now() / 1000));
}

/** A 19-digit MsgId like WeChat's. */
export function newMsgId(): string {
  return `${randomInt(1e8, 9e8)}${String(randomInt(1e9)).padStart(10, '0')}`;
}
