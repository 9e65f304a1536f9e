import type { Logger } from 'pino';
import type { ChannelKind, ChannelRef, Message } from '../message/types.ts';
import type { Recipient, SendOptions } from '../message/recipient.ts';
import type { Reply, ReplyType } from '../reply/types.ts';
import type { Store } from '../store/types.ts';
import type { Metrics } from '../metrics.ts';
import type { HandoffOptions, MediaType, UploadFile } from '../vocabulary.ts';
import type { MediaFile } from '../api/client.ts';

/** What a channel gets from the bot when it starts. */
export interface ChannelRuntime {
  readonly log: Logger;
  readonly store: Store;
  /** Runs the pipeline for a message that did not come with an HTTP request (KF sync). */
  dispatch(message: Message): Promise<void>;
  /**
   * Durable mode: stores messages with no HTTP response (a KF page) as jobs, in order;
   * resolves once they are safe (then a sync cursor may move past them).
   */
  enqueue?(messages: readonly Message[]): Promise<void>;
  readonly metrics: Metrics;
}

/** The query string of a callback, decoded. */
export type Query = Readonly<Record<string, string | undefined>>;

/** What a POST callback turned into. */
export type CallbackResult =
  /**
   * A message for the pipeline; `encodeReply` makes the passive HTTP body of a reply;
   * `acceptsPassive`, when given, narrows `passiveReplyTypes` for this message (a WeCom app
   * takes a card passively only as the update answering a card click).
   */
  | { readonly kind: 'message'; readonly message: Message; encodeReply(reply: Reply): string; acceptsPassive?(reply: Reply): boolean }
  /** Nothing for the pipeline now: answer `body` at once, then run `after` (KF sync). */
  | { readonly kind: 'ack'; readonly body: string; after?(): Promise<void> };

/**
 * A transport: it knows one WeChat protocol and nothing about plugins. The bot routes GET
 * and POST on `path` to it, runs the pipeline, and asks it to encode or send the replies.
 */
export interface Channel {
  readonly name: string;
  readonly kind: ChannelKind;
  readonly path: string;
  /** How long a passive reply may take before WeChat gets `success` and replies go active. */
  readonly replyWindowMs: number;
  /** Seconds a callback's signed timestamp may be away from now; false when not checked. Dedup marks outlive it. */
  readonly replayWindowSeconds?: number | false;
  /** Reply types this channel can put in the HTTP response. */
  readonly passiveReplyTypes: ReadonlySet<ReplyType>;
  /** Longest text one message may hold, in UTF-8 bytes (longer texts are split). */
  readonly textLimitBytes: number;
  readonly ref: ChannelRef;

  start(runtime: ChannelRuntime): void | Promise<void>;
  stop?(): void | Promise<void>;
  /** Answers the URL verification GET; throws a ChannelError when it must be refused. */
  verify(query: Query): string;
  /** Verifies, decrypts and parses a POST callback; throws ChannelError / WxCryptoError / XmlError. */
  receive(query: Query, body: string): CallbackResult;
  /** Sends through the platform's API (after the window, when passive is impossible, or unprompted). */
  send?(to: Recipient, reply: Reply, options?: SendOptions): Promise<void>;
  /**
   * False when `send` exists but has no credential to call the API with (an Official Account
   * or WeCom app configured without its secret): a text too long for one message then goes
   * passively as far as it fits, with a warning. Absent: `send` works when it exists.
   */
  readonly activeApi?: boolean;
  /** Hands a conversation to humans where the platform has a notion of it (KF); false elsewhere. */
  handoff?(to: Recipient, options: HandoffOptions): Promise<boolean>;
  /**
   * Whether {@link Channel.handoff} can move this conversation (`to`), or some conversation
   * of this channel (`to` omitted), to humans on the platform (KF). Absent: never.
   */
  canHandoff?(to?: Recipient): boolean;
  /**
   * Display names of users, where the platform gives them (Official Account: the operator's
   * remark from user/info, which no longer returns nicknames; KF: the WeChat nickname from
   * kf/customer/batchget), by `user`. Users it cannot name are left out.
   */
  displayNames?(users: readonly Recipient[]): Promise<Map<string, string>>;
  /**
   * Opens a stream that shows an answer while it is written (WeCom AI bot); undefined when this
   * message cannot be answered with one. Channels without it get streamed answers as one reply.
   */
  openStream?(message: Message, options: { passive: boolean }): ReplyStreamSink | undefined;
  /** Downloads a media file the user sent (media/get). */
  downloadMedia?(mediaId: string): Promise<MediaFile>;
  /** Uploads temporary media (media/upload) so a reply can carry it; returns its media_id. */
  uploadMedia?(type: MediaType, file: UploadFile): Promise<string>;
  /** KF session control, where the channel speaks WeChat Customer Service (undefined before start or without a secret). */
  readonly kfSessions?: KfSessions | undefined;
  /** What start-up prints about this channel (never a secret outside dev mode). */
  describe(): Record<string, unknown>;
}

/**
 * A channel's way of showing an answer while it is being written (the WeCom AI bot's
 * streams). Channels without one get the answer collected into one reply.
 */
export interface ReplyStreamSink {
  /**
   * The passive reply that opens the stream in the HTTP response; absent when the channel
   * pushes the stream itself (the AI bot's WebSocket mode).
   */
  readonly start?: Reply;
  /** Adds a chunk; the channel decides when the user sees it. */
  write(chunk: string): void;
  /** The source is done: finish the stream; resolves once everything (overflow too) is delivered. */
  end(): Promise<void>;
}

/**
 * WeChat Customer Service sessions, as a plugin may steer them (`scope.kf(channelName)`).
 * WeCom's state machine: 0 new, 1 bot, 2 waiting pool, 3 servicer, 4 ended; 0 and 1 may go
 * anywhere, 2 only to 3 or 4, 3 only to 4. Recipients need their `openKfId`.
 */
export interface KfSessions {
  /** The session's state and servicer (kf/service_state/get). */
  state(to: Recipient): Promise<{ readonly state: number; readonly servicerUserId?: string }>;
  /** Moves the session (kf/service_state/trans); state 3 needs the servicer's userid. */
  transfer(to: Recipient, state: number, servicerUserId?: string): Promise<void>;
  /** Sends the one message an event code allows (kf/send_msg_on_event: a welcome or a goodbye). */
  sendOnEvent(code: string, reply: Reply): Promise<void>;
}

export type { MediaType, UploadFile } from '../vocabulary.ts';
