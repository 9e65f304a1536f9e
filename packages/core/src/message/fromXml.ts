import { field, fieldText, type XmlFields } from '../xml.ts';
import { parseCommand } from './command.ts';
import { selectedItems, typedXmlEvent } from './typedEvents.ts';
import type { ChannelRef, Message, WeChatEvent } from './types.ts';

const optional = (value: string): string | undefined => (value === '' ? undefined : value);

/**
 * The MsgTypes WeChat sends, each mapped to itself: a known one is looked up instead of
 * lower-cased, and comes back as the literal the switch below compares. In a callback with any
 * Chinese in it every field is a two-byte string, whose toLowerCase goes through ICU: ~55
 * against ~15 ns a message (measured).
 */
const MSG_TYPES = new Map(['text', 'image', 'voice', 'video', 'shortvideo', 'location', 'link', 'file', 'miniprogrampage', 'miniprogram', 'event'].map((type) => [type, type]));
const optionalNumber = (value: string): number | undefined => (value === '' ? undefined : Number(value));

/**
 * A leaf field's text ('' when absent): messageFromXml reads each field as `fields['Name']` and
 * hands the value here, a load site of its own for each name (see {@link fieldText}; field()'s
 * shared keyed load was ~150 instructions a field, 8 fields a message: bench/callgrindJs.ts,
 * KeyedLoadIC_Megamorphic).
 */
const text = fieldText;

/**
 * Normalizes the decrypted XML of an Official Account or WeCom app callback.
 * Unknown message types become `other`, unknown events `event: 'other'`: nothing is dropped.
 *
 * Each message is one object literal with its fields in the same order (no `bind`, no
 * spreads): V8 then builds it with a fixed shape, ~20× faster than merging a base object
 * into each type (3.1 → 0.17 µs, measured for the issue), and this runs for every callback.
 *
 * Texts are built here, every other type in {@link otherFromXml}: V8 optimizes a function after
 * 3 + (its bytecode length / 150) ticks of its interrupt budget, so with all the types in one
 * function (1.6 KB of bytecode: 13 ticks) a fresh bot ran this in its slower tiers for its first
 * ~3 000 messages (bench/jitTrace.ts: compiled in callbacks 3001–4000).
 */
export function messageFromXml(fields: XmlFields, channel: ChannelRef): Message {
  const rawType = text(fields['MsgType']);
  const msgType = MSG_TYPES.get(rawType) ?? rawType.toLowerCase();
  const createTime = text(fields['CreateTime']);
  const from = text(fields['FromUserName']);
  const to = text(fields['ToUserName']);
  const time = new Date(Number(createTime) * 1000);
  const agentId = optional(text(fields['AgentID']));
  const raw = fields;
  // Events carry no MsgId; WeChat's retries repeat sender + CreateTime + event.
  const id = text(fields['MsgId']) || `${from}:${createTime}:${msgType === 'event' ? text(fields['Event']) : msgType}`;
  if (msgType !== 'text') return otherFromXml(fields, msgType, channel, from, to, time, agentId, id);
  const content = text(fields['Content']);
  const command = parseCommand(content);
  return command ? { channel, from, to, time, agentId, raw, id, type: 'text', text: content, command } : { channel, from, to, time, agentId, raw, id, type: 'text', text: content };
}

/** A message of any type but text, its common fields read by {@link messageFromXml}. */
function otherFromXml(fields: XmlFields, msgType: string, channel: ChannelRef, from: string, to: string, time: Date, agentId: string | undefined, id: string): Message {
  const raw = fields;
  switch (msgType) {
    case 'image':
      return { channel, from, to, time, agentId, raw, id, type: 'image', mediaId: field(fields, 'MediaId'), picUrl: optional(field(fields, 'PicUrl')) };
    case 'voice':
      return {
        channel,
        from,
        to,
        time,
        agentId,
        raw,
        id,
        type: 'voice',
        mediaId: field(fields, 'MediaId'),
        format: optional(field(fields, 'Format').toLowerCase()),
        recognition: optional(field(fields, 'Recognition')),
      };
    case 'video':
    case 'shortvideo':
      return { channel, from, to, time, agentId, raw, id, type: msgType, mediaId: field(fields, 'MediaId'), thumbMediaId: optional(field(fields, 'ThumbMediaId')) };
    case 'location':
      return {
        channel,
        from,
        to,
        time,
        agentId,
        raw,
        id,
        type: 'location',
        latitude: Number(field(fields, 'Location_X')),
        longitude: Number(field(fields, 'Location_Y')),
        scale: optionalNumber(field(fields, 'Scale')),
        label: optional(field(fields, 'Label')),
      };
    case 'link':
      return {
        channel,
        from,
        to,
        time,
        agentId,
        raw,
        id,
        type: 'link',
        title: field(fields, 'Title'),
        description: field(fields, 'Description'),
        url: field(fields, 'Url'),
        picUrl: optional(field(fields, 'PicUrl')),
      };
    case 'file':
      return {
        channel,
        from,
        to,
        time,
        agentId,
        raw,
        id,
        type: 'file',
        mediaId: field(fields, 'MediaId'),
        fileName: optional(field(fields, 'FileName') || field(fields, 'Title')),
      };
    case 'miniprogrampage':
    case 'miniprogram':
      return {
        channel,
        from,
        to,
        time,
        agentId,
        raw,
        id,
        type: 'miniprogram',
        title: field(fields, 'Title'),
        appId: field(fields, 'AppId'),
        pagePath: field(fields, 'PagePath'),
        thumbMediaId: optional(field(fields, 'ThumbMediaId')),
      };
    case 'event':
      // Events are rare next to texts; their many shapes stay in eventFromXml.
      return { channel, from, to, time, agentId, raw, id, type: 'event', ...eventFromXml(field.bind(null, fields), fields) };
    default:
      return { channel, from, to, time, agentId, raw, id, type: 'other', msgType };
  }
}

function eventFromXml(f: (name: string) => string, fields: XmlFields): WeChatEvent {
  const name = f('Event');
  const eventKey = f('EventKey');
  const lower = name.toLowerCase();
  switch (lower) {
    case 'subscribe':
      return { event: 'subscribe', eventKey: optional(eventKey), ticket: optional(f('Ticket')) };
    case 'unsubscribe':
      return { event: 'unsubscribe' };
    case 'scan':
      return { event: 'scan', eventKey, ticket: optional(f('Ticket')) };
    case 'click':
      return { event: 'click', eventKey };
    case 'view':
      return { event: 'view', url: eventKey };
    case 'location':
      return {
        event: 'location',
        latitude: Number(f('Latitude')),
        longitude: Number(f('Longitude')),
        precision: optionalNumber(f('Precision')),
      };
    case 'enter_agent':
      return { event: 'enter_agent', eventKey: optional(eventKey) };
    case 'template_card_event':
      // WeCom app card callback: the choices of vote/multiple-choice cards come from SelectedItems.
      return {
        event: 'template_card_event',
        cardType: f('CardType'),
        eventKey,
        taskId: f('TaskId'),
        selected: selectedItems(fields),
        responseCode: optional(f('ResponseCode')),
      };
    default:
      return typedXmlEvent(lower, fields) ?? { event: 'other', name, eventKey: optional(eventKey) };
  }
}
