import { UnsupportedReplyError } from '../../reply/passiveXml.ts';
import type { Reply } from '../../reply/types.ts';
import type { Message } from '../../message/types.ts';
import { STREAM_CONTENT_LIMIT, cutUtf8, type StreamSnapshot } from './streams.ts';

/** A plaintext AI-bot reply body, before encryption. */
export type AiBotBody = Record<string, unknown>;

/** `msgtype: stream`: the full snapshot of a streamed answer. */
export function streamBody(snapshot: StreamSnapshot): AiBotBody {
  return { msgtype: 'stream', stream: { id: snapshot.id, finish: snapshot.finish, content: snapshot.content } };
}

/** What a passive reply to `message` is, in the shape WeCom allows for that message. */
export type PassiveShape =
  /** Text/markdown to a message: answered as a stream the channel creates (finished at once). */
  | { readonly kind: 'stream'; readonly text: string }
  /** The start of a stream the channel opened for `ctx.replyStream()`. */
  | { readonly kind: 'open'; readonly streamId: string }
  /** A ready body (welcome, card, card update). */
  | { readonly kind: 'body'; readonly body: AiBotBody };

/**
 * Works out the passive answer WeCom accepts for this reply to this message, or throws
 * UnsupportedReplyError (the bot then sends it through response_url).
 * - `enter_chat`: a welcome text or template card.
 * - `template_card_event`: a template card with the clicked card's task_id updates it.
 * - `feedback_event`: nothing (WeCom takes only an empty answer).
 * - any message: text or markdown become a stream, a template card is sent as one.
 */
export function passiveShape(message: Message, reply: Reply): PassiveShape {
  if (message.type === 'event') {
    if (message.event === 'enter_chat') {
      if (reply.type === 'text' || reply.type === 'markdown') return { kind: 'body', body: { msgtype: 'text', text: { content: reply.text } } };
      if (reply.type === 'templateCard') return { kind: 'body', body: { msgtype: 'template_card', template_card: reply.card } };
    } else if (message.event === 'template_card_event') {
      if (reply.type === 'templateCard') {
        const card = reply.card.task_id ? reply.card : { ...reply.card, task_id: message.taskId };
        return { kind: 'body', body: { response_type: 'update_template_card', template_card: card } };
      }
    }
    throw new UnsupportedReplyError(`a ${reply.type} reply to a ${message.event} event cannot be passive on the WeCom AI bot`);
  }
  if (reply.type === 'text' || reply.type === 'markdown') return { kind: 'stream', text: reply.text };
  if (reply.type === 'stream') return { kind: 'open', streamId: reply.streamId };
  if (reply.type === 'templateCard') return { kind: 'body', body: { msgtype: 'template_card', template_card: reply.card } };
  throw new UnsupportedReplyError(`the WeCom AI bot cannot answer with a ${reply.type} reply`);
}

/** The JSON for a response_url call: markdown (cut at 20480 bytes) or a template card. */
export function responseUrlBody(reply: Reply): { body: AiBotBody; truncated: boolean } {
  if (reply.type === 'text' || reply.type === 'markdown') {
    const content = cutUtf8(reply.text, STREAM_CONTENT_LIMIT);
    return { body: { msgtype: 'markdown', markdown: { content } }, truncated: content.length < reply.text.length };
  }
  if (reply.type === 'templateCard') return { body: { msgtype: 'template_card', template_card: reply.card }, truncated: false };
  throw new UnsupportedReplyError(`the WeCom AI bot's response_url takes markdown or a template card, not a ${reply.type}`);
}
