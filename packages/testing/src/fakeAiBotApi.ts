import { createCipheriv, randomBytes } from 'node:crypto';
import type Router from '@koa/router';
import type Koa from 'koa';

/*
 * The WeCom AI bot's side of the fake API: each message's `response_url` (one plain JSON POST
 * within an hour; markdown ≤ 20480 bytes or a template card) and the encrypted media URLs of
 * image/file messages (AES-256-CBC with the bot's key, iv = key[0..16], PKCS#7 to 32 bytes,
 * no random prefix). Sources: WeCom docs 101138 (response_url), 100719 (media), and the
 * aibot-node-sdk. The errcodes a used or unknown response_code gets are not documented
 * (unconfirmed): the fake answers 40078 / 40079 so clients can tell the two apart.
 */

/** One accepted response_url call. */
export interface AiBotResponse {
  readonly responseCode: string;
  readonly body: Record<string, unknown>;
  readonly at: number;
}

const USED_CODE = { errcode: 40078, errmsg: 'response_code has been used (fake; real errcode unconfirmed)' };
const UNKNOWN_CODE = { errcode: 40079, errmsg: 'invalid or expired response_code (fake; real errcode unconfirmed)' };
const CONTENT_LIMIT = 20480;
const CODE_TTL_MS = 60 * 60_000;

/** The fake API's response_url endpoints of the AI bot: one use per code, 1 hour, 20480 bytes. */
export class FakeAiBotEndpoints {
  /** Accepted response_url calls, in order. */
  readonly responses: AiBotResponse[] = [];
  /** Every response_url call, rejected ones included. */
  readonly responseAttempts: { responseCode: string; body: unknown; errcode: number }[] = [];
  readonly #codes = new Map<string, { issued: number; used: boolean }>();
  readonly #media = new Map<string, Buffer>();
  readonly #base: () => string;

  constructor(base: () => string) {
    this.#base = base;
  }

  /** A fresh response_url, as WeCom puts in each message callback. */
  responseUrl(): string {
    const code = randomBytes(16).toString('hex');
    this.#codes.set(code, { issued: Date.now(), used: false });
    return `${this.#base()}/cgi-bin/aibot/response?response_code=${code}`;
  }

  /** Serves `data` encrypted with the bot's EncodingAESKey at a fresh URL (for image/file messages). */
  mediaUrl(data: Buffer, encodingAESKey: string): string {
    const key = Buffer.from(`${encodingAESKey}=`, 'base64');
    const pad = 32 - (data.length % 32);
    const cipher = createCipheriv('aes-256-cbc', key, key.subarray(0, 16));
    cipher.setAutoPadding(false);
    const encrypted = Buffer.concat([cipher.update(Buffer.concat([data, Buffer.alloc(pad, pad)])), cipher.final()]);
    const id = randomBytes(12).toString('hex');
    this.#media.set(id, encrypted);
    return `${this.#base()}/aibot/media/${id}?sign=${randomBytes(8).toString('hex')}`;
  }

  /** Resolves with the next accepted response_url call (waits up to `timeoutMs`). */
  async nextResponse(after = 0, timeoutMs = 5000): Promise<AiBotResponse> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.responses[after];
      if (found) return found;
      if (Date.now() > deadline) throw new Error(`no response_url call #${after + 1} within ${timeoutMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  mount(router: Router, rawBody: (ctx: Koa.Context) => Buffer): void {
    router.post('/cgi-bin/aibot/response', (ctx) => {
      const code = String(ctx.query['response_code'] ?? '');
      let body: unknown;
      try {
        body = JSON.parse(rawBody(ctx).toString('utf8'));
      } catch {
        body = undefined;
      }
      ctx.body = this.#respond(code, body);
    });
    router.get('/aibot/media/:id', (ctx) => {
      const data = this.#media.get(ctx.params['id'] ?? '');
      if (!data) {
        ctx.status = 404;
        return;
      }
      ctx.set('Content-Type', 'application/octet-stream');
      ctx.body = data;
    });
  }

  #respond(code: string, body: unknown): { errcode: number; errmsg: string } {
    const entry = this.#codes.get(code);
    const result = ((): { errcode: number; errmsg: string } => {
      if (!entry || Date.now() - entry.issued > CODE_TTL_MS) return UNKNOWN_CODE;
      if (entry.used) return USED_CODE;
      if (typeof body !== 'object' || body === null) return { errcode: 40035, errmsg: 'invalid args: body is not a JSON object' };
      const message = body as Record<string, unknown>;
      const type = message['msgtype'];
      if (type === 'markdown') {
        const content = (message['markdown'] as { content?: unknown } | undefined)?.content;
        if (typeof content !== 'string' || content === '') return { errcode: 40035, errmsg: 'invalid args: markdown.content is empty' };
        if (Buffer.byteLength(content) > CONTENT_LIMIT) return { errcode: 40058, errmsg: `markdown.content exceeds ${CONTENT_LIMIT} bytes` };
      } else if (type === 'template_card') {
        if (typeof (message['template_card'] as { card_type?: unknown } | undefined)?.card_type !== 'string')
          return { errcode: 40035, errmsg: 'invalid args: template_card.card_type' };
      } else {
        return { errcode: 40008, errmsg: `invalid message type ${String(type)}` };
      }
      entry.used = true;
      this.responses.push({ responseCode: code, body: message, at: Date.now() });
      return { errcode: 0, errmsg: 'ok' };
    })();
    this.responseAttempts.push({ responseCode: code, body, errcode: result.errcode });
    return result;
  }
}
