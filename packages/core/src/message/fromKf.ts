import type { ChannelRef, Message, WeChatEvent } from './types.ts';
import { parseCommand } from './command.ts';

/** One item of `kf/sync_msg`'s msg_list, as WeChat sends it. */
export interface KfMessageItem {
  msgid: string;
  /** Absent on events: they carry it inside `event`. */
  open_kfid?: string;
  external_userid?: string;
  send_time: number;
  /** 3 the customer, 4 a system event, 5 a human servicer. */
  origin: number;
  servicer_userid?: string;
  msgtype: string;
  [body: string]: unknown;
}

type Body = Record<string, unknown>;
const str = (body: Body, key: string): string => (body[key] === undefined || body[key] === null ? '' : String(body[key]));
const opt = (body: Body, key: string): string | undefined => (body[key] === undefined || body[key] === null || body[key] === '' ? undefined : String(body[key]));
/** A JSON array of objects (anything else: empty). */
const list = (value: unknown): Body[] => (Array.isArray(value) ? value.filter((v): v is Body => v !== null && typeof v === 'object') : []);

/** Normalizes a KF msg_list item; every msgtype the docs list maps to a message (unknown → `other`). */
export function messageFromKf(item: KfMessageItem, channel: ChannelRef): Message {
  const body = (item[item.msgtype] ?? {}) as Body;
  const openKfId = item.open_kfid ?? str(body, 'open_kfid');
  const base = {
    id: item.msgid,
    channel,
    from: item.external_userid ?? str(body, 'external_userid'),
    to: openKfId,
    openKfId,
    time: new Date(item.send_time * 1000),
    raw: item,
  };
  switch (item.msgtype) {
    case 'text': {
      const text = str(body, 'content');
      const command = parseCommand(text);
      return { ...base, type: 'text', text, ...(command && { command }), ...(opt(body, 'menu_id') && { menuId: str(body, 'menu_id') }) };
    }
    case 'image':
      return { ...base, type: 'image', mediaId: str(body, 'media_id') };
    case 'voice':
      return { ...base, type: 'voice', mediaId: str(body, 'media_id'), format: 'amr' };
    case 'video':
      return { ...base, type: 'video', mediaId: str(body, 'media_id') };
    case 'file':
      return { ...base, type: 'file', mediaId: str(body, 'media_id') };
    case 'location':
      return {
        ...base,
        type: 'location',
        latitude: Number(body['latitude']),
        longitude: Number(body['longitude']),
        label: [opt(body, 'name'), opt(body, 'address')].filter(Boolean).join(' ') || undefined,
      };
    case 'link':
      return { ...base, type: 'link', title: str(body, 'title'), description: str(body, 'desc'), url: str(body, 'url'), picUrl: opt(body, 'pic_url') };
    case 'business_card':
      return { ...base, type: 'business_card', userId: str(body, 'userid') };
    case 'miniprogram':
      return { ...base, type: 'miniprogram', title: str(body, 'title'), appId: str(body, 'appid'), pagePath: str(body, 'pagepath'), thumbMediaId: opt(body, 'thumb_media_id') };
    case 'event':
      return { ...base, type: 'event', ...kfEvent(body) };
    case 'msgmenu':
      return {
        ...base,
        type: 'msgmenu',
        headContent: opt(body, 'head_content'),
        tailContent: opt(body, 'tail_content'),
        items: list(body['list']).map((entry) => {
          const type = str(entry, 'type');
          const detail = (entry[type] ?? {}) as Body;
          return { type, content: str(detail, 'content'), id: opt(detail, 'id'), url: opt(detail, 'url'), appId: opt(detail, 'appid'), pagePath: opt(detail, 'pagepath') };
        }),
      };
    case 'channels':
      return { ...base, type: 'channels', subType: Number(body['sub_type'] ?? 0), nickname: str(body, 'nickname'), title: str(body, 'title') };
    case 'channels_shop_product':
      return {
        ...base,
        type: 'channels_shop_product',
        productId: str(body, 'product_id'),
        title: str(body, 'title'),
        headImg: opt(body, 'head_img'),
        salesPrice: opt(body, 'sales_price'),
        shopNickname: opt(body, 'shop_nickname'),
        shopHeadImg: opt(body, 'shop_head_img'),
      };
    case 'channels_shop_order':
      return {
        ...base,
        type: 'channels_shop_order',
        orderId: str(body, 'order_id'),
        productTitles: str(body, 'product_titles'),
        priceWording: opt(body, 'price_wording'),
        state: opt(body, 'state'),
        imageUrl: opt(body, 'image_url'),
        shopNickname: opt(body, 'shop_nickname'),
      };
    case 'merged_msg':
      return {
        ...base,
        type: 'merged_msg',
        title: str(body, 'title'),
        items: list(body['item']).map((entry) => ({
          sendTime: Number(entry['send_time'] ?? 0),
          msgType: str(entry, 'msgtype'),
          senderName: str(entry, 'sender_name'),
          content: str(entry, 'msg_content'),
        })),
      };
    default:
      // note, and kinds WeCom adds later
      return { ...base, type: 'other', msgType: item.msgtype };
  }
}

function kfEvent(body: Body): WeChatEvent {
  const name = str(body, 'event_type');
  switch (name) {
    case 'enter_session':
      return { event: 'enter_session', welcomeCode: opt(body, 'welcome_code'), scene: opt(body, 'scene'), sceneParam: opt(body, 'scene_param') };
    case 'msg_send_fail':
      return { event: 'msg_send_fail', failMsgId: str(body, 'fail_msgid'), failType: Number(body['fail_type'] ?? 0) };
    case 'servicer_status_change':
      return { event: 'servicer_status_change', servicerUserId: str(body, 'servicer_userid'), status: Number(body['status'] ?? 0) };
    case 'session_status_change':
      return {
        event: 'session_status_change',
        changeType: Number(body['change_type'] ?? 0),
        oldServicerUserId: opt(body, 'old_servicer_userid'),
        newServicerUserId: opt(body, 'new_servicer_userid'),
        msgCode: opt(body, 'msg_code'),
      };
    case 'user_recall_msg':
      return { event: 'user_recall_msg', recallMsgId: str(body, 'recall_msgid') };
    case 'servicer_recall_msg':
      return { event: 'servicer_recall_msg', recallMsgId: str(body, 'recall_msgid'), servicerUserId: opt(body, 'servicer_userid') };
    case 'reject_customer_msg_switch_change':
      return { event: 'reject_customer_msg_switch_change', servicerUserId: opt(body, 'servicer_userid'), rejectSwitch: Number(body['reject_switch'] ?? 0) };
    default:
      return { event: 'other', name };
  }
}
