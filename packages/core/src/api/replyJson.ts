import { UnsupportedReplyError } from '../reply/passiveXml.ts';
import type { Reply } from '../reply/types.ts';

/** The `msgtype` + body part of an active send, as each API spells it. */
export type ActiveBody = { msgtype: string } & Record<string, unknown>;

const articlesOf = (reply: Extract<Reply, { type: 'news' }>) =>
  reply.articles.map((a) => ({ title: a.title, description: a.description ?? '', url: a.url ?? '', picurl: a.picUrl ?? '' }));

const newsAsText = (reply: Extract<Reply, { type: 'news' }>) => reply.articles.map((a) => [a.title, a.description, a.url].filter(Boolean).join('\n')).join('\n\n');

/** Official Account `message/custom/send`. */
export function customSendBody(reply: Reply): ActiveBody {
  switch (reply.type) {
    case 'text':
      return { msgtype: 'text', text: { content: reply.text } };
    case 'image':
    case 'voice':
      return { msgtype: reply.type, [reply.type]: { media_id: reply.mediaId } };
    case 'video':
      return { msgtype: 'video', video: { media_id: reply.mediaId, title: reply.title ?? '', description: reply.description ?? '' } };
    case 'music':
      return {
        msgtype: 'music',
        music: {
          title: reply.title ?? '',
          description: reply.description ?? '',
          musicurl: reply.musicUrl ?? '',
          hqmusicurl: reply.hqMusicUrl ?? '',
          thumb_media_id: reply.thumbMediaId,
        },
      };
    case 'news':
      return { msgtype: 'news', news: { articles: articlesOf(reply) } };
    case 'markdown':
      return { msgtype: 'text', text: { content: reply.text } };
    case 'file':
      throw new UnsupportedReplyError('Official Accounts cannot send a file message');
    case 'templateCard':
      throw new UnsupportedReplyError('Official Accounts cannot send a template card');
    case 'stream':
      throw new UnsupportedReplyError('Official Accounts do not stream');
    case 'updateButton':
      throw new UnsupportedReplyError('Official Accounts have no template cards');
  }
}

/** WeCom app `message/send` (without touser/agentid). */
export function wecomSendBody(reply: Reply): ActiveBody {
  switch (reply.type) {
    case 'text':
      return { msgtype: 'text', text: { content: reply.text } };
    case 'image':
    case 'voice':
    case 'file':
      return { msgtype: reply.type, [reply.type]: { media_id: reply.mediaId } };
    case 'video':
      return { msgtype: 'video', video: { media_id: reply.mediaId, title: reply.title ?? '', description: reply.description ?? '' } };
    case 'news':
      return { msgtype: 'news', news: { articles: articlesOf(reply) } };
    case 'markdown':
      return { msgtype: 'markdown', markdown: { content: reply.text } };
    case 'templateCard':
      return { msgtype: 'template_card', template_card: reply.card };
    case 'music':
      throw new UnsupportedReplyError('WeCom apps cannot send a music message');
    case 'stream':
      throw new UnsupportedReplyError('WeCom apps do not stream');
    case 'updateButton':
      throw new UnsupportedReplyError('updateButton answers a template_card_event (passively, or through message/update_template_card with its response code)');
  }
}

/** KF `kf/send_msg` (without touser/open_kfid). News has no KF equivalent without a thumb media id: it goes as text. */
export function kfSendBody(reply: Reply): ActiveBody {
  switch (reply.type) {
    case 'text':
      return { msgtype: 'text', text: { content: reply.text } };
    case 'image':
    case 'voice':
    case 'video':
    case 'file':
      return { msgtype: reply.type, [reply.type]: { media_id: reply.mediaId } };
    case 'news':
      return { msgtype: 'text', text: { content: newsAsText(reply) } };
    case 'markdown':
      return { msgtype: 'text', text: { content: reply.text } };
    case 'music':
      throw new UnsupportedReplyError('WeChat Customer Service cannot send a music message');
    case 'templateCard':
      throw new UnsupportedReplyError('WeChat Customer Service cannot send a template card');
    case 'stream':
      throw new UnsupportedReplyError('WeChat Customer Service does not stream');
    case 'updateButton':
      throw new UnsupportedReplyError('WeChat Customer Service has no template cards');
  }
}
