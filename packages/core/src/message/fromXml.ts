import { field, type XmlFields } from '../xml.ts';
import { parseCommand } from './command.ts';
import { selectedItems, typedXmlEvent } from './typedEvents.ts';
import type { ChannelRef, Message, WeChatEvent } from './types.ts';

const optional = (value: string): string | undefined => (value === '' ? undefined : value);
const optionalNumber = (value: string): number | undefined => (value === '' ? undefined : Number(value));

/**
 * Normalizes the decrypted XML of an Official Account or WeCom app callback.
 * Unknown message types become `other`, unknown events `event: 'other'`: nothing is dropped.
 */
export function messageFromXml(fields: XmlFields, channel: ChannelRef): Message {
  const f = field.bind(null, fields);
  const msgType = f('MsgType').toLowerCase();
  const createTime = f('CreateTime');
  const from = f('FromUserName');
  const base = {
    channel,
    from,
    to: f('ToUserName'),
    time: new Date(Number(createTime) * 1000),
    agentId: optional(f('AgentID')),
    raw: fields,
  };
  // Events carry no MsgId; WeChat's retries repeat sender + CreateTime + event.
  const id = f('MsgId') || `${from}:${createTime}:${msgType === 'event' ? f('Event') : msgType}`;

  switch (msgType) {
    case 'text': {
      const text = f('Content');
      const command = parseCommand(text);
      return { ...base, id, type: 'text', text, ...(command && { command }) };
    }
    case 'image':
      return { ...base, id, type: 'image', mediaId: f('MediaId'), picUrl: optional(f('PicUrl')) };
    case 'voice':
      return {
        ...base,
        id,
        type: 'voice',
        mediaId: f('MediaId'),
        format: optional(f('Format').toLowerCase()),
        recognition: optional(f('Recognition')),
      };
    case 'video':
    case 'shortvideo':
      return { ...base, id, type: msgType, mediaId: f('MediaId'), thumbMediaId: optional(f('ThumbMediaId')) };
    case 'location':
      return {
        ...base,
        id,
        type: 'location',
        latitude: Number(f('Location_X')),
        longitude: Number(f('Location_Y')),
        scale: optionalNumber(f('Scale')),
        label: optional(f('Label')),
      };
    case 'link':
      return {
        ...base,
        id,
        type: 'link',
        title: f('Title'),
        description: f('Description'),
        url: f('Url'),
        picUrl: optional(f('PicUrl')),
      };
    case 'file':
      return { ...base, id, type: 'file', mediaId: f('MediaId'), fileName: optional(f('FileName') || f('Title')) };
    case 'miniprogrampage':
    case 'miniprogram':
      return {
        ...base,
        id,
        type: 'miniprogram',
        title: f('Title'),
        appId: f('AppId'),
        pagePath: f('PagePath'),
        thumbMediaId: optional(f('ThumbMediaId')),
      };
    case 'event':
      return { ...base, id, type: 'event', ...eventFromXml(f, fields) };
    default:
      return { ...base, id, type: 'other', msgType };
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
