import { parseCommand, type ChannelKind, type Message } from '@wxbot/core';

/** Who sends, to whom, through which channel: the parts every message has. */
export interface MessageEnvelope {
  from?: string;
  to?: string;
  channel?: { name: string; kind: ChannelKind };
  id?: string;
  openKfId?: string;
}

let counter = 0;
const envelope = (e: MessageEnvelope = {}) => ({
  id: e.id ?? `test-${Date.now()}-${++counter}`,
  channel: e.channel ?? { name: 'officialAccount', kind: 'officialAccount' as ChannelKind },
  from: e.from ?? 'user-1',
  to: e.to ?? 'bot',
  time: new Date(),
  raw: {},
  ...(e.openKfId && { openKfId: e.openKfId }),
});

/** Message builders for tests: `await kit.send(text('你好'))`. */
export const text = (content: string, e?: MessageEnvelope): Message => {
  const command = parseCommand(content);
  return { ...envelope(e), type: 'text', text: content, ...(command && { command }) };
};
/** An image message for tests: `kit.send(image(mediaId))`. */
export const image = (mediaId: string, e?: MessageEnvelope): Message => ({ ...envelope(e), type: 'image', mediaId });
/** A voice message for tests, with WeChat's recognition when given. */
export const voice = (mediaId: string, options: { recognition?: string; format?: string } = {}, e?: MessageEnvelope): Message => ({
  ...envelope(e),
  type: 'voice',
  mediaId,
  format: options.format ?? 'amr',
  ...(options.recognition !== undefined && { recognition: options.recognition }),
});
/** An event message for tests: `subscribe`, `unsubscribe` or `enter_agent`. */
export const event = (name: 'subscribe' | 'unsubscribe' | 'enter_agent', e?: MessageEnvelope): Message => ({ ...envelope(e), type: 'event', event: name });
