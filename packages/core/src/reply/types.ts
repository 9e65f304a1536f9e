/** A news (图文) article. */
export interface Article {
  readonly title: string;
  readonly description?: string;
  readonly picUrl?: string;
  readonly url?: string;
}

/** What a plugin can answer with. Narrow on `type`. Channels say which they can send passively. */
export type Reply =
  | { readonly type: 'text'; readonly text: string }
  | { readonly type: 'image'; readonly mediaId: string }
  | { readonly type: 'voice'; readonly mediaId: string }
  | { readonly type: 'video'; readonly mediaId: string; readonly title?: string; readonly description?: string }
  | {
      readonly type: 'music';
      readonly thumbMediaId: string;
      readonly title?: string;
      readonly description?: string;
      readonly musicUrl?: string;
      readonly hqMusicUrl?: string;
    }
  | { readonly type: 'news'; readonly articles: readonly Article[] }
  /** Active sends only (WeCom app, KF). */
  | { readonly type: 'file'; readonly mediaId: string }
  /**
   * Markdown: the WeCom AI bot's answers (streamed or not) and WeCom app sends. Channels
   * without markdown send the text as it is.
   */
  | { readonly type: 'markdown'; readonly text: string }
  /**
   * A WeCom template card (text_notice, button_interaction, vote_interaction, …) in WeCom's own
   * JSON (`card_type`, `task_id`, …). Answering a `template_card_event` with a card of the same
   * `task_id` updates the clicked card.
   */
  | { readonly type: 'templateCard'; readonly card: TemplateCard }
  /**
   * WeCom app, answering a `template_card_event`: greys out the clicked button for the user who
   * clicked it and shows `replaceName` on it (passive `update_button`; after the reply window,
   * `message/update_template_card` with the event's response code).
   */
  | { readonly type: 'updateButton'; readonly replaceName: string }
  /**
   * The start of a streamed answer on a channel that streams (made by `ctx.replyStream()`;
   * plugins do not build it): the channel answers with the stream's current snapshot.
   */
  | { readonly type: 'stream'; readonly streamId: string };

/** A template card as WeCom's JSON spells it; `task_id` identifies it for later updates. */
export type TemplateCard = { readonly card_type: string; readonly task_id?: string } & Readonly<Record<string, unknown>>;

/** The kinds of reply: `text`, `image`, `news`, `markdown`, … */
export type ReplyType = Reply['type'];

/** What `ctx.reply()` accepts: a reply, or a string as shorthand for a text reply. */
export type ReplyInput = Reply | string;

/** A reply from what `ctx.reply` accepts: a string becomes a text reply. */
export function toReply(input: ReplyInput): Reply {
  return typeof input === 'string' ? { type: 'text', text: input } : input;
}

/** Small constructors, so plugins read well: `ctx.reply(image(mediaId))`. */
export const replies = {
  text: (text: string): Reply => ({ type: 'text', text }),
  image: (mediaId: string): Reply => ({ type: 'image', mediaId }),
  voice: (mediaId: string): Reply => ({ type: 'voice', mediaId }),
  video: (mediaId: string, title?: string, description?: string): Reply => ({ type: 'video', mediaId, title, description }),
  news: (...articles: Article[]): Reply => ({ type: 'news', articles }),
  file: (mediaId: string): Reply => ({ type: 'file', mediaId }),
  markdown: (text: string): Reply => ({ type: 'markdown', text }),
  templateCard: (card: TemplateCard): Reply => ({ type: 'templateCard', card }),
  updateButton: (replaceName: string): Reply => ({ type: 'updateButton', replaceName }),
};
