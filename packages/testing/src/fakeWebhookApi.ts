import { createHash, randomBytes } from 'node:crypto';
import type Router from '@koa/router';
import type Koa from 'koa';

/*
 * The WeCom group robot's webhook in the fake API (docs 91770 / 99110):
 * `POST /cgi-bin/webhook/send?key=KEY` (JSON, no access token) and
 * `POST /cgi-bin/webhook/upload_media?key=KEY&type=file|voice` (multipart field `media`).
 * Limits: 20 messages a minute per robot (errcode 45009 "api freq out of limit", as the real
 * server answers it); text ≤ 2048 bytes, markdown ≤ 4096, image ≤ 2 MB with the md5 of its
 * bytes, news 1–8 articles, file ≤ 20 MB, voice ≤ 2 MB (files of at least 5 bytes);
 * 93000 "invalid webhook url" for a key it does not know. The errcodes of a too-long content,
 * a wrong md5 or a bad article are not documented (unconfirmed): 40058 with a message saying which.
 */

/** Which robots the fake webhook endpoints know and the send limit they enforce (45009 past it). */
export interface FakeWebhookOptions {
  /** Keys of the robots that exist (default: any non-empty key). */
  keys?: readonly string[];
  /** Messages accepted per window per key (default 20). */
  perWindow?: number;
  /** The window, sliding (default 60000 ms). */
  windowMs?: number;
}

/** One webhook/send request, refused or not. */
export interface WebhookAttempt {
  readonly key: string;
  readonly body: unknown;
  readonly errcode: number;
  readonly at: number;
}

/** One file received through webhook/upload_media. */
export interface WebhookUpload {
  readonly key: string;
  readonly type: string;
  readonly mediaId: string;
  readonly fileName: string | undefined;
  readonly data: Buffer;
}

type Json = Record<string, unknown>;
type Answer = { errcode: number; errmsg: string } & Json;
type FormPart = { name: string; fileName?: string; contentType?: string; data: Buffer };

const isRecord = (value: unknown): value is Json => typeof value === 'object' && value !== null && !Array.isArray(value);
const bad = (errmsg: string): Answer => ({ errcode: 40058, errmsg: `invalid parameter: ${errmsg}` });
const LIMITS = { text: 2048, markdown: 4096, image: 2 * 1024 * 1024, file: 20 * 1024 * 1024, voice: 2 * 1024 * 1024 } as const;

/** The fake API's group-robot endpoints (webhook/send, webhook/upload_media): what robots sent, limit enforced. */
export class FakeWebhookEndpoints {
  /** Every webhook/send request in order, with the errcode it got. */
  readonly attempts: WebhookAttempt[] = [];
  readonly uploads: WebhookUpload[] = [];
  readonly #options: Required<Omit<FakeWebhookOptions, 'keys'>> & { keys?: readonly string[] };
  /** Accepted sends per key, oldest first, for the sliding window. */
  readonly #recent = new Map<string, number[]>();
  readonly #media = new Map<string, { key: string; type: string }>();

  constructor(options: FakeWebhookOptions = {}) {
    this.#options = { perWindow: options.perWindow ?? 20, windowMs: options.windowMs ?? 60_000, ...(options.keys && { keys: options.keys }) };
  }

  /** The messages accepted (errcode 0), for one key or all, in order. */
  sent(key?: string): Json[] {
    return this.attempts.filter((a) => a.errcode === 0 && (key === undefined || a.key === key)).map((a) => a.body as Json);
  }

  /** The largest number of messages accepted for `key` within any one window. */
  peakPerWindow(key: string): number {
    const times = this.attempts.filter((a) => a.errcode === 0 && a.key === key).map((a) => a.at);
    let peak = 0;
    for (let i = 0, j = 0; i < times.length; i++) {
      while (times[i]! - times[j]! >= this.#options.windowMs) j++;
      peak = Math.max(peak, i - j + 1);
    }
    return peak;
  }

  mount(router: Router, rawBody: (ctx: Koa.Context) => Buffer, parseForm: (body: Buffer, contentType: string) => FormPart[]): void {
    router.post('/cgi-bin/webhook/send', (ctx) => {
      const key = String(ctx.query['key'] ?? '');
      let body: unknown;
      try {
        body = JSON.parse(rawBody(ctx).toString('utf8'));
      } catch {
        body = undefined;
      }
      const answer = this.#send(key, body);
      this.attempts.push({ key, body, errcode: answer.errcode, at: Date.now() });
      ctx.body = answer;
    });
    router.post('/cgi-bin/webhook/upload_media', (ctx) => {
      let parts: FormPart[] = [];
      try {
        parts = parseForm(rawBody(ctx), ctx.get('content-type'));
      } catch {
        // no parts: answered as empty media below
      }
      ctx.body = this.#upload(
        String(ctx.query['key'] ?? ''),
        String(ctx.query['type'] ?? ''),
        parts.find((p) => p.name === 'media'),
      );
    });
  }

  #upload(key: string, type: string, part: FormPart | undefined): Answer {
    if (!this.#known(key)) return { errcode: 93000, errmsg: 'invalid webhook url' };
    if (type !== 'file' && type !== 'voice') return { errcode: 40005, errmsg: `invalid media type ${type}` };
    if (!part || part.data.length < 5) return { errcode: 44001, errmsg: 'empty media data (at least 5 bytes in form field "media")' };
    if (part.data.length > LIMITS[type]) return { errcode: 40006, errmsg: `invalid file size: ${part.data.length} bytes > ${LIMITS[type]}` };
    const mediaId = randomBytes(24).toString('hex');
    this.#media.set(mediaId, { key, type });
    this.uploads.push({ key, type, mediaId, fileName: part.fileName, data: Buffer.from(part.data) });
    return { errcode: 0, errmsg: 'ok', type, media_id: mediaId, created_at: String(Math.floor(Date.now() / 1000)) };
  }

  #known(key: string): boolean {
    return key !== '' && (this.#options.keys === undefined || this.#options.keys.includes(key));
  }

  #send(key: string, body: unknown): Answer {
    if (!this.#known(key)) return { errcode: 93000, errmsg: 'invalid webhook url' };
    if (!isRecord(body)) return { errcode: 40035, errmsg: 'invalid args: body is not a JSON object' };
    const now = Date.now();
    const recent = (this.#recent.get(key) ?? []).filter((at) => now - at < this.#options.windowMs);
    this.#recent.set(key, recent);
    if (recent.length >= this.#options.perWindow) return { errcode: 45009, errmsg: 'api freq out of limit' };
    const problem = this.#check(key, body);
    if (problem) return problem;
    recent.push(now);
    return { errcode: 0, errmsg: 'ok' };
  }

  #check(key: string, body: Json): Answer | undefined {
    const type = String(body['msgtype']);
    const content = body[type];
    if (!isRecord(content)) return { errcode: 40008, errmsg: `invalid message type ${type}` };
    switch (type) {
      case 'text':
      case 'markdown': {
        const text = content['content'];
        if (typeof text !== 'string' || text === '') return { errcode: 44004, errmsg: 'empty content' };
        if (Buffer.byteLength(text) > LIMITS[type]) return bad(`${type}.content exceeds ${LIMITS[type]} bytes`);
        for (const list of ['mentioned_list', 'mentioned_mobile_list']) {
          if (content[list] !== undefined && !(Array.isArray(content[list]) && (content[list] as unknown[]).every((v) => typeof v === 'string')))
            return bad(`${list} must be a list of strings`);
        }
        return undefined;
      }
      case 'image': {
        if (typeof content['base64'] !== 'string' || typeof content['md5'] !== 'string') return bad('image.base64 and image.md5 are required');
        const data = Buffer.from(content['base64'], 'base64');
        if (data.length === 0 || data.length > LIMITS.image) return bad(`image size ${data.length} bytes (1 to ${LIMITS.image})`);
        if (createHash('md5').update(data).digest('hex') !== content['md5'].toLowerCase()) return bad('image.md5 is not the md5 of the image');
        return undefined;
      }
      case 'news': {
        const articles = content['articles'];
        if (!Array.isArray(articles) || articles.length < 1 || articles.length > 8) return bad('news.articles holds 1 to 8 articles');
        if (!articles.every((a) => isRecord(a) && typeof a['title'] === 'string' && a['title'] !== '' && typeof a['url'] === 'string' && a['url'] !== ''))
          return bad('every article needs a title and a url');
        return undefined;
      }
      case 'file':
      case 'voice': {
        const media = this.#media.get(String(content['media_id'] ?? ''));
        if (!media || media.key !== key || media.type !== type) return { errcode: 40007, errmsg: 'invalid media_id' };
        return undefined;
      }
      case 'template_card': {
        const cardType = content['card_type'];
        if (cardType !== 'text_notice' && cardType !== 'news_notice') return bad(`template_card.card_type must be text_notice or news_notice (got ${String(cardType)})`);
        return undefined;
      }
      default:
        return { errcode: 40008, errmsg: `invalid message type ${type}` };
    }
  }
}
