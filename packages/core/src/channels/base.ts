import type { Logger } from 'pino';
import type { WeChatApiClient } from '../api/client.ts';
import { WXBizMsgCrypt } from '../crypto/wxBizMsgCrypt.ts';
import { ChannelError } from '../errors.ts';
import type { ChannelKind, ChannelRef } from '../message/types.ts';
import { passiveReplyXml, passiveTextReplyParts } from '../reply/passiveXml.ts';
import type { Reply, ReplyType } from '../reply/types.ts';
import { encryptedPayload, parseXmlBytes, type XmlFields } from '../xml.ts';
import type { Channel, ChannelRuntime, Query } from './types.ts';
import { recordConfigError } from '../pluginOptions.ts';
import { checkKeys, type KeyShape, type KeysOf, type UnknownOptionError } from '../optionKeys.ts';

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
  /**
   * Replay window: a POST whose signed `timestamp` is further than this from the server's
   * clock is refused (401), so a captured callback cannot be replayed later. Default
   * {@link DEFAULT_REPLAY_WINDOW_SECONDS}; `false` turns the check off (a server whose clock
   * cannot be kept in sync: then only dedup stops replays, for as long as its marks live).
   */
  replayWindowSeconds?: number | false;
}

/**
 * WeChat retries an unanswered callback twice, 5 s apart (all tries within ~15 s of the
 * first), and signs each with the time of sending; 5 minutes on top of that absorb clock
 * skew between WeChat and this server.
 */
export const DEFAULT_REPLAY_WINDOW_SECONDS = 5 * 60 + 15;

/** The keys of {@link CommonChannelOptions}, for each channel's unknown-option check. */
export const COMMON_CHANNEL_KEYS = {
  apiBaseUrl: true,
  name: true,
  path: true,
  replyWindowMs: true,
  replayWindowSeconds: true,
} as const satisfies KeysOf<CommonChannelOptions>;

/** Reads a required query parameter or refuses the request. */
export function required(query: Query, name: string, status = 401): string {
  const value: unknown = query[name];
  if (Array.isArray(value)) throw new ChannelError(400, `repeated query parameter ${name}`);
  if (typeof value !== 'string' || !value) throw new ChannelError(status, `missing ${name}`);
  return value;
}

/** The current time as WeChat's second-precision timestamp string, and a fresh nonce (a random integer below 10¹⁰). */
export function stampAndNonce(): { timestamp: string; nonce: string } {
  // The nonce's digits by toFixed, not String(): V8 keeps each number String() converts, and
  // its string, in a table of the last ~16 000 (the number-string cache, old generation), so a
  // new random nonce each answer stayed alive for thousands of answers and was promoted: ~40 B a
  // message (bench/promoted.ts, safe at 3 000 req/s). Its text from two five-digit halves
  // (integerText, ca851fa) still converted two random numbers each time: 23 B of old generation
  // a nonce against 1 B (microbench), at the same speed (108–237 against 153–239 ns).
  return { timestamp: String(Math.floor(Date.now() / 1000)), nonce: Math.floor(Math.random() * 1e10).toFixed(0) };
}

/**
 * Opens an encrypted POST body: `<xml><Encrypt>…</Encrypt>…</xml>` with msg_signature,
 * timestamp and nonce in the query. Returns the fields of the decrypted inner XML.
 * Order matters: a bounded scan for Encrypt, the signature, the timestamp (`checkFresh`),
 * then decryption and parsing: nothing unauthenticated reaches the parser.
 */
export function openEncryptedBody(crypt: WXBizMsgCrypt, query: Query, body: string, checkFresh: (timestamp: string) => void = () => {}): XmlFields {
  const signature = required(query, 'msg_signature');
  const timestamp = required(query, 'timestamp');
  const nonce = required(query, 'nonce');
  const encrypted = encryptedPayload(body);
  if (!encrypted) throw new ChannelError(400, 'missing Encrypt element');
  crypt.verify(signature, timestamp, nonce, encrypted);
  checkFresh(timestamp);
  return parseXmlBytes(crypt.decryptBytes(encrypted));
}

/**
 * WeCom-style URL verification: check msg_signature over echostr, then the timestamp
 * (`checkFresh`, as for a POST), and answer echostr's plaintext.
 */
export function verifyEncryptedUrl(crypt: WXBizMsgCrypt, query: Query, checkFresh: (timestamp: string) => void = () => {}): string {
  // The query decoder turned a literal '+' of the base64 into a space: put it back.
  const echostr = required(query, 'echostr', 400).replaceAll(' ', '+');
  const timestamp = required(query, 'timestamp');
  crypt.verify(required(query, 'msg_signature'), timestamp, required(query, 'nonce'), echostr);
  checkFresh(timestamp);
  return crypt.decrypt(echostr);
}

/** Encodes a passive reply, encrypting it when the request was encrypted. */
export function encodePassive(reply: Reply, to: string, from: string, crypt: WXBizMsgCrypt | undefined): string {
  if (crypt && reply.type === 'text') {
    const { timestamp, nonce } = stampAndNonce();
    return crypt.seal(passiveTextReplyParts(reply.text, to, from, Date.now()), timestamp, nonce);
  }
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
  /** Seconds a signed timestamp may be away from now (false: not checked). */
  readonly replayWindowSeconds: number | false;
  protected runtime: ChannelRuntime | undefined;

  /**
   * `defaults.keys`: every option the channel takes; a key not among them (a typo such as
   * `appid`) throws an {@link UnknownOptionError} naming it, with a did-you-mean.
   */
  constructor(options: CommonChannelOptions, defaults: { name: string; path: string; keys?: KeyShape }) {
    if (defaults.keys) checkKeys(`channel "${options.name ?? defaults.name}" (${defaults.name})`, options, defaults.keys);
    this.name = options.name ?? defaults.name;
    this.path = options.path ?? defaults.path;
    this.replyWindowMs = options.replyWindowMs ?? 4000;
    this.replayWindowSeconds = options.replayWindowSeconds ?? DEFAULT_REPLAY_WINDOW_SECONDS;
    if (this.replayWindowSeconds !== false && !(this.replayWindowSeconds > 0)) throw new Error(`channel ${this.name}: replayWindowSeconds must be a positive number or false`);
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

  /**
   * Refuses a signed timestamp outside the replay window (call it after the signature
   * check: only then is the timestamp WeChat's). Bound as an arrow for openEncryptedBody.
   */
  protected readonly checkFresh = (timestamp: string): void => {
    const window = this.replayWindowSeconds;
    if (window === false) return;
    const seconds = Number(timestamp);
    if (!/^\d{1,12}$/.test(timestamp)) throw new ChannelError(400, 'timestamp is not a number of seconds');
    const skew = Math.round(Date.now() / 1000 - seconds);
    if (Math.abs(skew) > window) {
      throw new ChannelError(401, `timestamp outside the replay window (${skew > 0 ? `${skew} s old` : `${-skew} s ahead`}; window ±${window} s)`);
    }
  };

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

/**
 * What a channel factory returns while a config loads (see `collectPluginOptionErrors`) when
 * the channel's settings are wrong: the error is recorded, to be reported with every other
 * channel's and plugin's, and any use of this stand-in throws it.
 */
class FailedChannel implements Channel {
  readonly replyWindowMs = 0;
  readonly passiveReplyTypes: ReadonlySet<ReplyType> = new Set();
  readonly textLimitBytes = 0;
  constructor(
    readonly kind: ChannelKind,
    readonly name: string,
    readonly path: string,
    readonly error: Error,
  ) {}
  get ref(): ChannelRef {
    return { name: this.name, kind: this.kind };
  }
  start(): never {
    throw this.error;
  }
  verify(): never {
    throw this.error;
  }
  receive(): never {
    throw this.error;
  }
  describe(): never {
    throw this.error;
  }
}

/**
 * A channel factory's body: `build()`, whose error (wrong settings) is thrown at once, except
 * while a config loads, where it is recorded and a stand-in returned, so that the errors of
 * every channel are reported together rather than the first one's alone.
 */
export function buildChannel<T extends Channel>(kind: ChannelKind, options: unknown, build: () => T): T {
  try {
    return build();
  } catch (error) {
    if (!(error instanceof Error) || !recordConfigError(error)) throw error;
    const { name, path } = (options ?? {}) as { name?: unknown; path?: unknown };
    return new FailedChannel(kind, typeof name === 'string' ? name : kind, typeof path === 'string' ? path : '', error) as unknown as T;
  }
}
