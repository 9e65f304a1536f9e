import { cdata, inCdata } from '../xml.ts';
import type { Reply } from './types.ts';

/** The reply type cannot be answered passively on this channel. */
export class UnsupportedReplyError extends Error {
  override readonly name = 'UnsupportedReplyError';
}

/**
 * Builds the plaintext passive reply XML (the same layout for Official Accounts and WeCom
 * apps). `to` is the user who wrote, `from` the account that answers.
 */
export function passiveReplyXml(reply: Reply, to: string, from: string, now: number): string {
  // One template, the CDATA markup written in it: each concatenation adds a string to the
  // reply's rope, which the encoder then flattens (cdata() per field made twice as many).
  return `${replyHead(to, from, now, MSG_TYPES[reply.type] ?? reply.type)}${reply.type === 'text' ? `<Content><![CDATA[${inCdata(reply.text)}]]></Content>` : body(reply)}</xml>`;
}

/**
 * A text reply's XML as three parts, for an encryption that writes them one after the other (the
 * same bytes as passiveReplyXml's): the markup before the text, the text, the markup after. With a
 * Chinese text the whole XML is a two-byte string, which V8 turns into UTF-8 a character at a time;
 * in parts, the markup (one-byte when the names are) is copied and only the text is encoded.
 */
export function passiveTextReplyParts(text: string, to: string, from: string, now: number): readonly [string, string, string] {
  return [`${replyHead(to, from, now, 'text')}<Content><![CDATA[`, inCdata(text), ']]></Content></xml>'];
}

/** The reply's XML up to its MsgType element (the markup every passive reply starts with). */
function replyHead(to: string, from: string, now: number, msgType: string): string {
  return (
    `<xml><ToUserName><![CDATA[${inCdata(to)}]]></ToUserName><FromUserName><![CDATA[${inCdata(from)}]]></FromUserName>` +
    `<CreateTime>${Math.floor(now / 1000)}</CreateTime><MsgType><![CDATA[${inCdata(msgType)}]]></MsgType>`
  );
}

/** MsgType of the replies whose name differs from their reply type. */
const MSG_TYPES: Partial<Record<Reply['type'], string>> = { updateButton: 'update_button', templateCard: 'update_template_card' };

/** XML element names that are not the JSON key's snake_case parts capitalised. */
const CARD_XML_NAMES: Readonly<Record<string, string>> = { checkbox: 'CheckBox', keyname: 'KeyName', userid: 'UserId', appid: 'AppId', pagepath: 'PagePath' };

/**
 * A template card's JSON (as sent with message/send) as the `<TemplateCard>` XML of a passive
 * update, the way doc 90241's samples spell it: each key in PascalCase (`card_type` →
 * `CardType`, `icon_url` → `IconUrl`, `keyname` → `KeyName`), lists as the element repeated
 * (`<ButtonList>…</ButtonList><ButtonList>…</ButtonList>`), text in CDATA, numbers and booleans
 * bare. (AppId, PagePath and UserId follow WeChat's usual XML spelling; the card samples do not
 * show them: unconfirmed.)
 */
export function templateCardXml(card: Readonly<Record<string, unknown>>): string {
  return element('TemplateCard', card);
}

function element(name: string, value: unknown): string {
  if (value === undefined || value === null) return '';
  if (Array.isArray(value)) return value.map((item) => element(name, item)).join('');
  if (typeof value === 'object') {
    const inner = Object.entries(value as Record<string, unknown>)
      .map(([key, child]) =>
        element(
          CARD_XML_NAMES[key] ??
            key
              .split('_')
              .map((part) => part.charAt(0).toUpperCase() + part.slice(1))
              .join(''),
          child,
        ),
      )
      .join('');
    return `<${name}>${inner}</${name}>`;
  }
  if (typeof value === 'number' || typeof value === 'boolean') return `<${name}>${String(value)}</${name}>`;
  return `<${name}>${cdata(String(value))}</${name}>`;
}

function body(reply: Reply): string {
  switch (reply.type) {
    case 'text': // written by passiveReplyXml itself
      return `<Content>${cdata(reply.text)}</Content>`;
    case 'image':
      return `<Image><MediaId>${cdata(reply.mediaId)}</MediaId></Image>`;
    case 'voice':
      return `<Voice><MediaId>${cdata(reply.mediaId)}</MediaId></Voice>`;
    case 'video':
      return `<Video><MediaId>${cdata(reply.mediaId)}</MediaId>` + `<Title>${cdata(reply.title ?? '')}</Title><Description>${cdata(reply.description ?? '')}</Description></Video>`;
    case 'music':
      // WeChat documents ThumbMediaId as required: refuse here rather than send "undefined".
      if (!reply.thumbMediaId) throw new UnsupportedReplyError('a music reply needs thumbMediaId');
      return (
        `<Music><Title>${cdata(reply.title ?? '')}</Title><Description>${cdata(reply.description ?? '')}</Description>` +
        `<MusicUrl>${cdata(reply.musicUrl ?? '')}</MusicUrl><HQMusicUrl>${cdata(reply.hqMusicUrl ?? '')}</HQMusicUrl>` +
        `<ThumbMediaId>${cdata(reply.thumbMediaId)}</ThumbMediaId></Music>`
      );
    case 'news': {
      const items = reply.articles
        .map(
          (a) =>
            `<item><Title>${cdata(a.title)}</Title><Description>${cdata(a.description ?? '')}</Description>` +
            `<PicUrl>${cdata(a.picUrl ?? '')}</PicUrl><Url>${cdata(a.url ?? '')}</Url></item>`,
        )
        .join('');
      return `<ArticleCount>${reply.articles.length}</ArticleCount><Articles>${items}</Articles>`;
    }
    case 'file':
      throw new UnsupportedReplyError('a file cannot be sent as a passive reply');
    case 'updateButton':
      return `<Button><ReplaceName>${cdata(reply.replaceName)}</ReplaceName></Button>`;
    case 'templateCard':
      return templateCardXml(reply.card);
    case 'markdown':
    case 'stream':
      throw new UnsupportedReplyError(`a ${reply.type} cannot be sent as a passive XML reply`);
    default:
      // A reply built outside the type system (a rule file, JSON): refuse, never render "undefined".
      throw new UnsupportedReplyError(`no passive reply of type ${String((reply as { type?: unknown }).type)}`);
  }
}
