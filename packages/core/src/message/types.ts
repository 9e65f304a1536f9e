/** The kinds of WeChat channel wxbot speaks. */
export type ChannelKind = 'officialAccount' | 'wecomApp' | 'wecomKf' | 'wecomAiBot' | 'wecomWebhook';

/** Which channel instance a message came through (one server may host several of a kind). */
export interface ChannelRef {
  readonly name: string;
  readonly kind: ChannelKind;
}

/** A `/name arg1 arg2` text, parsed. */
export interface Command {
  readonly name: string;
  readonly args: readonly string[];
  /** Everything after the command name, as typed. */
  readonly argsText: string;
}

/** A WeCom AI bot conversation: `single` (the bot and one user) or `group` (`id` is the chatid). */
export interface ChatRef {
  readonly type: 'single' | 'group';
  /** The group's chatid; absent in single chats. */
  readonly id?: string;
}

/** One part of a mixed (text and images) AI-bot message, or of a quoted one. */
export type MixedItem = { readonly type: 'text'; readonly text: string } | { readonly type: 'image'; readonly url: string };

/** What a WeCom AI-bot user quoted: its type and the readable parts WeCom sent. */
export interface QuotedContent {
  readonly type: string;
  /** Text of a quoted text or voice (the ASR text), or the joined texts of a mixed message. */
  readonly text?: string;
  /** Encrypted media URLs of a quoted image, file or mixed message (`ctx.downloadMedia`). */
  readonly urls?: readonly string[];
}

interface Base {
  /** Stable id: MsgId / msgid, or a derived key for events (used for dedup). */
  readonly id: string;
  readonly channel: ChannelRef;
  /** Sender: openid (Official Account), userid (WeCom app), external_userid (KF). */
  readonly from: string;
  /** Receiver: the account's original id, the corp id, or the open_kfid. */
  readonly to: string;
  readonly time: Date;
  /** WeCom app agent id, when the callback carries one. */
  readonly agentId?: string;
  /** KF: the open_kfid the customer talks to. */
  readonly openKfId?: string;
  /** WeCom AI bot: the chat the message came from (a group, or the single chat with the bot). */
  readonly chat?: ChatRef;
  /** WeCom AI bot: the message the user quoted, when they replied to one. */
  readonly quote?: QuotedContent;
  /** WeCom AI bot: where one active answer may go (one call, valid 1 hour). */
  readonly responseUrl?: string;
  /** The decoded fields exactly as WeChat sent them. */
  readonly raw: Readonly<Record<string, unknown>>;
}

/** A text message (also a transcribed voice message, with `transcribedFrom`). */
export interface TextMessage extends Base {
  readonly type: 'text';
  readonly text: string;
  /** Set when the text starts with `/`. */
  readonly command?: Command;
  /** Set when the text was produced from a voice message by transcription. */
  readonly transcribedFrom?: VoiceMessage;
  /** KF: the menu item id when the customer clicked a msgmenu option. */
  readonly menuId?: string;
  /**
   * WeCom AI bot groups: the text began with an @mention of the bot, which `text` leaves out
   * (so commands and keywords match); `raw` keeps what the user typed.
   */
  readonly mentioned?: boolean;
}
/** WeCom AI bot: text and images in one message. `text` joins its text parts. */
export interface MixedMessage extends Base {
  readonly type: 'mixed';
  readonly items: readonly MixedItem[];
  readonly text: string;
}
/** An image: its media id (download with `ctx.downloadMedia`) and, where sent, a URL. */
export interface ImageMessage extends Base {
  readonly type: 'image';
  /** The media_id; on the WeCom AI bot the encrypted image URL. `ctx.downloadMedia` takes either. */
  readonly mediaId: string;
  readonly picUrl?: string;
}
/** A voice message: its media id, format and WeChat's recognition when it is on. */
export interface VoiceMessage extends Base {
  readonly type: 'voice';
  readonly mediaId: string;
  /** amr, speex, … as WeChat reports it. */
  readonly format?: string;
  /** WeChat's own transcript (Official Accounts with voice recognition switched on). */
  readonly recognition?: string;
}
/** A video (or short video): its media id and thumbnail media id. */
export interface VideoMessage extends Base {
  readonly type: 'video' | 'shortvideo';
  readonly mediaId: string;
  readonly thumbMediaId?: string;
}
/** A location the user shared: coordinates, zoom scale and label. */
export interface LocationMessage extends Base {
  readonly type: 'location';
  readonly latitude: number;
  readonly longitude: number;
  readonly scale?: number;
  readonly label?: string;
}
/** A link the user shared: title, description and URL. */
export interface LinkMessage extends Base {
  readonly type: 'link';
  readonly title: string;
  readonly description: string;
  readonly url: string;
  readonly picUrl?: string;
}
/** A file: its media id (download with `ctx.downloadMedia`). */
export interface FileMessage extends Base {
  readonly type: 'file';
  /** The media_id; on the WeCom AI bot the encrypted file URL. `ctx.downloadMedia` takes either. */
  readonly mediaId: string;
  readonly fileName?: string;
}
/** A mini-program card the user sent. */
export interface MiniprogramMessage extends Base {
  readonly type: 'miniprogram';
  readonly title: string;
  readonly appId: string;
  readonly pagePath: string;
  readonly thumbMediaId?: string;
}
/** KF: a contact card. */
export interface BusinessCardMessage extends Base {
  readonly type: 'business_card';
  readonly userId: string;
}
/** KF: a menu message (a servicer's choices the customer saw or clicked). */
export interface MsgMenuMessage extends Base {
  readonly type: 'msgmenu';
  readonly headContent?: string;
  readonly tailContent?: string;
  readonly items: readonly MsgMenuItem[];
}
/** One choice of a KF menu message (click, view or mini-program). */
export interface MsgMenuItem {
  readonly type: string;
  readonly content: string;
  /** click items */
  readonly id?: string;
  /** view items */
  readonly url?: string;
  /** miniprogram items */
  readonly appId?: string;
  readonly pagePath?: string;
}
/** KF: a WeChat Channels (视频号) post shared by the customer. */
export interface ChannelsMessage extends Base {
  readonly type: 'channels';
  /** 1 post, 2 live, 3 profile (as WeCom documents sub_type). */
  readonly subType: number;
  readonly nickname: string;
  readonly title: string;
}
/** KF: a Channels shop product the customer shared. */
export interface ChannelsShopProductMessage extends Base {
  readonly type: 'channels_shop_product';
  readonly productId: string;
  readonly title: string;
  readonly headImg?: string;
  readonly salesPrice?: string;
  readonly shopNickname?: string;
  readonly shopHeadImg?: string;
}
/** KF: a Channels shop order the customer shared. */
export interface ChannelsShopOrderMessage extends Base {
  readonly type: 'channels_shop_order';
  readonly orderId: string;
  readonly productTitles: string;
  readonly priceWording?: string;
  readonly state?: string;
  readonly imageUrl?: string;
  readonly shopNickname?: string;
}
/** KF: a forwarded chat history (聊天记录); each item's `content` is WeCom's JSON text. */
export interface MergedMessage extends Base {
  readonly type: 'merged_msg';
  readonly title: string;
  readonly items: readonly { readonly sendTime: number; readonly msgType: string; readonly senderName: string; readonly content: string }[];
}
/** Kinds wxbot has no typed shape for yet (KF note, …): see `raw`. */
export interface OtherMessage extends Base {
  readonly type: 'other';
  readonly msgType: string;
}

/** Every event, discriminated by `event`. */
export type WeChatEvent =
  | { readonly event: 'subscribe'; readonly eventKey?: string; readonly ticket?: string }
  | { readonly event: 'unsubscribe' }
  | { readonly event: 'scan'; readonly eventKey: string; readonly ticket?: string }
  | { readonly event: 'click'; readonly eventKey: string }
  | { readonly event: 'view'; readonly url: string }
  | { readonly event: 'location'; readonly latitude: number; readonly longitude: number; readonly precision?: number }
  | { readonly event: 'enter_agent'; readonly eventKey?: string }
  /** KF: the customer opened the chat; `welcomeCode` allows one welcome message for ~20 s. */
  | {
      readonly event: 'enter_session';
      readonly welcomeCode?: string;
      readonly scene?: string;
      readonly sceneParam?: string;
    }
  | { readonly event: 'msg_send_fail'; readonly failMsgId: string; readonly failType: number }
  | { readonly event: 'servicer_status_change'; readonly servicerUserId: string; readonly status: number }
  | {
      readonly event: 'session_status_change';
      readonly changeType: number;
      readonly oldServicerUserId?: string;
      readonly newServicerUserId?: string;
      readonly msgCode?: string;
    }
  | { readonly event: 'user_recall_msg'; readonly recallMsgId: string }
  | { readonly event: 'servicer_recall_msg'; readonly recallMsgId: string; readonly servicerUserId?: string }
  | { readonly event: 'reject_customer_msg_switch_change'; readonly servicerUserId?: string; readonly rejectSwitch: number }
  /** WeCom AI bot: a user opened the single chat (first time that day); a welcome may answer it. */
  | { readonly event: 'enter_chat' }
  /**
   * A template card's button or selection was used (WeCom AI bot and WeCom app). Answer with a
   * `templateCard` reply of the same `taskId` within 5 s to update the card.
   */
  | {
      readonly event: 'template_card_event';
      readonly cardType: string;
      readonly eventKey: string;
      readonly taskId: string;
      /** question_key → chosen option ids, for vote/multiple-choice cards. */
      readonly selected: Readonly<Record<string, readonly string[]>>;
      /** WeCom app: the code for message/update_template_card (72 h, once). */
      readonly responseCode?: string;
    }
  /** WeCom AI bot: the user rated an answer (1 accurate, 2 inaccurate, 3 rating withdrawn). */
  | {
      readonly event: 'feedback_event';
      readonly feedbackId: string;
      readonly rating: 1 | 2 | 3 | number;
      readonly comment?: string;
      readonly reasons?: readonly number[];
    }
  /** Official Account menu: a code was scanned (push: WeChat shows the result; waitmsg: the account answers). */
  | { readonly event: 'scancode_push' | 'scancode_waitmsg'; readonly eventKey: string; readonly scanType: string; readonly scanResult: string }
  /** Official Account / WeCom menu: the user sent pictures (their MD5 sums; the images follow as image messages). */
  | { readonly event: 'pic_sysphoto' | 'pic_photo_or_album' | 'pic_weixin'; readonly eventKey: string; readonly count: number; readonly picMd5Sums: readonly string[] }
  /** Menu: the user picked a location. */
  | {
      readonly event: 'location_select';
      readonly eventKey: string;
      readonly latitude: number;
      readonly longitude: number;
      readonly scale?: number;
      readonly label?: string;
      readonly poiname?: string;
    }
  /** Menu: a mini program page was opened (`pagePath` is WeChat's EventKey). */
  | { readonly event: 'view_miniprogram'; readonly pagePath: string; readonly menuId?: string }
  /** A mass send finished; `msgId` is the MsgID the send API returned. */
  | {
      readonly event: 'masssendjobfinish';
      readonly msgId: string;
      readonly status: string;
      readonly totalCount: number;
      readonly filterCount: number;
      readonly sentCount: number;
      readonly errorCount: number;
    }
  /** A template message was delivered (or not): `status` is success / failed:user block / failed: system failed. */
  | { readonly event: 'templatesendjobfinish'; readonly msgId: string; readonly status: string }
  /** Subscription messages: the user accepted/rejected in a popup, changed them in settings, or one was sent. */
  | { readonly event: 'subscribe_msg_popup_event' | 'subscribe_msg_change_event' | 'subscribe_msg_sent_event'; readonly subscriptions: readonly SubscriptionChange[] }
  /** WeCom: a member, department or tag changed (`changeType` create_user, update_party, …). */
  | { readonly event: 'change_contact'; readonly changeType: string; readonly userId?: string; readonly newUserId?: string; readonly partyId?: string; readonly tagId?: string }
  /** WeCom: an external contact was added, edited, deleted… */
  | {
      readonly event: 'change_external_contact';
      readonly changeType: string;
      readonly userId?: string;
      readonly externalUserId?: string;
      readonly state?: string;
      readonly welcomeCode?: string;
    }
  /** WeCom: a customer group changed. */
  | { readonly event: 'change_external_chat'; readonly changeType: string; readonly chatId: string; readonly updateDetail?: string }
  /** WeCom: a customer tag changed. */
  | { readonly event: 'change_external_tag'; readonly changeType: string; readonly tagId: string; readonly tagType?: string }
  /** WeCom: an asynchronous batch job finished. */
  | { readonly event: 'batch_job_result'; readonly jobId: string; readonly jobType: string; readonly errCode: number; readonly errMsg: string }
  /** WeCom: a task card button was clicked. */
  | { readonly event: 'taskcard_click'; readonly eventKey: string; readonly taskId: string }
  /** WeCom: an approval made through the app's own template changed state. */
  | { readonly event: 'open_approval_change'; readonly thirdNo: string; readonly openSpStatus: number; readonly openTemplateId?: string; readonly openSpName?: string }
  /** Any event without a typed shape: `name` is WeChat's event name. */
  | { readonly event: 'other'; readonly name: string; readonly eventKey?: string };

/** One template of a subscription-message event. */
export interface SubscriptionChange {
  readonly templateId: string;
  /** accept / reject (popup, change events). */
  readonly status?: string;
  readonly popupScene?: string;
  /** sent events */
  readonly msgId?: string;
  readonly errorCode?: string;
  readonly errorStatus?: string;
}

/** An event (subscribe, click, enter_session, …): `type` is `event`, `event` says which. */
export type EventMessage = Base & { readonly type: 'event' } & WeChatEvent;

/** The one message model every channel normalizes into. Narrow on `type` (and `event`). */
export type Message =
  | TextMessage
  | MixedMessage
  | ImageMessage
  | VoiceMessage
  | VideoMessage
  | LocationMessage
  | LinkMessage
  | FileMessage
  | MiniprogramMessage
  | BusinessCardMessage
  | MsgMenuMessage
  | ChannelsMessage
  | ChannelsShopProductMessage
  | ChannelsShopOrderMessage
  | MergedMessage
  | EventMessage
  | OtherMessage;

/** The kinds of message, as `bot.on(kind)` takes them. */
export type MessageType = Message['type'];
/** The names of the events wxbot types, as `bot.event(name)` takes them. */
export type EventName = WeChatEvent['event'];

/** The message type `T` narrowed out of the union. */
export type MessageOf<T extends MessageType> = Extract<Message, { type: T }>;
