import { createHash } from 'node:crypto';
import type { Message } from './types.ts';

/**
 * Who an active message goes to: the user as the channel knows them (openid, WeCom userid,
 * KF external_userid), plus the KF account or WeCom agent where the API needs one.
 */
export interface Recipient {
  readonly user: string;
  /** KF: the account the customer talks to. */
  readonly openKfId?: string;
  /** WeCom app: the agent to send as (defaults to the channel's). */
  readonly agentId?: string;
  /** WeCom AI bot: the group chat (absent for a single chat). */
  readonly chatId?: string;
  /** WeCom AI bot: the message's response_url, the one active answer it allows. */
  readonly responseUrl?: string;
  /** WeCom app, answering a template_card_event: its response code (message/update_template_card, once, 72 h). */
  readonly responseCode?: string;
}

/** Options only some sends use. */
export interface SendOptions {
  /** KF: a welcome_code from enter_session, which allows one welcome message (~20 s). */
  readonly welcomeCode?: string;
  /** The id of the message this send answers (the WeCom AI bot answers on its req_id). */
  readonly inReplyTo?: string;
  /**
   * A stable id of this send: the same id means the same message, sent again after a crash
   * or a retry. KF passes it as `send_msg`'s client `msgid` (at most 32 of [0-9a-zA-Z_-]).
   */
  readonly sendId?: string;
}

/**
 * The stable send id of an outbox job's deterministic `key` (`<channel>:<msgId>:<n>[#<part>]`
 * for replies): 32 characters of [0-9a-zA-Z_-], so it fits KF's client msgid.
 */
export function sendIdOf(key: string): string {
  return createHash('sha256').update(key).digest('base64url').slice(0, 32);
}

/** The recipient of an answer to `message`: its sender, through the same account. */
export function recipientOf(message: Message): Recipient {
  return {
    user: message.from,
    ...(message.openKfId && { openKfId: message.openKfId }),
    ...(message.agentId && { agentId: message.agentId }),
    ...(message.chat?.id && { chatId: message.chat.id }),
    ...(message.responseUrl && { responseUrl: message.responseUrl }),
    ...(message.type === 'event' && message.event === 'template_card_event' && message.responseCode && { responseCode: message.responseCode }),
  };
}

const NO_SEND_OPTIONS: SendOptions = Object.freeze({});

/** Send options an answer to `message` may use. */
export function sendOptionsOf(message: Message): SendOptions {
  return message.type === 'event' && message.event === 'enter_session' && message.welcomeCode ? { welcomeCode: message.welcomeCode } : NO_SEND_OPTIONS;
}
