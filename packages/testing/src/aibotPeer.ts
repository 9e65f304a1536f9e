import { randomBytes, randomInt } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { decrypt, encrypt, getSignature } from '@wecom/crypto';
import type { FakeWeChatApi } from './fakeApi.ts';

/** A JSON object as the AI bot sends or receives it. */
export type AiBotPayload = Record<string, unknown>;

/** Who the fake WeCom AI bot peer is: the bot's callback URL, token and key, the fake API, and how it polls. */
export interface AiBotPeerOptions {
  /** The bot's callback URL, e.g. `http://127.0.0.1:3000/wecom/aibot`. */
  url: string;
  /** Token and EncodingAESKey of the bot's API settings. */
  token: string;
  encodingAESKey: string;
  /** aibotid put in callbacks (default 'aibot-test'). */
  botId?: string;
  /** Fake API that issues each message's response_url and serves media (else no response_url). */
  api?: FakeWeChatApi;
  /** How often WeCom polls a stream (undocumented; default 1000 ms). */
  pollIntervalMs?: number;
  /** When WeCom stops polling, counted from the message (default 6 minutes). */
  streamLifetimeMs?: number;
}

/** What the bot answered an AI bot callback or stream poll: status, raw body and the decrypted JSON. */
export interface AiBotResponse {
  status: number;
  /** Raw HTTP body. */
  body: string;
  /** The verified, decrypted reply JSON; undefined for an empty body. */
  reply?: AiBotPayload;
}

/** One stream as WeCom saw it through its polls. */
export interface PolledStream {
  id: string;
  /** The content of each answer, the first (to the message) included, in order. */
  snapshots: string[];
  /** The last content shown. */
  content: string;
  finished: boolean;
  /** True when WeCom gave up (lifetime over) before a finish. */
  expired: boolean;
  /** Poll requests made (the first answer is not one). */
  polls: number;
}

/** Watches an exchange as it happens (the CLI prints snapshots as WeCom would show them). */
export interface StreamWatcher {
  onFirst?(first: AiBotResponse): void;
  onPoll?(stream: PolledStream): void;
}

/** What happened to one message: the first answer, and the stream WeCom polled if there was one. */
export interface AiBotExchange {
  msgid: string;
  responseUrl: string | undefined;
  first: AiBotResponse;
  stream?: PolledStream;
}

/** Sender, msgid, group and response_url of a message the AI bot peer sends. */
export interface AiBotMessageOptions {
  from?: string;
  msgid?: string;
  /** A group chat id: the message is a group message. */
  chatId?: string;
  quote?: AiBotPayload;
  /** Leave out response_url (as stream polls do). */
  noResponseUrl?: boolean;
}

/**
 * A fake WeCom that drives an AI bot in callback mode: it encrypts JSON callbacks with
 * Tencent's `@wecom/crypto` (receiveid ""), verifies and decrypts the answers, and polls
 * streams the way WeCom does (`msgtype: stream` refreshes at an interval until `finish`, or
 * until the 6-minute lifetime is over). Each message gets a response_url from the fake API.
 */
export class AiBotPeer {
  readonly options: AiBotPeerOptions;

  constructor(options: AiBotPeerOptions) {
    this.options = options;
  }

  /** The URL verification GET; `expected` is the plaintext the bot must echo. */
  async verify(overrides: { signature?: string; timestamp?: string } = {}): Promise<{ status: number; body: string; expected: string }> {
    const timestamp = overrides.timestamp ?? stamp();
    const nonce = String(randomInt(1e9));
    const expected = String(randomInt(1e14));
    const echostr = encrypt(this.options.encodingAESKey, expected, '');
    const query = new URLSearchParams({ msg_signature: overrides.signature ?? getSignature(this.options.token, timestamp, nonce, echostr), timestamp, nonce, echostr });
    const response = await fetch(`${this.options.url}?${query}`);
    return { status: response.status, body: await response.text(), expected };
  }

  /** Posts a callback carrying `payload`, as WeCom does, and returns the verified reply. */
  async post(payload: AiBotPayload, overrides: { signature?: string; body?: string; timestamp?: string } = {}): Promise<AiBotResponse> {
    const timestamp = overrides.timestamp ?? stamp();
    const nonce = String(randomInt(1e9));
    const ciphertext = encrypt(this.options.encodingAESKey, JSON.stringify(payload), '');
    const query = new URLSearchParams({ msg_signature: overrides.signature ?? getSignature(this.options.token, timestamp, nonce, ciphertext), timestamp, nonce });
    const response = await fetch(`${this.options.url}?${query}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: overrides.body ?? JSON.stringify({ encrypt: ciphertext }),
    });
    const body = await response.text();
    return { status: response.status, body, reply: response.status === 200 ? this.openReply(body) : undefined };
  }

  /** Verifies and decrypts an encrypted JSON reply; throws when it does not verify. */
  openReply(body: string): AiBotPayload | undefined {
    if (body === '' || body === 'success') return undefined;
    const envelope = JSON.parse(body) as { encrypt?: string; msgsignature?: string; timestamp?: string | number; nonce?: string };
    if (typeof envelope.encrypt !== 'string') throw new Error(`reply is not an encrypted envelope: ${body.slice(0, 80)}`);
    const expected = getSignature(this.options.token, String(envelope.timestamp), String(envelope.nonce), envelope.encrypt);
    if (expected !== envelope.msgsignature) throw new Error('reply msgsignature does not verify');
    const { message, id } = decrypt(this.options.encodingAESKey, envelope.encrypt);
    if (id !== '') throw new Error(`reply encrypted for receiveid "${id}", the AI bot uses ""`);
    return JSON.parse(message) as AiBotPayload;
  }

  /** The JSON of a message callback with the usual envelope. */
  message(msgtype: string, body: AiBotPayload | undefined, options: AiBotMessageOptions = {}): AiBotPayload {
    const group = options.chatId !== undefined;
    const responseUrl = options.noResponseUrl ? undefined : this.options.api?.aibot.responseUrl();
    return {
      msgid: options.msgid ?? newAiBotMsgId(),
      aibotid: this.options.botId ?? 'aibot-test',
      ...(group && { chatid: options.chatId }),
      chattype: group ? 'group' : 'single',
      from: { userid: options.from ?? 'user-1' },
      ...(responseUrl && { response_url: responseUrl }),
      msgtype,
      ...(body && { [msgtype]: body }),
      ...(options.quote && { quote: options.quote }),
    };
  }

  /** An event callback (`enter_chat`, `template_card_event`, `feedback_event`). */
  eventPayload(eventtype: string, body: AiBotPayload = {}, options: AiBotMessageOptions = {}): AiBotPayload {
    const payload = this.message('event', undefined, options);
    return { ...payload, create_time: Math.floor(Date.now() / 1000), event: { eventtype, [eventtype]: body } };
  }

  /** Sends a text and follows the answer's stream to its end, polling like WeCom. */
  text(content: string, options: AiBotMessageOptions = {}): Promise<AiBotExchange> {
    return this.exchange(this.message('text', { content }, options));
  }

  /**
   * Sends any callback and follows the stream of its answer, if the answer is one.
   * `onFirst` sees the first answer before any poll; `onPoll` sees the stream after each poll.
   */
  async exchange(payload: AiBotPayload, watch: StreamWatcher = {}): Promise<AiBotExchange> {
    const started = Date.now();
    const first = await this.post(payload);
    const result: AiBotExchange = { msgid: String(payload['msgid']), responseUrl: payload['response_url'] as string | undefined, first };
    watch.onFirst?.(first);
    const stream = first.reply?.['msgtype'] === 'stream' ? (first.reply['stream'] as { id: string; finish?: boolean; content?: string }) : undefined;
    if (stream) result.stream = await this.follow(stream, started, payload, watch);
    return result;
  }

  /** Polls a stream until it finishes or WeCom's lifetime for it is over. */
  async follow(first: { id: string; finish?: boolean; content?: string }, started: number, origin: AiBotPayload, watch: StreamWatcher = {}): Promise<PolledStream> {
    const polled: PolledStream = { id: first.id, snapshots: [first.content ?? ''], content: first.content ?? '', finished: first.finish === true, expired: false, polls: 0 };
    const interval = this.options.pollIntervalMs ?? 1000;
    const lifetime = this.options.streamLifetimeMs ?? 6 * 60_000;
    while (!polled.finished) {
      await sleep(interval);
      if (Date.now() - started >= lifetime) {
        polled.expired = true;
        break;
      }
      const answer = await this.poll(first.id, origin);
      polled.polls += 1;
      const stream = answer.reply?.['stream'] as { id?: string; finish?: boolean; content?: string } | undefined;
      if (answer.status !== 200 || !stream) throw new Error(`stream poll got HTTP ${answer.status}: ${answer.body.slice(0, 120)}`);
      if (stream.id !== first.id) throw new Error(`stream poll for ${first.id} answered stream ${stream.id}`);
      polled.snapshots.push(stream.content ?? '');
      polled.content = stream.content ?? polled.content;
      polled.finished = stream.finish === true;
      watch.onPoll?.(polled);
    }
    return polled;
  }

  /** One refresh poll (sample B of the docs): same chat and user, a new msgid, no response_url. */
  poll(streamId: string, origin: AiBotPayload = {}): Promise<AiBotResponse> {
    return this.post({
      msgid: newAiBotMsgId(),
      aibotid: origin['aibotid'] ?? this.options.botId ?? 'aibot-test',
      ...(origin['chatid'] !== undefined && { chatid: origin['chatid'] }),
      chattype: origin['chattype'] ?? 'single',
      from: origin['from'] ?? { userid: 'user-1' },
      msgtype: 'stream',
      stream: { id: streamId },
    });
  }
}

function stamp(): string {
  return String(Math.floor(Date.now() / 1000));
}

/** A msgid shaped like the AI bot's (base64 of a protobuf-ish id). */
export function newAiBotMsgId(): string {
  return randomBytes(21).toString('base64');
}
