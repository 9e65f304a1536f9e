/**
 * The console's image routes: previews of the images in a conversation, and uploads of the
 * images agents send. Both take the agent's token as `Authorization: Bearer …` only (never in
 * the URL), so another site can neither embed nor post to them with an agent's browser.
 */
import type { IncomingMessage } from 'node:http';
import type { Logger, MediaApi, PluginScope, RouteHandler } from '@wxbot/core';
import type { AgentConfig } from './options.ts';
import type { HandoffService } from './service.ts';

/** The image formats accepted and served, by their first bytes (no SVG: it can carry script). */
const FORMATS = [
  { type: 'image/jpeg', ext: 'jpg', magic: [0xff, 0xd8, 0xff] },
  { type: 'image/png', ext: 'png', magic: [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a] },
  { type: 'image/gif', ext: 'gif', magic: [0x47, 0x49, 0x46, 0x38] },
  { type: 'image/webp', ext: 'webp', magic: [0x52, 0x49, 0x46, 0x46] },
] as const;
/** What agents may send: JPEG and PNG, which every channel's image messages take. */
const SENDABLE = new Set(['image/jpeg', 'image/png']);

function formatOf(data: Buffer): (typeof FORMATS)[number] | undefined {
  return FORMATS.find(
    (f) => data.length >= f.magic.length && f.magic.every((b, i) => data[i] === b) && (f.type !== 'image/webp' || data.subarray(8, 12).toString('latin1') === 'WEBP'),
  );
}

type RouterContext = Parameters<RouteHandler>[0];

export interface MediaRoutesOptions {
  /** The console's path (`/agent/`): the routes are `<it>media` and `<it>media/:mediaId`. */
  readonly base: string;
  /** The token's agent (`throttled`: too many bad tokens from that address). */
  readonly authenticate: (request: IncomingMessage, token: string | undefined) => AgentConfig | 'throttled' | undefined;
  readonly service: HandoffService;
  readonly maxImageBytes: number;
  readonly media: (channelName: string) => MediaApi | undefined;
  readonly log: Logger;
}

export function mountMediaRoutes(scope: PluginScope, options: MediaRoutesOptions): void {
  const { base, service, log } = options;
  const prefix = base.endsWith('/') ? base : `${base}/`;

  const fail = (ctx: RouterContext, status: number, message: string) => {
    ctx.status = status;
    ctx.type = 'application/json';
    ctx.body = { error: message };
  };
  /** The agent, or the refusal already answered (401, or 429 while the address is throttled). */
  const agentOf = (ctx: RouterContext): AgentConfig | undefined => {
    const bearer = /^Bearer\s+(\S+)\s*$/i.exec(ctx.get('authorization'))?.[1];
    const agent = options.authenticate(ctx.req, bearer);
    if (agent === 'throttled') {
      fail(ctx, 429, 'too many bad tokens; try again later');
      return undefined;
    }
    if (!agent) fail(ctx, 401, 'sign in');
    return agent;
  };

  // A preview: only media recorded in that open conversation, only real images.
  scope.route('GET', `${prefix}media/:mediaId`, async (ctx) => {
    ctx.set('Cache-Control', 'private, no-store');
    if (!agentOf(ctx)) return;
    const mediaId = String(ctx.params['mediaId'] ?? '');
    const id = typeof ctx.query['conversation'] === 'string' ? ctx.query['conversation'] : '';
    const conversation = id && mediaId ? await service.conversationWithMedia(id, mediaId) : undefined;
    if (!conversation) return fail(ctx, 404, 'no such image in an open conversation');
    const media = options.media(conversation.channel);
    if (!media) return fail(ctx, 501, 'this channel has no media API (Official Account: set the AppSecret)');
    let data: Buffer;
    try {
      data = (await media.download(mediaId)).data;
    } catch (error) {
      log.warn({ conversation: id, err: error }, 'image not downloaded for the console');
      return fail(ctx, 502, 'WeChat did not give the image (temporary media expire after 3 days)');
    }
    const format = formatOf(data);
    if (!format) return fail(ctx, 415, 'not an image');
    ctx.set('Content-Security-Policy', "default-src 'none'");
    ctx.set('X-Content-Type-Options', 'nosniff');
    ctx.type = format.type;
    ctx.body = data;
  });

  // An upload: JPEG or PNG bytes as the body; answers the media_id for a `reply` with `image`.
  scope.route('POST', `${prefix}media`, async (ctx) => {
    const agent = agentOf(ctx);
    if (!agent) return;
    const id = typeof ctx.query['conversation'] === 'string' ? ctx.query['conversation'] : '';
    const conversation = id ? await service.conversation(id) : undefined;
    if (!conversation) return fail(ctx, 404, 'no open conversation with that id');
    const media = options.media(conversation.channel);
    if (!media) return fail(ctx, 501, 'this channel has no media API (Official Account: set the AppSecret)');
    const data = await readLimited(ctx.req, options.maxImageBytes);
    if (!data) return fail(ctx, 413, `images up to ${Math.floor(options.maxImageBytes / 1024)} KB`);
    const format = formatOf(data);
    if (!format || !SENDABLE.has(format.type)) return fail(ctx, 415, 'send a JPEG or PNG image');
    try {
      const mediaId = await media.upload('image', { data, fileName: `agent-${Date.now()}.${format.ext}`, contentType: format.type });
      log.info({ conversation: id, agent: agent.name, bytes: data.length }, 'agent uploaded an image');
      ctx.type = 'application/json';
      ctx.body = { mediaId };
    } catch (error) {
      log.warn({ conversation: id, err: error }, 'agent image not uploaded');
      fail(ctx, 502, 'WeChat refused the upload');
    }
  });
}

/** The request body, or undefined when it is larger than `limit` (reading stops there). */
async function readLimited(req: IncomingMessage, limit: number): Promise<Buffer | undefined> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) return undefined;
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) return undefined;
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}
