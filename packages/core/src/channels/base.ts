import type { Logger } from 'pino';
import type { WeChatApiClient } from '../api/client.ts';
import { WXBizMsgCrypt } from '../crypto/wxBizMsgCrypt.ts';
import { ChannelError } from '../errors.ts';
import type { ChannelKind, ChannelRef } from '../message/types.ts';
import { passiveReplyXml } from '../reply/passiveXml.ts';
import type { Reply, ReplyType } from '../reply/types.ts';
import { encryptedPayload, parseXml, type XmlFields } from '../xml.ts';
import type { ChannelRuntime, Query } from './types.ts';

/** Options every channel takes. */
export interface CommonChannelOptions {
  /** Origin of the WeChat API (a proxy, or the tests' fake server). */
  apiBaseUrl?: string;
  /** Unique name (logs, routing by `bot.channel(name)`, store keys). Defaults to the kind. */
  name?: string;
  /** HTTP path of the callback URL. */
  path?: string;
  /** Passive reply window in ms (default 4000: WeChat gives up after 5 s). */
  replyWindowMs?: number;
}

/** Reads a required query parameter or refuses the request. */
export function required(query: Query, name: string, status = 401): string {
  const value: unknown = query[name];
  if (Array.isArray(value)) throw new ChannelError(400, `repeated query parameter ${name}`);
  if (typeof value !== 'string' || !value) throw new ChannelError(status, `missing ${name}`);
  return value;
}

/** The current time as WeChat's second-precision timestamp string, and a fresh nonce. */
export function stampAndNonce(): { timestamp: string; nonce: string } {
  return { timestamp: String(Math.floor(Date.now() / 1000)), nonce: String(Math.floor(Math.random() * 1e10)) };
}

/**
 * Opens an encrypted POST body: `<xml><Encrypt>…</Encrypt>…</xml>` with msg_signature,
 * timestamp and nonce in the query. Returns the fields of the decrypted inner XML.
 */
export function openEncryptedBody(crypt: WXBizMsgCrypt, query: Query, body: string): XmlFields {
  const signature = required(query, 'msg_signature');
  const timestamp = required(query, 'timestamp');
  const nonce = required(query, 'nonce');
  const encrypted = encryptedPayload(body);
  if (!encrypted) throw new ChannelError(400, 'missing Encrypt element');
  // Verify, then decrypt, then parse: the parser only ever sees authenticated plaintext.
  return parseXml(crypt.open(signature, timestamp, nonce, encrypted));
}

/** WeCom-style URL verification: check msg_signature over echostr, answer its plaintext. */
export function verifyEncryptedUrl(crypt: WXBizMsgCrypt, query: Query): string {
  // The query decoder turned a literal '+' of the base64 into a space: put it back.
  const echostr = required(query, 'echostr', 400).replaceAll(' ', '+');
  return crypt.open(required(query, 'msg_signature'), required(query, 'timestamp'), required(query, 'nonce'), echostr);
}

/** Encodes a passive reply, encrypting it when the request was encrypted. */
export function encodePassive(reply: Reply, to: string, from: string, crypt: WXBizMsgCrypt | undefined): string {
  const xml = passiveReplyXml(reply, to, from, Date.now());
  if (!crypt) return xml;
  const { timestamp, nonce } = stampAndNonce();
  return crypt.seal(xml, timestamp, nonce);
}

/** The parts of a channel that do not depend on its protocol. */
export abstract class BaseChannel {
  abstract readonly kind: ChannelKind;
  abstract readonly passiveReplyTypes: ReadonlySet<ReplyType>;
  readonly name: string;
  readonly path: string;
  readonly replyWindowMs: number;
  protected runtime: ChannelRuntime | undefined;

  constructor(options: CommonChannelOptions, defaults: { name: string; path: string }) {
    this.name = options.name ?? defaults.name;
    this.path = options.path ?? defaults.path;
    this.replyWindowMs = options.replyWindowMs ?? 4000;
    if (!this.path.startsWith('/')) throw new Error(`channel ${this.name}: path must start with "/"`);
  }

  #ref: ChannelRef | undefined;
  get ref(): ChannelRef {
    return (this.#ref ??= { name: this.name, kind: this.kind });
  }

  start(runtime: ChannelRuntime): void | Promise<void> {
    this.runtime = runtime;
  }

  protected get log(): Logger {
    if (!this.runtime) throw new Error(`channel ${this.name} used before start()`);
    return this.runtime.log;
  }

  /** The channel's cipher; a bad EncodingAESKey is reported with the channel's name. */
  protected createCrypt(token: string, encodingAESKey: string, receiveId: string): WXBizMsgCrypt {
    try {
      return new WXBizMsgCrypt(token, encodingAESKey, receiveId);
    } catch (error) {
      throw new Error(`channel "${this.name}" (${this.kind}): ${(error as Error).message}`);
    }
  }

  /** The API client, or a clear error naming what is missing in the config. */
  protected requireClient(client: WeChatApiClient | undefined, what: string): WeChatApiClient {
    if (!client) throw new Error(`channel "${this.name}" cannot ${what}: no API credential (secret) is configured`);
    return client;
  }
}
