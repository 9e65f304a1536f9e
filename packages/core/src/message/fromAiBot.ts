import { parseCommand } from './command.ts';
import type { ChannelRef, ChatRef, Message, MixedItem, QuotedContent, WeChatEvent } from './types.ts';

/** A decoded JSON object as WeCom sent it. */
export type AiBotJson = Readonly<Record<string, unknown>>;

const isRecord = (value: unknown): value is AiBotJson => typeof value === 'object' && value !== null && !Array.isArray(value);
const record = (value: unknown): AiBotJson => (isRecord(value) ? value : {});
const string = (value: unknown): string => (typeof value === 'string' ? value : typeof value === 'number' ? String(value) : '');
const optional = (value: unknown): string | undefined => string(value) || undefined;

/**
 * In group chats WeCom keeps the "@Bot " the user typed in front of the text. It is left out
 * of `text` so that commands and keyword rules match; `raw` keeps it.
 */
const MENTION = /^\s*@\S+[\s\u2005]+/;

/**
 * Normalizes the decrypted JSON of a WeCom AI-bot callback (HTTP or WebSocket mode) into the
 * one message model. Voice arrives as WeCom's speech-recognition text and becomes a text
 * message with `transcribedFrom`; unknown types become `other`, unknown events
 * `event: 'other'`: nothing is dropped. Stream refresh polls (`msgtype: 'stream'`) are the
 * channel's business and never get here.
 */
export function messageFromAiBot(json: AiBotJson, channel: ChannelRef): Message {
  const msgType = string(json['msgtype']);
  const from = record(json['from']);
  const chatType = string(json['chattype']) === 'group' ? 'group' : 'single';
  const chat: ChatRef = chatType === 'group' ? { type: 'group', id: optional(json['chatid']) } : { type: 'single' };
  const createTime = Number(json['create_time']);
  const quote = quoteOf(json['quote']);
  const base = {
    id: string(json['msgid']),
    channel,
    from: string(from['userid']),
    to: string(json['aibotid']),
    time: Number.isFinite(createTime) && createTime > 0 ? new Date(createTime * 1000) : new Date(),
    chat,
    ...(quote && { quote }),
    ...(optional(json['response_url']) && { responseUrl: string(json['response_url']) }),
    raw: json,
  };
  const body = record(json[msgType]);

  switch (msgType) {
    case 'text':
      return textMessage(base, string(body['content']), chatType === 'group');
    case 'voice': {
      // No audio reaches the bot: WeCom sends its own transcript in voice.content.
      const recognition = string(body['content']);
      const voice = { ...base, type: 'voice' as const, mediaId: '', recognition };
      return { ...textMessage(base, recognition, false), transcribedFrom: voice };
    }
    case 'mixed': {
      const items = mixedItems(body['msg_item']);
      let text = items.flatMap((item) => (item.type === 'text' ? [item.text] : [])).join('\n');
      const mentioned = chatType === 'group' && MENTION.test(text);
      if (mentioned) text = text.replace(MENTION, '');
      return { ...base, type: 'mixed', items, text };
    }
    case 'image':
      return { ...base, type: 'image', mediaId: string(body['url']), picUrl: optional(body['url']) };
    case 'file':
      return { ...base, type: 'file', mediaId: string(body['url']), ...(optional(body['filename']) && { fileName: string(body['filename']) }) };
    case 'video':
      return { ...base, type: 'video', mediaId: string(body['url']) };
    case 'event':
      return { ...base, type: 'event', ...eventOf(record(json['event'])) };
    default:
      return { ...base, type: 'other', msgType };
  }
}

function textMessage<B extends object>(base: B, content: string, group: boolean) {
  const mentioned = group && MENTION.test(content);
  const text = mentioned ? content.replace(MENTION, '') : content;
  const command = parseCommand(text);
  return { ...base, type: 'text' as const, text, ...(command && { command }), ...(mentioned && { mentioned }) };
}

function mixedItems(value: unknown): MixedItem[] {
  if (!Array.isArray(value)) return [];
  const items: MixedItem[] = [];
  for (const entry of value) {
    const item = record(entry);
    const type = string(item['msgtype']);
    if (type === 'text') items.push({ type: 'text', text: string(record(item['text'])['content']) });
    else if (type === 'image') items.push({ type: 'image', url: string(record(item['image'])['url']) });
  }
  return items;
}

function quoteOf(value: unknown): QuotedContent | undefined {
  if (!isRecord(value)) return undefined;
  const type = string(value['msgtype']);
  const body = record(value[type]);
  switch (type) {
    case 'text':
    case 'voice':
      return { type, text: string(body['content']) };
    case 'image':
    case 'file':
    case 'video':
      return { type, urls: [string(body['url'])] };
    case 'mixed': {
      const items = mixedItems(body['msg_item']);
      return {
        type,
        text: items.flatMap((i) => (i.type === 'text' ? [i.text] : [])).join('\n'),
        urls: items.flatMap((i) => (i.type === 'image' ? [i.url] : [])),
      };
    }
    default:
      return { type };
  }
}

function eventOf(event: AiBotJson): WeChatEvent {
  const name = string(event['eventtype']);
  const body = record(event[name]);
  switch (name) {
    case 'enter_chat':
      return { event: 'enter_chat' };
    case 'template_card_event': {
      const selected: Record<string, string[]> = {};
      const list = record(body['selected_items'])['selected_item'];
      for (const entry of Array.isArray(list) ? list : []) {
        const item = record(entry);
        const ids = record(item['option_ids'])['option_id'];
        selected[string(item['question_key'])] = Array.isArray(ids) ? ids.map(string) : [];
      }
      return { event: 'template_card_event', cardType: string(body['card_type']), eventKey: string(body['event_key']), taskId: string(body['task_id']), selected };
    }
    case 'feedback_event': {
      const reasons = body['inaccurate_reason_list'];
      return {
        event: 'feedback_event',
        feedbackId: string(body['id']),
        rating: Number(body['type']),
        ...(optional(body['content']) && { comment: string(body['content']) }),
        ...(Array.isArray(reasons) && { reasons: reasons.map(Number) }),
      };
    }
    default:
      return { event: 'other', name };
  }
}
