import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import { WeChatApiError } from '../api/errors.ts';
import { ChannelError } from '../errors.ts';
import type { ChannelRef } from '../message/types.ts';
import type { Recipient } from '../message/recipient.ts';
import { UnsupportedReplyError } from '../reply/passiveXml.ts';
import type { Article, Reply, ReplyType, TemplateCard } from '../reply/types.ts';
import type { CallbackResult, Channel, ChannelRuntime, MediaType, UploadFile } from './types.ts';
import { checkKeys, type KeysOf } from '../optionKeys.ts';
import { buildChannel } from './base.ts';

/*
 * The WeCom group robot (群机器人, now 消息推送): a webhook that posts into one group chat.
 * Send-only: `POST /cgi-bin/webhook/send?key=KEY` with text (≤ 2048 bytes, mentioned_list /
 * mentioned_mobile_list), markdown (≤ 4096 bytes), image (base64 + md5 of the raw bytes,
 * ≤ 2 MB), news (1–8 articles), file / voice (a media_id from `webhook/upload_media?key=&type=`,
 * multipart field `media`) or template_card (text_notice / news_notice). At most 20 messages a
 * minute per robot (errcode 45009 past it); 93000: the key is wrong or the robot was removed.
 * Sources: WeCom docs 91770 / 99110, the aibot-node-sdk and wecom-openclaw-plugin.
 */

/** Settings of a WeCom group-robot webhook channel: its key, name, API base and send pacing. */
export interface WecomWebhookOptions {
  /** The `key` of the robot's webhook URL (…/cgi-bin/webhook/send?key=KEY), or that whole URL. */
  key: string;
  /** Unique name for `bot.sendTo(name, …)` (default `wecomWebhook`). */
  name?: string;
  /** API origin (default https://qyapi.weixin.qq.com; tests use the fake). */
  apiBaseUrl?: string;
  /**
   * Messages allowed per window (WeCom: 20 a minute). Sends beyond it wait in order for the
   * window to allow them; nothing is dropped.
   */
  rateLimit?: { perWindow?: number; windowMs?: number };
  /** Per-request timeout (default 10 s). */
  timeoutMs?: number;
}

/** Text mentions: userids (`@all` for everyone) and mobile numbers. */
export interface WebhookMentions {
  mentionedList?: readonly string[];
  mentionedMobileList?: readonly string[];
}

const DEFAULT_BASE = 'https://qyapi.weixin.qq.com';

const KEYS = {
  key: true,
  name: true,
  apiBaseUrl: true,
  rateLimit: { perWindow: true, windowMs: true } satisfies KeysOf<NonNullable<WecomWebhookOptions['rateLimit']>>,
  timeoutMs: true,
} as const satisfies KeysOf<WecomWebhookOptions>;
/** errcode of a robot over its 20 a minute. */
const RATE_LIMITED = 45009;
/** Images are kept this long for a later `image` reply (WeCom's media live 3 days). */
const IMAGE_TTL_MS = 3 * 24 * 60 * 60_000;
const MAX_IMAGES = 100;

/**
 * A WeCom group robot as a send-only channel: `bot.sendTo('alerts', { user: '' }, reply)` posts
 * into its group (`user`: userids to mention, `|`-separated, or `@all`). Replies: text,
 * markdown, news, templateCard, file and voice (media from `uploadMedia`), image (bytes from
 * `uploadMedia('image', …)`, sent as base64 + md5). Or call `sendText`, `sendMarkdown`,
 * `sendImage`, `sendNews`, `sendFile`, `sendTemplateCard` on the channel directly. Every send
 * is paced to the robot's 20 a minute (waiting, in order, with a log line); an errcode is
 * thrown as a {@link WeChatApiError}. The key never appears in logs or errors.
 */
export class WecomWebhookChannel implements Channel {
  readonly kind = 'wecomWebhook' as const;
  readonly name: string;
  /** Never routed: nothing calls a robot's webhook back. */
  readonly path: string;
  readonly replyWindowMs = 0;
  readonly passiveReplyTypes: ReadonlySet<ReplyType> = new Set();
  /** A text message holds 2048 bytes: longer texts are split. */
  readonly textLimitBytes = 2048;
  readonly ref: ChannelRef;
  readonly #key: string;
  readonly #base: string;
  readonly #timeoutMs: number;
  readonly #limit: number;
  readonly #windowMs: number;
  /** When each of the last sends went out (at most `limit`), oldest first. */
  readonly #sent: number[] = [];
  #queue: Promise<unknown> = Promise.resolve();
  #waiting = 0;
  /** Messages posted and not yet sent (or failed). */
  #pending = 0;
  #stopped = false;
  readonly #images = new Map<string, { data: Buffer; at: number }>();
  #log: Logger | undefined;

  constructor(options: WecomWebhookOptions) {
    checkKeys(`channel "${options.name ?? 'wecomWebhook'}" (wecomWebhook)`, options, KEYS);
    const key = keyOf(options.key);
    if (!key) throw new Error("wecomWebhook: key is required (the key=… of the robot's webhook URL)");
    this.#key = key;
    this.name = options.name ?? 'wecomWebhook';
    this.path = `/.wecom-webhook/${this.name}`;
    this.ref = { name: this.name, kind: this.kind };
    this.#base = (options.apiBaseUrl ?? DEFAULT_BASE).replace(/\/$/, '');
    this.#timeoutMs = options.timeoutMs ?? 10_000;
    this.#limit = options.rateLimit?.perWindow ?? 20;
    this.#windowMs = options.rateLimit?.windowMs ?? 60_000;
  }

  start(runtime: ChannelRuntime): void {
    this.#log = runtime.log.child({ channel: this.name });
    this.#stopped = false;
  }

  stop(): void {
    this.#stopped = true;
    if (this.#waiting > 0) this.#log?.warn({ waiting: this.#waiting }, 'webhook stopped with messages still waiting for the rate limit: they are not sent');
  }

  verify(): string {
    throw new ChannelError(404, `channel "${this.name}" (WeCom group robot webhook) only sends`);
  }

  receive(): CallbackResult {
    throw new ChannelError(404, `channel "${this.name}" (WeCom group robot webhook) only sends`);
  }

  /** Posts `reply` into the robot's group; `to.user` lists userids to mention (`a|b`, `@all`), for texts. */
  async send(to: Recipient, reply: Reply): Promise<void> {
    const mentions = to.user ? { mentionedList: to.user.split('|').filter(Boolean) } : {};
    await this.#post(this.#bodyOf(reply, mentions));
  }

  /** A text (≤ 2048 bytes), mentioning userids (`@all`: everyone) or mobile numbers. */
  sendText(content: string, mentions: WebhookMentions = {}): Promise<void> {
    return this.#post(textBody(content, mentions));
  }

  /** Markdown (≤ 4096 bytes; WeCom's subset: headings, bold, links, `<font color="info|comment|warning">`). */
  sendMarkdown(content: string): Promise<void> {
    return this.#post({ msgtype: 'markdown', markdown: { content } });
  }

  /** A JPG or PNG image (≤ 2 MB), sent as base64 with the md5 of its bytes. */
  sendImage(data: Buffer): Promise<void> {
    return this.#post(imageBody(data));
  }

  /** 1–8 articles (title and url required). */
  sendNews(articles: readonly Article[]): Promise<void> {
    return this.#post(newsBody(articles));
  }

  /** Uploads a file (≤ 20 MB) to the robot, then posts it. */
  async sendFile(file: UploadFile): Promise<void> {
    const mediaId = await this.uploadMedia('file', file);
    await this.#post({ msgtype: 'file', file: { media_id: mediaId } });
  }

  /** A template card (text_notice or news_notice). */
  sendTemplateCard(card: TemplateCard): Promise<void> {
    return this.#post({ msgtype: 'template_card', template_card: card });
  }

  /**
   * `file` and `voice` (AMR ≤ 2 MB): uploaded to `webhook/upload_media` (valid 3 days), the
   * media_id returned. `image`: the robot takes images inline, so the bytes are kept here and
   * an id for an `image` reply returned.
   */
  async uploadMedia(type: MediaType, file: UploadFile): Promise<string> {
    if (type === 'image') {
      const id = `webhook-image:${createHash('sha256').update(file.data).digest('hex').slice(0, 32)}`;
      this.#keepImage(id, file.data);
      return id;
    }
    if (type !== 'file' && type !== 'voice') throw new UnsupportedReplyError(`the group robot uploads file and voice media, not ${type}`);
    const form = new FormData();
    form.append('media', new Blob([new Uint8Array(file.data)], { type: file.contentType ?? 'application/octet-stream' }), file.fileName);
    const result = await this.#request('cgi-bin/webhook/upload_media', { type }, form);
    return String(result['media_id']);
  }

  describe(): Record<string, unknown> {
    return { sendOnly: true, rateLimit: `${this.#limit} per ${this.#windowMs / 1000} s` };
  }

  #bodyOf(reply: Reply, mentions: WebhookMentions): Record<string, unknown> {
    switch (reply.type) {
      case 'text':
        return textBody(reply.text, mentions);
      case 'markdown':
        return { msgtype: 'markdown', markdown: { content: reply.text } };
      case 'news':
        return newsBody(reply.articles);
      case 'templateCard':
        return { msgtype: 'template_card', template_card: reply.card };
      case 'file':
      case 'voice':
        return { msgtype: reply.type, [reply.type]: { media_id: reply.mediaId } };
      case 'image': {
        const image = this.#images.get(reply.mediaId);
        if (!image)
          throw new UnsupportedReplyError(
            `channel "${this.name}": an image for the group robot must come from its uploadMedia('image', …) (or use sendImage(buffer)); "${reply.mediaId}" is not one`,
          );
        return imageBody(image.data);
      }
      default:
        throw new UnsupportedReplyError(`the WeCom group robot cannot send a ${reply.type} message`);
    }
  }

  #keepImage(id: string, data: Buffer): void {
    const now = Date.now();
    for (const [key, value] of this.#images) if (now - value.at > IMAGE_TTL_MS || this.#images.size >= MAX_IMAGES) this.#images.delete(key);
    this.#images.set(id, { data, at: now });
  }

  /** One message, in order behind the others, paced to the robot's limit; 45009 waits and retries. */
  #post(body: Record<string, unknown>): Promise<void> {
    this.#pending += 1;
    const run = this.#queue.then(async () => {
      for (let attempt = 0; ; attempt++) {
        await this.#pace();
        try {
          await this.#request('cgi-bin/webhook/send', {}, body);
          this.#sent.push(Date.now());
          return;
        } catch (error) {
          this.#sent.push(Date.now());
          // Someone else posting with the same key used up the minute: wait a share of it, retry.
          if (!(error instanceof WeChatApiError && error.errcode === RATE_LIMITED) || attempt >= this.#limit) throw error;
          const waitMs = Math.ceil(this.#windowMs / this.#limit);
          this.#log?.warn({ waitMs, attempt: attempt + 1 }, 'webhook refused with 45009 (20 messages a minute, other senders included): retrying later');
          await this.#wait(waitMs);
        }
      }
    });
    this.#queue = run.catch(() => undefined).finally(() => (this.#pending -= 1));
    return run;
  }

  /**
   * Waits until the window allows one more send. Sends are counted when their answer is back
   * (see #post), which is never before WeCom counted them: the window here ends no earlier than
   * WeCom's, whatever the latency.
   */
  async #pace(): Promise<void> {
    for (;;) {
      const now = Date.now();
      while (this.#sent.length > 0 && now - this.#sent[0]! >= this.#windowMs) this.#sent.shift();
      if (this.#sent.length < this.#limit) return;
      const waitMs = this.#sent[0]! + this.#windowMs - now;
      this.#log?.info({ waitMs, queued: this.#pending }, `webhook rate limit (${this.#limit} per ${this.#windowMs / 1000} s) reached: a message waits ${waitMs} ms`);
      await this.#wait(waitMs);
    }
  }

  async #wait(ms: number): Promise<void> {
    if (this.#stopped) throw new Error(`channel "${this.name}" was stopped`);
    this.#waiting += 1;
    try {
      await sleep(ms);
    } finally {
      this.#waiting -= 1;
    }
    if (this.#stopped) throw new Error(`channel "${this.name}" was stopped before this message could be sent (rate limit)`);
  }

  async #request(endpoint: string, query: Record<string, string>, body: Record<string, unknown> | FormData): Promise<Record<string, unknown>> {
    const url = `${this.#base}/${endpoint}?${new URLSearchParams({ key: this.#key, ...query })}`;
    let text: string;
    try {
      const response = await fetch(url, {
        method: 'POST',
        ...(body instanceof FormData ? { body } : { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }),
        signal: AbortSignal.timeout(this.#timeoutMs),
      });
      text = await response.text();
      if (!response.ok) throw new WeChatApiError(endpoint, -1, `request failed: HTTP ${response.status}`);
    } catch (error) {
      if (error instanceof WeChatApiError) throw error;
      // fetch's errors carry the URL (with the key): keep only the reason.
      const cause = (error as { cause?: { code?: string } }).cause?.code ?? (error as Error).name;
      throw new WeChatApiError(endpoint, -1, `request failed: ${cause}`);
    }
    let result: Record<string, unknown>;
    try {
      result = JSON.parse(text) as Record<string, unknown>;
    } catch {
      throw new WeChatApiError(endpoint, -1, 'answer is not JSON');
    }
    const errcode = Number(result['errcode'] ?? 0);
    if (errcode !== 0)
      throw new WeChatApiError(
        endpoint,
        errcode,
        `${String(result['errmsg'] ?? '')}${errcode === 93000 ? ' (check the key: the robot may have been removed from its group)' : ''}`,
      );
    return result;
  }
}

/** The key, from a bare key or a whole webhook URL. */
function keyOf(value: string): string {
  if (!/^https?:\/\//.test(value)) return value.trim();
  return new URL(value).searchParams.get('key') ?? '';
}

function textBody(content: string, mentions: WebhookMentions): Record<string, unknown> {
  return {
    msgtype: 'text',
    text: {
      content,
      ...(mentions.mentionedList?.length && { mentioned_list: mentions.mentionedList }),
      ...(mentions.mentionedMobileList?.length && { mentioned_mobile_list: mentions.mentionedMobileList }),
    },
  };
}

function imageBody(data: Buffer): Record<string, unknown> {
  return { msgtype: 'image', image: { base64: data.toString('base64'), md5: createHash('md5').update(data).digest('hex') } };
}

function newsBody(articles: readonly Article[]): Record<string, unknown> {
  return { msgtype: 'news', news: { articles: articles.map((a) => ({ title: a.title, description: a.description ?? '', url: a.url ?? '', picurl: a.picUrl ?? '' })) } };
}

/** A WeCom group robot (webhook) as a send-only channel. */
export function wecomWebhook(options: WecomWebhookOptions): WecomWebhookChannel {
  return buildChannel('wecomWebhook', options, () => new WecomWebhookChannel(options));
}
