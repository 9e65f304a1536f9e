import { randomBytes } from 'node:crypto';
import type { Fields, KfMessage } from '@wxbot/testing';
import { UsageError } from './usage.ts';

/** Message types `wxbot simulate --type` sends. */
export const SIMULATE_TYPES = ['text', 'image', 'voice', 'event', 'location', 'link'] as const;
export type SimulateType = (typeof SIMULATE_TYPES)[number];

/** One message to send: the callback's MsgType-specific fields, and a line saying what it is. */
export interface SimulatedMessage {
  msgType: string;
  fields: Fields;
  /** Media ids the message carries: the fake API serves them so the bot can download or echo them. */
  mediaIds: string[];
  summary: string;
}

/** The event `--type event` sends without a name, per channel kind (the AI bot's are in simulateAiBot.ts). */
const DEFAULT_EVENT: Record<string, string> = { officialAccount: 'subscribe', wecomApp: 'enter_agent', wecomKf: 'enter_session' };

const DEFAULT_LOCATION = { latitude: 23.1066, longitude: 113.3245, label: '广州塔' };

/**
 * The fields of a callback of `type` built from the command's TEXT: the content of a text,
 * the media id of an image, the recognition of a voice, `EVENT [KEY]` of an event,
 * `[LAT,LNG] [LABEL]` of a location, a URL or a title of a link.
 */
export function simulatedMessage(type: SimulateType, text: string, kind: string): SimulatedMessage {
  switch (type) {
    case 'text': {
      const content = text || 'hello';
      return { msgType: 'text', fields: { Content: content }, mediaIds: [], summary: `text: ${content}` };
    }
    case 'image': {
      const mediaId = text || mediaIdFor('image');
      return { msgType: 'image', fields: { PicUrl: 'https://example.com/simulated.png', MediaId: mediaId }, mediaIds: [mediaId], summary: `image: media_id=${mediaId}` };
    }
    case 'voice': {
      const mediaId = mediaIdFor('voice');
      // WeChat fills Recognition when speech recognition is on: TEXT plays that part.
      const recognition = text ? { Recognition: text } : {};
      return {
        msgType: 'voice',
        fields: { MediaId: mediaId, Format: 'amr', ...recognition },
        mediaIds: [mediaId],
        summary: `voice: media_id=${mediaId}${text ? ` recognition=${text}` : ''}`,
      };
    }
    case 'event': {
      const [event = DEFAULT_EVENT[kind] ?? 'subscribe', ...key] = text.split(/\s+/).filter(Boolean);
      const eventKey = key.join(' ');
      // KF's only customer event is enter_session (the rest are WeCom's about its servicers):
      // refuse another name instead of sending something other than what the summary says.
      if (kind === 'wecomKf' && event !== 'enter_session') {
        throw new UsageError(`WeChat Customer Service (wecomKf) takes --type event "enter_session [SCENE_PARAM]" only (got "${event}")`);
      }
      const summary = `event: ${event}${eventKey ? ` ${eventKey}` : ''}`;
      return { msgType: 'event', fields: { Event: event, ...(eventKey && { EventKey: eventKey }) }, mediaIds: [], summary };
    }
    case 'location': {
      const { latitude, longitude, label } = parseLocation(text);
      return {
        msgType: 'location',
        fields: { Location_X: latitude, Location_Y: longitude, Scale: 15, Label: label },
        mediaIds: [],
        summary: `location: ${latitude},${longitude} ${label}`,
      };
    }
    case 'link': {
      const isUrl = /^https?:\/\//i.test(text);
      const url = isUrl ? text : 'https://example.com/';
      const title = !isUrl && text ? text : 'A simulated link';
      return { msgType: 'link', fields: { Title: title, Description: '', Url: url }, mediaIds: [], summary: `link: ${title} <${url}>` };
    }
  }
}

/**
 * The same message as an item of KF's sync_msg (KF has no callback body of its own: the
 * callback only says messages are waiting). An event (always enter_session, see
 * {@link simulatedMessage}) is queued by the caller, with its key as the scene_param.
 */
export function kfMessageOf(message: SimulatedMessage, from: string): Partial<KfMessage> {
  const f = message.fields;
  const bodies: Record<string, Record<string, unknown>> = {
    text: { content: f['Content'] },
    image: { media_id: f['MediaId'] },
    voice: { media_id: f['MediaId'] },
    location: { latitude: f['Location_X'], longitude: f['Location_Y'], name: f['Label'], address: '' },
    link: { title: f['Title'], desc: f['Description'], url: f['Url'], pic_url: '' },
  };
  return { msgtype: message.msgType, [message.msgType]: bodies[message.msgType] ?? {}, external_userid: from };
}

function parseLocation(text: string): { latitude: number; longitude: number; label: string } {
  const match = /^\s*(-?\d+(?:\.\d+)?)\s*,\s*(-?\d+(?:\.\d+)?)\s*(.*)$/.exec(text);
  if (!match) return { ...DEFAULT_LOCATION, label: text || DEFAULT_LOCATION.label };
  return { latitude: Number(match[1]), longitude: Number(match[2]), label: match[3] ?? '' };
}

function mediaIdFor(type: string): string {
  return `sim-${type}-${randomBytes(6).toString('hex')}`;
}
