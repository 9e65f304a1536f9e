import { randomBytes } from 'node:crypto';
import type { AiBotPayload, AiBotPeer, AiBotResponse, FakeWeChatApi, PolledStream } from '@wxbot/testing';
import type { SimulateType } from './simulateMessages.ts';

/** Message types `wxbot simulate --channel wecomAiBot` sends (the AI bot has no location or link). */
export const AIBOT_TYPES: readonly SimulateType[] = ['text', 'image', 'voice', 'event'];

/** One AI-bot callback to send, and a line saying what it is. */
export interface SimulatedAiBotMessage {
  payload: AiBotPayload;
  summary: string;
}

export interface AiBotMessageInput {
  type: SimulateType;
  text: string;
  from: string;
  /** A group chat id: the message comes from that group. */
  chatId?: string;
  /** The fake API, which issues response_urls and serves encrypted media. */
  api?: FakeWeChatApi;
  encodingAESKey: string;
}

/**
 * The JSON of an AI-bot callback of `type` built from the command's TEXT: a text's content, a
 * voice's recognition (WeCom sends no audio, only its transcript), an image (served encrypted by
 * the fake API when there is one), or `EVENT [KEY]` of an event (default `enter_chat`;
 * `template_card_event KEY [TASK_ID]`, `feedback_event [ID]`).
 */
export function aiBotMessage(peer: AiBotPeer, input: AiBotMessageInput): SimulatedAiBotMessage {
  const options = { from: input.from, ...(input.chatId !== undefined && { chatId: input.chatId }) };
  switch (input.type) {
    case 'text': {
      const content = input.text || 'hello';
      return { payload: peer.message('text', { content }, options), summary: `text: ${content}` };
    }
    case 'voice': {
      const content = input.text || '你好';
      return { payload: peer.message('voice', { content }, options), summary: `voice: recognition=${content}` };
    }
    case 'image': {
      const url = input.api ? input.api.aibot.mediaUrl(randomBytes(64), input.encodingAESKey) : 'https://example.com/simulated.png';
      return { payload: peer.message('image', { url }, options), summary: `image: ${url}` };
    }
    case 'event': {
      const [event = 'enter_chat', key, taskId] = input.text.split(/\s+/).filter(Boolean);
      const bodies: Record<string, AiBotPayload> = {
        template_card_event: { card_type: 'button_interaction', event_key: key ?? 'button', task_id: taskId ?? 'simulated-task' },
        feedback_event: { id: key ?? 'simulated-feedback', type: 1 },
      };
      return { payload: peer.eventPayload(event, bodies[event] ?? {}, options), summary: `event: ${event}${key ? ` ${key}` : ''}${taskId ? ` ${taskId}` : ''}` };
    }
    default:
      throw new Error(`the WeCom AI bot has no ${input.type} messages: --type must be one of ${AIBOT_TYPES.join(', ')}`);
  }
}

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);
const indent = (text: string): string => text.replaceAll('\n', '\n    ');

/** Describes a decrypted AI-bot answer that is not a stream: a welcome text, a card, a card update. */
export function describeAiBotReply(reply: Record<string, unknown>): string {
  if (reply['response_type'] === 'update_template_card') return `update_template_card: ${describeCard(reply['template_card'])}`;
  const type = String(reply['msgtype'] ?? '(no msgtype)');
  const body = isRecord(reply[type]) ? reply[type] : {};
  if (type === 'text' || type === 'markdown') return `${type}: ${indent(String(body['content'] ?? ''))}`;
  if (type === 'template_card') return `template_card: ${describeCard(body)}`;
  return `${type}: ${JSON.stringify(body)}`;
}

function describeCard(card: unknown): string {
  if (!isRecord(card)) return '(no card)';
  const title = isRecord(card['main_title']) ? String(card['main_title']['title'] ?? '') : '';
  return [String(card['card_type'] ?? '?'), title && `"${title}"`, card['task_id'] !== undefined && `task_id=${String(card['task_id'])}`].filter(Boolean).join(' ');
}

/**
 * Sends one callback and prints the answer as WeCom would show it: a stream's snapshots as
 * they grow (`… stream:` lines, each printed when it changed), then the finished answer
 * (`← stream …`). Returns the first answer's HTTP status, or throws as the peer does.
 */
export async function exchangeAiBot(peer: AiBotPeer, payload: AiBotPayload, print: (line: string) => void): Promise<{ response: AiBotResponse; stream?: PolledStream }> {
  let shown: string | undefined;
  const show = (stream: PolledStream) => {
    if (stream.finished) {
      print(`← stream (finished after ${stream.polls} poll${stream.polls === 1 ? '' : 's'}, ${Buffer.byteLength(stream.content)} bytes): ${indent(stream.content)}`);
    } else if (stream.content !== shown) {
      print(`… stream: ${stream.content === '' ? '(nothing yet)' : indent(stream.content)}`);
    }
    shown = stream.content;
  };
  const exchange = await peer.exchange(payload, {
    onFirst: (first) => {
      const stream = first.reply?.['stream'];
      if (first.reply?.['msgtype'] === 'stream' && isRecord(stream)) {
        const content = String(stream['content'] ?? '');
        show({ id: String(stream['id']), snapshots: [content], content, finished: stream['finish'] === true, expired: false, polls: 0 });
      }
    },
    onPoll: show,
  });
  const { first, stream } = exchange;
  if (first.status < 400 && !stream) print(first.reply ? `← ${describeAiBotReply(first.reply)}` : `← (no passive reply: ${first.body || 'empty body'})`);
  if (stream?.expired) print(`✗ the stream did not finish within WeCom's lifetime (${stream.polls} polls): WeCom stops polling and shows the last snapshot`);
  return { response: first, ...(stream && { stream }) };
}
