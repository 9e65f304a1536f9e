import { cdata } from '../xml.ts';
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
  const head =
    `<xml><ToUserName>${cdata(to)}</ToUserName><FromUserName>${cdata(from)}</FromUserName>` +
    `<CreateTime>${Math.floor(now / 1000)}</CreateTime><MsgType>${cdata(reply.type)}</MsgType>`;
  return `${head}${body(reply)}</xml>`;
}

function body(reply: Reply): string {
  switch (reply.type) {
    case 'text':
      return `<Content>${cdata(reply.text)}</Content>`;
    case 'image':
      return `<Image><MediaId>${cdata(reply.mediaId)}</MediaId></Image>`;
    case 'voice':
      return `<Voice><MediaId>${cdata(reply.mediaId)}</MediaId></Voice>`;
    case 'video':
      return (
        `<Video><MediaId>${cdata(reply.mediaId)}</MediaId>` +
        `<Title>${cdata(reply.title ?? '')}</Title><Description>${cdata(reply.description ?? '')}</Description></Video>`
      );
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
    case 'markdown':
    case 'templateCard':
    case 'stream':
      throw new UnsupportedReplyError(`a ${reply.type} cannot be sent as a passive XML reply`);
    default:
      // A reply built outside the type system (a rule file, JSON): refuse, never render "undefined".
      throw new UnsupportedReplyError(`no passive reply of type ${String((reply as { type?: unknown }).type)}`);
  }
}
