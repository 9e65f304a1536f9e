import { AsyncLocalStorage } from 'node:async_hooks';
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import Router from '@koa/router';
import Koa from 'koa';
import { FakeAiBotEndpoints } from './fakeAiBotApi.ts';
import { FakeWebhookEndpoints, type FakeWebhookOptions } from './fakeWebhookApi.ts';

/*
 * A fake WeChat API server (WeCom, WeChat Customer Service "KF" and Official Account) that
 * speaks the real protocol: real paths, query parameters, JSON shapes and errcodes, so a client
 * under test only changes its base URL.
 *
 * Sources for the shapes and errcodes (see ERR below for each code):
 * - WeCom global error codes, developer.work.weixin.qq.com/document/path/90313 (KF codes 95xxx);
 * - WeCom KF docs: sync_msg, send_msg, send_msg_on_event, service_state/get|trans;
 * - Official Account getAccessToken doc and global return codes;
 * - errmsgs seen from the real servers in public bug reports (e.g. 95018).
 * Real errmsgs carry a hint/rid suffix: clients must branch on errcode, never on errmsg.
 */

/** Which API a secret opens. WeCom apps and KF share the CorpID but have different secrets. */
export type CredentialKind = 'wecomApp' | 'wecomKf' | 'officialAccount';

/** A corpid/appid with one of its secrets, registered before tokens can be fetched. */
export interface FakeCredential {
  /** CorpID (WeCom app, KF) or AppID (Official Account). Several secrets may share one id. */
  id: string;
  secret: string;
  /**
   * Optional: which API this secret opens. When set, its tokens are refused elsewhere with
   * errcode 48002, as when an app secret's token calls kf/*. Unset: any WeCom or OA endpoint.
   */
  kind?: CredentialKind;
}

/** Credentials the fake WeChat API accepts, token lifetime and injected faults. */
export interface FakeWeChatApiOptions {
  credentials?: readonly FakeCredential[];
  /** Lifetime of issued tokens, reported as expires_in (default 7200). */
  tokenTtlSeconds?: number;
  /**
   * Official Account only: a new token replaces the old ones, which stay valid this long
   * (the OA doc says about 5 minutes; default 300000). Then they answer 40001.
   */
  officialAccountTokenOverlapMs?: number;
  /** How long a welcome_code or msg_code stays usable (KF doc: 20 s; default 20000). */
  eventCodeTtlMs?: number;
  /**
   * Official Account stable_token: force_refresh calls allowed per day and per credential,
   * and the least time between two (doc: 20, 30 s; defaults).
   */
  stableTokenForceLimit?: { perDay?: number; minIntervalMs?: number };
  /** WeCom group robots: which keys exist and their rate limit (default any key, 20 a minute). */
  webhook?: FakeWebhookOptions;
}

/** One request as the server saw it. */
export interface ApiCall {
  method: string;
  path: string;
  /** First value of each query parameter; access_token is replaced by '[redacted]'. */
  query: Record<string, string>;
  /** Parsed JSON body; for uploads the file's description; undefined when there is none. */
  body: unknown;
  /** Date.now() when the request arrived. */
  at: number;
  /** Its User-Agent header (wxbot sends `wxbot (pid N)`). */
  userAgent?: string;
}

/**
 * A fault for {@link FakeWeChatApi.failNext}: an HTTP error status, a WeChat errcode (HTTP 200),
 * a delay before answering normally, or a dropped connection.
 */
export type Fault = { status: 500 | 502 | 503 } | { errcode: number; errmsg?: string } | { delayMs: number } | { drop: true };

/** An item of sync_msg's msg_list (KF doc "读取消息"): envelope plus a body named by msgtype. */
export interface KfMessage {
  msgid: string;
  send_time: number;
  /** 3 = customer, 4 = system event, 5 = human servicer in WeCom. */
  origin: number;
  msgtype: string;
  /** Absent on events (msgtype 'event'): the doc says they carry it inside `event`. */
  open_kfid?: string;
  external_userid?: string;
  servicer_userid?: string;
  [body: string]: unknown;
}

/** A KF session-state change made through service_state/trans. */
export interface KfTransition {
  open_kfid: string;
  external_userid: string;
  from: number;
  to: number;
  servicer_userid?: string;
  at: number;
}

/** KF session state as service_state/get reports it. */
export interface KfSessionState {
  service_state: number;
  servicer_userid?: string;
}

/** WeChat Customer Service side of the fake. */
export interface FakeKf {
  /**
   * Queues a message for sync_msg. Fills msgid (unique), send_time, origin (3), msgtype (from
   * the body given, else 'text') and a default body; for non-events also open_kfid and
   * external_userid ('wm-customer-1'). A customer message reopens an ended session (state 0).
   */
  push(openKfId: string, msg?: Partial<KfMessage>): KfMessage;
  /** Queues an enter_session event carrying a fresh welcome_code, and returns that code. */
  pushEnterSession(openKfId: string, externalUserId?: string, extra?: { scene?: string; scene_param?: string }): string;
  /** Every message pushed, in order. */
  readonly queued: readonly KfMessage[];
  /** Number of sync_msg requests that reached the handler. */
  readonly syncCalls: number;
  /** Most sync_msg requests in flight at once for this open_kfid. */
  maxConcurrentSyncs(openKfId: string): number;
  /** Delay applied inside every sync_msg (while counted in flight), to expose parallel syncs. */
  syncDelayMs: number;
  /**
   * Makes every next_cursor issued so far invalid, as WeChat's expiry of an old cursor would:
   * sync_msg with one of them answers errcode 50100 (分页查询的游标无效). Cursors issued after
   * this call work; a sync without a cursor starts from the oldest message, as always.
   */
  expireCursors(): void;
  /** Bodies of accepted send_msg requests. */
  readonly sent: readonly Record<string, unknown>[];
  /** Bodies of accepted send_msg_on_event requests. */
  readonly sentOnEvent: readonly Record<string, unknown>[];
  /**
   * send_msg requests that repeated a client msgid already accepted for the account: answered
   * ok with that msgid and not delivered again. (The KF doc only says a given msgid is echoed;
   * treating a repeat as the same message is this fake's model of the client msgid.)
   */
  readonly repeatedMsgIds: number;
  /** Changes made through service_state/trans (not those made with setState). */
  readonly transitions: readonly KfTransition[];
  /** Current state; a session never started is 4 ("ended or not started"). */
  state(openKfId: string, externalUserId: string): KfSessionState;
  /** Sets a state as a servicer in the WeCom client would (e.g. 3 to make send_msg fail 95018). */
  setState(openKfId: string, externalUserId: string, state: number, servicerUserId?: string): void;
}

/** One message the fake accepted for delivery to a user, on any send endpoint. */
export interface Delivery {
  /** e.g. `kf/send_msg`, `message/custom/send`, `message/send`. */
  endpoint: string;
  /** touser (openid, userid, external_userid); '' for send_msg_on_event (the code names the user). */
  user: string;
  msgtype: string;
  /** The text content for text messages. */
  text: string | undefined;
  /** KF: the msgid answered (the client's when it sent one). */
  msgid: string | undefined;
  at: number;
  /** The User-Agent of the request that made it (wxbot sends `wxbot (pid N)`: which process sent it). */
  userAgent: string | undefined;
}

/** A file served by media/get. */
export interface FakeMediaFile {
  data: Buffer;
  contentType: string;
  fileName: string;
}

/** An accepted media/upload. */
export interface FakeUpload extends FakeMediaFile {
  media_id: string;
  type: string;
  at: number;
}

/**
 * Who the users are, for `cgi-bin/user/info` (Official Account) and `kf/customer/batchget`
 * (KF). Since December 2021 user/info no longer returns nicknames: the real server answers the
 * operator's `remark` (often empty); `nickname` here is for older fixtures. An openid without
 * a profile answers as a follower with an empty remark; a KF id without one is listed in
 * `invalid_external_userid`.
 */
export interface FakeProfiles {
  readonly officialAccount: Map<string, { remark?: string; nickname?: string }>;
  readonly kf: Map<string, { nickname: string; avatar?: string }>;
}

/** The fake API's media library: files it serves and uploads it received. */
export interface FakeMedia {
  /** Registers a file for media/get (and as a valid media_id for sends). */
  put(mediaId: string, file: FakeMediaFile): void;
  get(mediaId: string): FakeMediaFile | undefined;
  /** Files received through media/upload, in order. */
  readonly uploads: readonly FakeUpload[];
}

/** A running fake WeChat/WeCom API on 127.0.0.1: what it received and sent, and its fault switches. */
export interface FakeWeChatApi {
  /** Base URL, e.g. `http://127.0.0.1:54321`; endpoints live under `/cgi-bin/...`. */
  readonly url: string;
  /** Every request, in arrival order (faulted ones included). */
  readonly calls: readonly ApiCall[];
  /** Token requests (gettoken, token and stable_token) naming this id (and secret), or all of them. */
  tokenCalls(id?: string, secret?: string): number;
  /** stable_token requests, or only the forced (`force_refresh: true`) or normal ones. */
  stableTokenCalls(filter?: { forced?: boolean }): number;
  /** Issues a token directly, as if fetched with the first credential registered for `id`. */
  issueToken(id: string, family?: 'wecom' | 'officialAccount'): string;
  /** Makes every current token expired: the next call with one answers 42001. */
  expireTokens(): void;
  /**
   * Makes every current token invalid: WeCom tokens answer 40014, Official Account ones 40001.
   * With `stableStillServed`, a normal stable_token call keeps returning the revoked stable
   * token (the case force_refresh exists for); without it, it issues a new one.
   */
  revokeTokens(options?: { stableStillServed?: boolean }): void;
  /** Queues `times` faults for requests whose path ends with `pathSuffix`; consumed in order. */
  failNext(pathSuffix: string, fault: Fault, times?: number): void;
  /**
   * Polls `predicate` until it returns a truthy value (a throw counts as "not yet") and resolves
   * with that value; rejects after `timeoutMs` (default 3000).
   */
  waitFor<T>(predicate: () => T, timeoutMs?: number): Promise<T>;
  readonly kf: FakeKf;
  readonly media: FakeMedia;
  /** Profiles for user/info and kf/customer/batchget. */
  readonly profiles: FakeProfiles;
  /**
   * WeCom app: bodies of accepted message/send requests (text past 2048 bytes truncated), and
   * of accepted message/update_template_card requests; `responseCode()` issues a code as a
   * template_card_event callback carries (an interactive card's message/send returns one too).
   */
  readonly wecom: { readonly sent: readonly Record<string, unknown>[]; readonly cardUpdates: readonly Record<string, unknown>[]; responseCode(): string };
  /** Bodies of accepted Official Account message/custom/send requests. */
  readonly officialAccount: { readonly sent: readonly Record<string, unknown>[] };
  /** Every message accepted for a user on any send endpoint, in the order accepted. */
  readonly deliveries: readonly Delivery[];
  /** The texts delivered to `user`, in order (counts repeats: a text sent twice is there twice). */
  textsTo(user: string): string[];
  /**
   * Takes the API down for `ms`: the port refuses connections (open ones are cut), as a host
   * that is down does; then it listens again on the same port. Resolves when it is back.
   */
  outage(ms: number): Promise<void>;
  /** WeCom AI bot: response_url endpoints and encrypted media URLs. */
  readonly aibot: FakeAiBotEndpoints;
  /** WeCom group robots: webhook/send (paced at 20 a minute, 45009 past it) and webhook/upload_media. */
  readonly webhook: FakeWebhookEndpoints;
  close(): Promise<void>;
}

/** Starts the fake on 127.0.0.1 with a random port. */
export async function startFakeWeChatApi(options: FakeWeChatApiOptions = {}): Promise<FakeWeChatApi> {
  const api = new FakeWeChatApiServer(options);
  await api.listen();
  return api;
}

// ---------------------------------------------------------------------------------------------
// Errcodes

type ErrDef = readonly [code: number, errmsg: string];

/** Every errcode the fake answers with, and where it comes from. */
const ERR = {
  // WeCom 90313: 40013 不合法的CorpID; OA getAccessToken sample: {"errcode":40013,"errmsg":"invalid appid"}.
  invalidCorpId: [40013, 'invalid corpid'],
  invalidAppId: [40013, 'invalid appid'],
  // WeCom 90313: 40001 不合法的secret参数 (real errmsg "invalid credential").
  invalidSecret: [40001, 'invalid credential'],
  // OA getAccessToken doc: 40125 无效的appsecret (what the real server answers today).
  invalidAppSecret: [40125, 'invalid appsecret'],
  // OA getAccessToken doc: 40002 grant_type must be client_credential.
  invalidGrantType: [40002, 'invalid grant_type'],
  // WeCom 90313 / OA global codes: 41002 missing corpid/appid, 41004 missing secret.
  missingCorpId: [41002, 'corpid missing'],
  missingAppId: [41002, 'appid missing'],
  missingSecret: [41004, 'corpsecret missing'],
  missingAppSecret: [41004, 'appsecret missing'],
  // WeCom 90313 and OA global codes: 41001 / 40014 / 42001.
  missingToken: [41001, 'access_token missing'],
  invalidToken: [40014, 'invalid access_token'],
  expiredToken: [42001, 'access_token expired'],
  // OA: an old or revoked token answers 40001 (doc: "access_token 无效"; real errmsg below).
  staleOfficialAccountToken: [40001, 'invalid credential, access_token is invalid or not latest'],
  // stable_token force_refresh over its limit (doc: 20 a day, 30 s apart). The errcodes are not
  // documented (unconfirmed): 45009 is WeChat's "reach max api daily quota limit", 45011 its
  // "api minute-quota reach limit".
  forceRefreshDailyLimit: [45009, 'reach max api daily quota limit (stable_token force_refresh)'],
  forceRefreshTooSoon: [45011, 'api minute-quota reach limit (stable_token force_refresh is 30 s apart)'],
  // WeCom 90313: 48002 API接口无权限调用 (e.g. an app secret's token on kf/*).
  apiForbidden: [48002, 'api forbidden'],
  // WeCom 90313: 40058 不合法的参数 (bad JSON, empty required field); OA 47001 解析JSON内容错误.
  invalidParam: [40058, 'invalid parameter'],
  dataFormatError: [47001, 'data format error'],
  // WeCom 90313 / OA: 40008 不合法的msgtype, 44004 文本content为空, 45002 消息内容大小超过限制.
  invalidMsgType: [40008, 'invalid message type'],
  emptyContent: [44004, 'empty content'],
  contentTooLong: [45002, 'content size out of limit'],
  // WeCom 90313 / OA: 40007 不合法的media_id, 41006 缺少media_id, 44001 多媒体文件为空.
  invalidMediaId: [40007, 'invalid media_id'],
  missingMediaId: [41006, 'media_id missing'],
  emptyMedia: [44001, 'empty media data'],
  // WeCom 90313: 40005 不合法的type参数; OA: 40004 不合法的媒体文件类型.
  invalidMediaType: [40005, 'invalid media type'],
  invalidOfficialAccountMediaType: [40004, 'invalid media type'],
  // OA: 40003 不合法的 OpenID.
  invalidOpenId: [40003, 'invalid openid'],
  // WeCom 90313: 41011 缺少agentid参数; 40096 不合法的外部联系人userid.
  missingAgentId: [41011, 'agentid missing'],
  invalidExternalUserId: [40096, 'invalid external userid'],
  // WeCom 90313: 50100 分页查询的游标无效.
  invalidCursor: [50100, 'invalid cursor'],
  // WeCom 90313, KF block.
  invalidOpenKfId: [95000, 'invalid open_kfid'],
  tooManyMenuItems: [95008, 'too many msgmenu items'],
  invalidMenuItem: [95009, 'invalid msgmenu item type'],
  notServicer: [95014, 'invalid servicer userid'],
  transitionNotAllowed: [95016, 'service state transition not allowed'],
  // 95018 发送客服消息时当前会话状态不允许发送; errmsg as the real server sends it.
  sessionStateForbids: [95018, 'send msg session status invalid'],
  // WeCom 90313: 41049 缺少欢迎语code参数; 41050 无效的欢迎语code (valid 20 s). The KF
  // send_msg_on_event doc names no errcode of its own; these are the documented welcome-code ones.
  missingEventCode: [41049, 'code missing'],
  invalidEventCode: [41050, 'invalid code'],
} as const satisfies Record<string, ErrDef>;

/** An API error answered as `{errcode, errmsg}` with HTTP 200, as the real servers do. */
class WxError extends Error {
  constructor(
    readonly code: number,
    readonly errmsg: string,
  ) {
    super(`${code} ${errmsg}`);
  }
}

function fail(def: ErrDef, detail?: string): never {
  throw new WxError(def[0], detail ? `${def[1]}: ${detail}` : def[1]);
}

type Family = 'wecom' | 'officialAccount';

/** The real servers append a trace id; doing the same keeps clients off errmsg matching. */
function errorBody(error: WxError, family: Family): { errcode: number; errmsg: string } {
  const trace = randomBytes(8).toString('hex');
  const errmsg =
    family === 'wecom'
      ? `${error.errmsg}, hint: [${trace}], from ip: 127.0.0.1, more info at https://open.work.weixin.qq.com/devtool/query?e=${error.code}`
      : `${error.errmsg} rid: ${trace}`;
  return { errcode: error.code, errmsg };
}

// ---------------------------------------------------------------------------------------------
// Small helpers

type Json = Record<string, unknown>;

function isRecord(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function nonEmptyString(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

function randomId(bytes: number): string {
  return randomBytes(bytes).toString('base64url');
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function nowSeconds(): number {
  return Math.floor(Date.now() / 1000);
}

/** Cuts UTF-8 text to at most `maxBytes` without splitting a character. */
function truncateUtf8(text: string, maxBytes: number): string {
  const bytes = Buffer.from(text, 'utf8');
  if (bytes.length <= maxBytes) return text;
  let end = maxBytes;
  while (end > 0 && ((bytes[end] ?? 0) & 0xc0) === 0x80) end--; // back off continuation bytes
  return bytes.subarray(0, end).toString('utf8');
}

const MAX_BODY_BYTES = 32 * 1024 * 1024; // above WeCom's 20 MB file limit

async function readBody(req: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const buffer = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    size += buffer.length;
    if (size > MAX_BODY_BYTES) throw new Error('request body too large');
    chunks.push(buffer);
  }
  return Buffer.concat(chunks);
}

/** A part of a multipart/form-data body. */
interface FormPart {
  name: string;
  fileName?: string;
  contentType?: string;
  data: Buffer;
}

/**
 * Parses multipart/form-data. Written by hand because WeCom's own upload sample
 * (`form-data; name="media";filename="wework.txt"; filelength=6`) is refused by undici's parser,
 * and a client that copies the doc must still be understood.
 */
function parseMultipart(body: Buffer, contentType: string): FormPart[] {
  const boundary = /boundary=(?:"([^"]+)"|([^;\s]+))/i.exec(contentType);
  const token = boundary?.[1] ?? boundary?.[2];
  if (!token) fail(ERR.emptyMedia, 'no multipart boundary');
  const delimiter = Buffer.from(`--${token}`);
  const nextDelimiter = Buffer.from(`\r\n--${token}`);
  const parts: FormPart[] = [];
  let pos = body.indexOf(delimiter);
  if (pos < 0) fail(ERR.emptyMedia, 'multipart body has no parts');
  for (;;) {
    pos += delimiter.length;
    if (body[pos] === 0x2d && body[pos + 1] === 0x2d) break; // "--": closing delimiter
    const headerStart = body.indexOf('\r\n', pos) + 2;
    const headerEnd = body.indexOf('\r\n\r\n', headerStart);
    const end = body.indexOf(nextDelimiter, headerEnd + 4);
    if (headerStart < 2 || headerEnd < 0 || end < 0) fail(ERR.emptyMedia, 'truncated multipart body');
    parts.push(formPart(body.subarray(headerStart, headerEnd).toString('utf8'), body.subarray(headerEnd + 4, end)));
    pos = end + 2;
  }
  return parts;
}

function formPart(headerText: string, data: Buffer): FormPart {
  const part: FormPart = { name: '', data };
  for (const line of headerText.split('\r\n')) {
    const colon = line.indexOf(':');
    const header = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    if (header === 'content-type') part.contentType = value;
    if (header !== 'content-disposition') continue;
    // Parameters are separated by ';' with or without spaces; values quoted or bare.
    for (const [, key, quoted, bare] of value.matchAll(/;\s*([\w*]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^;]*))/g)) {
      const text = (quoted ?? bare ?? '').trim();
      if (key === 'name') part.name = text;
      else if (key === 'filename' && part.fileName === undefined) part.fileName = text;
      else if (key === 'filename*') part.fileName = decodeURIComponent(text.replace(/^[\w-]*'[\w-]*'/, ''));
    }
  }
  return part;
}

/** `attachment; filename="..."`, with an RFC 5987 form when the name is not plain ASCII. */
function contentDisposition(fileName: string): string {
  const ascii = fileName.replace(/[^\x20-\x7e]|["\\]/g, '_');
  if (ascii === fileName) return `attachment; filename="${fileName}"`;
  return `attachment; filename="${ascii}"; filename*=UTF-8''${encodeURIComponent(fileName)}`;
}

// ---------------------------------------------------------------------------------------------
// Message validation shared by the send endpoints

const KF_SEND_TYPES = ['text', 'image', 'voice', 'video', 'file', 'link', 'miniprogram', 'msgmenu', 'location', 'ca_link'];
const KF_EVENT_TYPES = ['text', 'msgmenu'];
const WECOM_SEND_TYPES = ['text', 'image', 'voice', 'video', 'file', 'textcard', 'news', 'mpnews', 'markdown', 'miniprogram_notice', 'template_card'];
const OA_SEND_TYPES = ['text', 'image', 'voice', 'video', 'music', 'news', 'mpnews', 'mpnewsarticle', 'msgmenu', 'wxcard', 'miniprogrampage'];
const MEDIA_MESSAGE_TYPES = ['image', 'voice', 'video', 'file'];
const TEXT_LIMIT_BYTES = 2048; // WeCom and KF text: "最长不超过2048个字节"

/**
 * Checks msgtype and its body. `textLimit`: 'error' (KF: 45002), 'truncate' (WeCom app
 * message/send: "超过将截断") or 'none' (Official Account). Returns the body as delivered.
 */
function checkMessage(body: Json, allowed: readonly string[], media: MediaStore, textLimit: 'error' | 'truncate' | 'none'): Json {
  const msgtype = body['msgtype'];
  if (typeof msgtype !== 'string' || !allowed.includes(msgtype)) fail(ERR.invalidMsgType, String(msgtype));
  const content = body[msgtype];
  if (!isRecord(content)) fail(ERR.invalidParam, `${msgtype} missing`);
  if (msgtype === 'text' || msgtype === 'markdown') {
    const text = nonEmptyString(content['content']) ?? fail(ERR.emptyContent);
    if (textLimit === 'none' || Buffer.byteLength(text) <= TEXT_LIMIT_BYTES) return body;
    if (textLimit === 'error' || msgtype === 'markdown') fail(ERR.contentTooLong, `${Buffer.byteLength(text)} bytes > ${TEXT_LIMIT_BYTES}`);
    return { ...body, text: { ...content, content: truncateUtf8(text, TEXT_LIMIT_BYTES) } };
  }
  if (MEDIA_MESSAGE_TYPES.includes(msgtype)) {
    const mediaId = nonEmptyString(content['media_id']) ?? fail(ERR.missingMediaId);
    if (!media.get(mediaId)) fail(ERR.invalidMediaId, mediaId);
  }
  if (msgtype === 'msgmenu' && Array.isArray(content['list'])) {
    // KF send_msg doc: at most 10 items of type click, view, miniprogram or text.
    if (content['list'].length > 10) fail(ERR.tooManyMenuItems);
    for (const item of content['list']) {
      if (!isRecord(item) || !['click', 'view', 'miniprogram', 'text'].includes(String(item['type']))) fail(ERR.invalidMenuItem);
    }
  }
  return body;
}

// ---------------------------------------------------------------------------------------------
// State: tokens, media, KF

interface IssuedToken {
  credential: FakeCredential;
  family: Family;
  expiresAt: number;
  revoked: boolean;
  /** OA: replaced by a newer token; invalid from this time on. */
  supersededAt?: number;
  /** OA: issued by stable_token (isolated from /cgi-bin/token: neither replaces the other's). */
  stable?: boolean;
  /** stable_token still hands it out although it is revoked (see revokeTokens). */
  servedRevoked?: boolean;
}

class MediaStore implements FakeMedia {
  readonly uploads: FakeUpload[] = [];
  readonly #files = new Map<string, FakeMediaFile>();

  put(mediaId: string, file: FakeMediaFile): void {
    this.#files.set(mediaId, file);
  }

  get(mediaId: string): FakeMediaFile | undefined {
    return this.#files.get(mediaId);
  }
}

/** Allowed service_state/trans moves (KF overview state table): 4 is final until the customer writes. */
const TRANSITIONS: Record<number, readonly number[]> = { 0: [1, 2, 3, 4], 1: [1, 2, 3, 4], 2: [2, 3, 4], 3: [3, 4], 4: [] };

/** Default bodies so that `push(kfId, { msgtype: 'image' })` yields a well-formed item. */
const DEFAULT_BODIES: Record<string, () => Json> = {
  text: () => ({ content: 'hello' }),
  image: () => ({ media_id: randomId(24) }),
  voice: () => ({ media_id: randomId(24) }),
  video: () => ({ media_id: randomId(24) }),
  file: () => ({ media_id: randomId(24) }),
  location: () => ({ latitude: 23.1, longitude: 113.3, name: '', address: '' }),
  link: () => ({ title: '', desc: '', url: 'https://example.com', pic_url: '' }),
};

const DEFAULT_CUSTOMER = 'wm-customer-1';

class KfStore implements FakeKf {
  syncCalls = 0;
  syncDelayMs = 0;
  /** Cursors carry the generation they were issued in; older ones are expired (50100). */
  #cursorGeneration = 0;
  readonly sent: Json[] = [];
  readonly sentOnEvent: Json[] = [];
  repeatedMsgIds = 0;
  readonly transitions: KfTransition[] = [];
  /** Told about every accepted send (the server's delivery log). */
  onDeliver: (endpoint: string, body: Json, msgid: string) => void = () => {};
  /** Client msgids accepted per account. */
  readonly #msgIds = new Set<string>();
  /** The log sync_msg pages through; `seq` is what a cursor points after. */
  readonly #log: { seq: number; openKfId: string; message: KfMessage }[] = [];
  readonly #sessions = new Map<string, KfSessionState>();
  readonly #codes = new Map<string, { expiresAt: number; used: boolean }>();
  readonly #inFlight = new Map<string, number>();
  readonly #maxInFlight = new Map<string, number>();
  readonly #media: MediaStore;
  readonly #codeTtlMs: number;

  constructor(media: MediaStore, codeTtlMs: number) {
    this.#media = media;
    this.#codeTtlMs = codeTtlMs;
  }

  get queued(): readonly KfMessage[] {
    return this.#log.map((entry) => entry.message);
  }

  push(openKfId: string, msg: Partial<KfMessage> = {}): KfMessage {
    const msgtype = msg.msgtype ?? Object.keys(DEFAULT_BODIES).find((type) => msg[type] !== undefined) ?? 'text';
    const message = { ...msg, msgtype } as KfMessage;
    message.msgid ??= `from_msgid_${Date.now()}${String(this.#log.length).padStart(6, '0')}`;
    message.send_time ??= nowSeconds();
    message.origin ??= 3;
    if (message[msgtype] === undefined) message[msgtype] = DEFAULT_BODIES[msgtype]?.() ?? {};
    if (msgtype === 'event') {
      const event = message['event'];
      if (isRecord(event)) message['event'] = { open_kfid: openKfId, ...event }; // a copy: the caller's object stays as given
    } else {
      message.open_kfid ??= openKfId;
      message.external_userid ??= DEFAULT_CUSTOMER;
      // KF overview: state 4 ends the session until the customer writes again, which makes it 0.
      if (message.origin === 3 && this.state(openKfId, message.external_userid).service_state === 4) {
        this.#sessions.set(sessionKey(openKfId, message.external_userid), { service_state: 0 });
      }
    }
    this.#log.push({ seq: this.#log.length + 1, openKfId, message });
    return message;
  }

  pushEnterSession(openKfId: string, externalUserId = DEFAULT_CUSTOMER, extra: { scene?: string; scene_param?: string } = {}): string {
    const welcomeCode = this.#issueCode();
    this.push(openKfId, {
      origin: 4,
      msgtype: 'event',
      event: {
        event_type: 'enter_session',
        open_kfid: openKfId,
        external_userid: externalUserId,
        scene: extra.scene ?? '',
        scene_param: extra.scene_param ?? '',
        welcome_code: welcomeCode,
      },
    });
    return welcomeCode;
  }

  maxConcurrentSyncs(openKfId: string): number {
    return this.#maxInFlight.get(openKfId) ?? 0;
  }

  state(openKfId: string, externalUserId: string): KfSessionState {
    return { ...(this.#sessions.get(sessionKey(openKfId, externalUserId)) ?? { service_state: 4 }) };
  }

  setState(openKfId: string, externalUserId: string, state: number, servicerUserId?: string): void {
    this.#sessions.set(sessionKey(openKfId, externalUserId), state === 3 && servicerUserId ? { service_state: 3, servicer_userid: servicerUserId } : { service_state: state });
  }

  /** POST kf/sync_msg. A missing or empty cursor means "from the start" (doc: oldest first). */
  async sync(body: Json): Promise<Json> {
    this.syncCalls++;
    const openKfId = nonEmptyString(body['open_kfid']);
    const key = openKfId ?? '*'; // the doc allows omitting open_kfid: all accounts
    const inFlight = (this.#inFlight.get(key) ?? 0) + 1;
    this.#inFlight.set(key, inFlight);
    this.#maxInFlight.set(key, Math.max(inFlight, this.#maxInFlight.get(key) ?? 0));
    try {
      if (this.syncDelayMs > 0) await sleep(this.syncDelayMs);
      const after = this.#decodeCursor(body['cursor']);
      // Doc: "默认值和最大值都为1000"; out-of-range values are clamped rather than refused.
      const limit = typeof body['limit'] === 'number' && body['limit'] >= 1 ? Math.min(Math.floor(body['limit']), 1000) : 1000;
      const matching = this.#log.filter((entry) => entry.seq > after && (!openKfId || entry.openKfId === openKfId));
      const page = matching.slice(0, limit);
      return {
        errcode: 0,
        errmsg: 'ok',
        next_cursor: encodeCursor(page.at(-1)?.seq ?? after, this.#cursorGeneration),
        has_more: matching.length > limit ? 1 : 0,
        msg_list: page.map((entry) => entry.message),
      };
    } finally {
      this.#inFlight.set(key, (this.#inFlight.get(key) ?? 1) - 1);
    }
  }

  /** POST kf/send_msg. */
  send(body: Json): Json {
    const touser = nonEmptyString(body['touser']) ?? fail(ERR.invalidExternalUserId, 'touser missing');
    const openKfId = nonEmptyString(body['open_kfid']) ?? fail(ERR.invalidOpenKfId, 'open_kfid missing');
    const msgid = checkMsgId(body['msgid']);
    checkMessage(body, KF_SEND_TYPES, this.#media, 'error');
    // 95018: the API may speak only while the session is new (0) or with the bot (1): not in
    // the waiting pool (2), with a servicer (3) or ended (4). (KF doc "发送消息".)
    const state = this.state(openKfId, touser).service_state;
    if (state !== 0 && state !== 1) fail(ERR.sessionStateForbids);
    if (body['msgid'] !== undefined) {
      const key = `${openKfId}\u0000${msgid}`;
      if (this.#msgIds.has(key)) {
        this.repeatedMsgIds++;
        return { errcode: 0, errmsg: 'ok', msgid };
      }
      this.#msgIds.add(key);
    }
    this.sent.push(body);
    this.onDeliver('kf/send_msg', body, msgid);
    return { errcode: 0, errmsg: 'ok', msgid };
  }

  /** POST kf/send_msg_on_event: the code is single-use and expires (doc: 20 s). */
  sendOnEvent(body: Json): Json {
    const code = nonEmptyString(body['code']) ?? fail(ERR.missingEventCode);
    const msgid = checkMsgId(body['msgid']);
    checkMessage(body, KF_EVENT_TYPES, this.#media, 'error');
    const entry = this.#codes.get(code);
    if (!entry) fail(ERR.invalidEventCode, 'unknown code');
    if (entry.used) fail(ERR.invalidEventCode, 'code already used');
    if (Date.now() >= entry.expiresAt) fail(ERR.invalidEventCode, 'code expired');
    entry.used = true;
    this.sentOnEvent.push(body);
    this.onDeliver('kf/send_msg_on_event', body, msgid);
    return { errcode: 0, errmsg: 'ok', msgid };
  }

  /** POST kf/service_state/get. servicer_userid is only reported in state 3. */
  getState(body: Json): Json {
    const [openKfId, externalUserId] = sessionOf(body);
    return { errcode: 0, errmsg: 'ok', ...this.state(openKfId, externalUserId) };
  }

  /** POST kf/service_state/trans. Moving to 3 or 4 returns a msg_code for send_msg_on_event. */
  transfer(body: Json): Json {
    const [openKfId, externalUserId] = sessionOf(body);
    const to = body['service_state'];
    if (typeof to !== 'number' || !Number.isInteger(to) || to < 0 || to > 4) fail(ERR.invalidParam, 'service_state');
    const servicer = nonEmptyString(body['servicer_userid']);
    if (to === 3 && !servicer) fail(ERR.notServicer, 'servicer_userid required for state 3');
    const from = this.state(openKfId, externalUserId).service_state;
    if (!TRANSITIONS[from]?.includes(to)) fail(ERR.transitionNotAllowed, `${from} -> ${to}`);
    this.setState(openKfId, externalUserId, to, servicer);
    this.transitions.push({ open_kfid: openKfId, external_userid: externalUserId, from, to, ...(to === 3 ? { servicer_userid: servicer } : {}), at: Date.now() });
    return to === 3 || to === 4 ? { errcode: 0, errmsg: 'ok', msg_code: this.#issueCode() } : { errcode: 0, errmsg: 'ok' };
  }

  #issueCode(): string {
    const code = randomId(24);
    this.#codes.set(code, { expiresAt: Date.now() + this.#codeTtlMs, used: false });
    return code;
  }

  expireCursors(): void {
    this.#cursorGeneration++;
  }

  #decodeCursor(cursor: unknown): number {
    if (cursor === undefined || cursor === null || cursor === '') return 0;
    const match = typeof cursor === 'string' ? /^wxfake:(?:(\d+):)?(\d+)$/.exec(Buffer.from(cursor, 'base64url').toString('latin1')) : null;
    const seq = Number(match?.[2] ?? Number.NaN);
    if (!Number.isSafeInteger(seq) || seq > this.#log.length) fail(ERR.invalidCursor);
    if (Number(match?.[1] ?? 0) < this.#cursorGeneration) fail(ERR.invalidCursor, 'cursor expired');
    return seq;
  }
}

/** Cursors are opaque to clients; this one encodes the sequence number of the last item read. */
function encodeCursor(seq: number, generation: number): string {
  return Buffer.from(`wxfake:${generation}:${seq}`, 'latin1').toString('base64url');
}

function sessionKey(openKfId: string, externalUserId: string): string {
  return `${openKfId}\u0000${externalUserId}`;
}

function sessionOf(body: Json): [string, string] {
  return [
    nonEmptyString(body['open_kfid']) ?? fail(ERR.invalidOpenKfId, 'open_kfid missing'),
    nonEmptyString(body['external_userid']) ?? fail(ERR.invalidExternalUserId, 'external_userid missing'),
  ];
}

/** KF doc: msgid is optional, at most 32 bytes of [0-9a-zA-Z_-], echoed back when given. */
function checkMsgId(msgid: unknown): string {
  if (msgid === undefined || msgid === '') return randomId(16);
  if (typeof msgid !== 'string' || !/^[0-9a-zA-Z_-]{1,32}$/.test(msgid)) fail(ERR.invalidParam, 'msgid');
  return msgid;
}

// ---------------------------------------------------------------------------------------------
// The server

/** What an endpoint accepts: a token family, and optionally the credential kind it needs. */
interface Access {
  family: Family | 'any';
  kind?: CredentialKind;
}

/** Per-request data shared by the middlewares, kept in ctx.state. */
interface RequestData {
  raw: Buffer;
  token?: IssuedToken;
}

function requestData(ctx: Koa.Context): RequestData {
  return ctx.state['fakeWeChat'] as RequestData;
}

function firstQuery(ctx: Koa.Context, name: string): string | undefined {
  const value = ctx.query[name];
  return Array.isArray(value) ? value[0] : value;
}

class FakeWeChatApiServer implements FakeWeChatApi {
  readonly calls: ApiCall[] = [];
  /** The request being handled, in its async context. */
  readonly #request = new AsyncLocalStorage<Koa.Context>();
  readonly media = new MediaStore();
  readonly profiles: FakeProfiles = { officialAccount: new Map(), kf: new Map() };
  readonly kf: KfStore;
  readonly wecom = { sent: [] as Json[], cardUpdates: [] as Json[], responseCode: () => this.#issueResponseCode() };
  /** response_code → when it was issued and whether it was used (doc 94888: once, 72 h). */
  readonly #responseCodes = new Map<string, { issued: number; used: boolean }>();
  readonly officialAccount = { sent: [] as Json[] };
  readonly deliveries: Delivery[] = [];
  readonly aibot = new FakeAiBotEndpoints(() => this.#url);
  readonly webhook: FakeWebhookEndpoints;
  #url = '';
  #port = 0;
  readonly #server: Server;
  readonly #credentials: readonly FakeCredential[];
  readonly #tokens = new Map<string, IssuedToken>();
  readonly #tokenRequests: { id: string; secret: string; stable?: { forced: boolean } }[] = [];
  /** Forced stable_token refreshes per credential: the Beijing day, the count that day, the last one. */
  readonly #forced = new Map<FakeCredential, { day: string; count: number; last: number }>();
  readonly #forceLimit: { perDay: number; minIntervalMs: number };
  readonly #faults: { pathSuffix: string; fault: Fault; remaining: number }[] = [];
  readonly #ttlSeconds: number;
  readonly #overlapMs: number;

  constructor(options: FakeWeChatApiOptions) {
    this.#credentials = options.credentials ?? [];
    this.#ttlSeconds = options.tokenTtlSeconds ?? 7200;
    this.#overlapMs = options.officialAccountTokenOverlapMs ?? 300_000;
    this.#forceLimit = { perDay: options.stableTokenForceLimit?.perDay ?? 20, minIntervalMs: options.stableTokenForceLimit?.minIntervalMs ?? 30_000 };
    this.webhook = new FakeWebhookEndpoints(options.webhook);
    this.kf = new KfStore(this.media, options.eventCodeTtlMs ?? 20_000);
    this.kf.onDeliver = (endpoint, body, msgid) => this.#delivered(endpoint, body, msgid);
    this.#server = createServer(this.#createApp().callback());
  }

  get url(): string {
    return this.#url;
  }

  listen(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen(this.#port, '127.0.0.1', () => {
        this.#server.off('error', reject);
        const { port } = this.#server.address() as AddressInfo;
        this.#port = port;
        this.#url = `http://127.0.0.1:${port}`;
        resolve();
      });
    });
  }

  textsTo(user: string): string[] {
    return this.deliveries.filter((d) => d.user === user && d.text !== undefined).map((d) => d.text!);
  }

  async outage(ms: number): Promise<void> {
    await new Promise<void>((resolve) => {
      this.#server.close(() => resolve());
      this.#server.closeAllConnections();
    });
    await sleep(ms);
    await this.listen();
  }

  #delivered(endpoint: string, body: Json, msgid: string | undefined): void {
    const msgtype = String(body['msgtype']);
    const content = body[msgtype];
    const text = msgtype === 'text' && isRecord(content) ? String(content['content']) : undefined;
    const userAgent = this.#request.getStore()?.get('user-agent') || undefined;
    this.deliveries.push({ endpoint, user: typeof body['touser'] === 'string' ? body['touser'] : '', msgtype, text, msgid, at: Date.now(), userAgent });
  }

  tokenCalls(id?: string, secret?: string): number {
    return this.#tokenRequests.filter((r) => (id === undefined || r.id === id) && (secret === undefined || r.secret === secret)).length;
  }

  stableTokenCalls(filter: { forced?: boolean } = {}): number {
    return this.#tokenRequests.filter((r) => r.stable && (filter.forced === undefined || r.stable.forced === filter.forced)).length;
  }

  issueToken(id: string, family: Family = 'wecom'): string {
    const credential = this.#credentials.find((c) => c.id === id);
    if (!credential) throw new Error(`issueToken: no credential registered for ${id}`);
    return this.#issue(credential, family);
  }

  expireTokens(): void {
    const past = Date.now() - 1;
    for (const token of this.#tokens.values()) token.expiresAt = Math.min(token.expiresAt, past);
  }

  revokeTokens(options: { stableStillServed?: boolean } = {}): void {
    for (const token of this.#tokens.values()) {
      if (!token.revoked && token.stable && options.stableStillServed) token.servedRevoked = true;
      token.revoked = true;
    }
  }

  failNext(pathSuffix: string, fault: Fault, times = 1): void {
    this.#faults.push({ pathSuffix, fault, remaining: times });
  }

  async waitFor<T>(predicate: () => T, timeoutMs = 3000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    let lastError: unknown;
    for (;;) {
      try {
        const value = predicate();
        if (value) return value;
        lastError = undefined;
      } catch (error) {
        lastError = error; // e.g. an expect() inside the predicate: keep polling
      }
      if (Date.now() >= deadline) {
        const why = lastError instanceof Error ? `; last error: ${lastError.message}` : '';
        throw new Error(`waitFor: condition not met within ${timeoutMs} ms (${this.calls.length} API calls seen)${why}\n  predicate: ${predicate.toString()}`);
      }
      await sleep(10);
    }
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.#server.close(() => resolve());
      this.#server.closeAllConnections(); // keep-alive sockets would hold close() open
    });
  }

  // --- tokens ---

  #issue(credential: FakeCredential, family: Family): string {
    const now = Date.now();
    if (family === 'officialAccount') {
      // OA doc: a new token replaces the previous ones, which keep working a short while;
      // stable_token's are not touched (the doc: the two are isolated).
      for (const token of this.#tokens.values()) {
        if (token.credential === credential && token.family === family && !token.stable) token.supersededAt ??= now + this.#overlapMs;
      }
    }
    const accessToken = randomId(48);
    this.#tokens.set(accessToken, { credential, family, expiresAt: now + this.#ttlSeconds * 1000, revoked: false });
    return accessToken;
  }

  /**
   * OA stable_token (getStableAccessToken doc): a normal call returns the current stable token
   * while it is valid (a new one in its last 5 minutes, "平台会提前5分钟更新"; the old one lives
   * on until it expires); force_refresh invalidates it at once and issues a new one, at most
   * 20 times a day and 30 s apart. JSON body only.
   */
  #stableToken(ctx: Koa.Context): Json {
    let body: unknown;
    try {
      body = JSON.parse(requestData(ctx).raw.toString('utf8'));
    } catch {
      body = undefined;
    }
    if (!isRecord(body)) fail(ERR.dataFormatError, 'stable_token takes a JSON body');
    if (body['grant_type'] !== 'client_credential') fail(ERR.invalidGrantType);
    const credential = this.#credentialFor('officialAccount', nonEmptyString(body['appid']), nonEmptyString(body['secret']));
    const now = Date.now();
    // Renewed 5 minutes early (half the life of the short tokens tests use).
    const renewMs = Math.min(5 * 60_000, (this.#ttlSeconds * 1000) / 2);
    const current = [...this.#tokens.entries()].find(
      ([, t]) => t.stable && t.credential === credential && (!t.revoked || t.servedRevoked) && t.supersededAt === undefined && t.expiresAt - now > renewMs,
    );
    if (body['force_refresh'] === true) {
      const day = new Date(now + 8 * 60 * 60_000).toISOString().slice(0, 10);
      const used = this.#forced.get(credential);
      const count = used?.day === day ? used.count : 0;
      if (count >= this.#forceLimit.perDay) fail(ERR.forceRefreshDailyLimit);
      if (used && now - used.last < this.#forceLimit.minIntervalMs) fail(ERR.forceRefreshTooSoon);
      this.#forced.set(credential, { day, count: count + 1, last: now });
      for (const token of this.#tokens.values()) {
        if (token.stable && token.credential === credential) {
          token.revoked = true;
          token.servedRevoked = false;
        }
      }
    } else if (current) {
      return { access_token: current[0], expires_in: Math.floor((current[1].expiresAt - now) / 1000) };
    }
    const accessToken = randomId(48);
    this.#tokens.set(accessToken, { credential, family: 'officialAccount', expiresAt: now + this.#ttlSeconds * 1000, revoked: false, stable: true });
    return { access_token: accessToken, expires_in: this.#ttlSeconds };
  }

  /** Finds the credential for a token request or fails with the doc's errcode. */
  #credentialFor(family: Family, id: string | undefined, secret: string | undefined): FakeCredential {
    const wecom = family === 'wecom';
    if (!id) fail(wecom ? ERR.missingCorpId : ERR.missingAppId);
    if (!secret) fail(wecom ? ERR.missingSecret : ERR.missingAppSecret);
    const sameId = this.#credentials.filter((c) => c.id === id && (c.kind === undefined || (c.kind === 'officialAccount') === !wecom));
    if (sameId.length === 0) fail(wecom ? ERR.invalidCorpId : ERR.invalidAppId);
    return sameId.find((c) => c.secret === secret) ?? fail(wecom ? ERR.invalidSecret : ERR.invalidAppSecret);
  }

  /** Checks `?access_token=` for an endpoint; the errcode depends on how the token went bad. */
  #authorize(ctx: Koa.Context, access: Access): IssuedToken {
    const accessToken = firstQuery(ctx, 'access_token');
    if (!accessToken) fail(ERR.missingToken);
    const token = this.#tokens.get(accessToken);
    // A token of the other family was issued by another host: the server has never seen it.
    if (!token || (access.family !== 'any' && token.family !== access.family)) fail(ERR.invalidToken);
    const oa = token.family === 'officialAccount';
    if (token.revoked) fail(oa ? ERR.staleOfficialAccountToken : ERR.invalidToken);
    if (token.supersededAt !== undefined && Date.now() >= token.supersededAt) fail(ERR.staleOfficialAccountToken);
    if (Date.now() >= token.expiresAt) fail(ERR.expiredToken);
    const kind = token.credential.kind;
    if (access.kind && kind && kind !== access.kind) fail(ERR.apiForbidden, `a ${kind} secret cannot call ${ctx.path}`);
    return token;
  }

  // --- HTTP ---

  #createApp(): Koa {
    const app = new Koa();
    app.on('error', () => {}); // dropped sockets and requests cut by close() are expected here
    app.use((ctx, next) => this.#record(ctx, next));
    app.use((ctx, next) => this.#injectFault(ctx, next));

    const router = new Router();
    router.get('/cgi-bin/gettoken', (ctx) =>
      this.#answer(
        ctx,
        () => 'wecom',
        () => this.#wecomToken(ctx),
      ),
    );
    router.get('/cgi-bin/token', (ctx) =>
      this.#answer(
        ctx,
        () => 'officialAccount',
        () => this.#officialAccountToken(ctx),
      ),
    );
    router.post('/cgi-bin/stable_token', (ctx) =>
      this.#answer(
        ctx,
        () => 'officialAccount',
        () => this.#stableToken(ctx),
      ),
    );
    const kf: Access = { family: 'wecom', kind: 'wecomKf' };
    this.#postJson(router, '/cgi-bin/kf/sync_msg', kf, (body) => this.kf.sync(body));
    this.#postJson(router, '/cgi-bin/kf/send_msg', kf, (body) => this.kf.send(body));
    this.#postJson(router, '/cgi-bin/kf/send_msg_on_event', kf, (body) => this.kf.sendOnEvent(body));
    this.#postJson(router, '/cgi-bin/kf/service_state/get', kf, (body) => this.kf.getState(body));
    this.#postJson(router, '/cgi-bin/kf/service_state/trans', kf, (body) => this.kf.transfer(body));
    this.#postJson(router, '/cgi-bin/message/send', { family: 'wecom', kind: 'wecomApp' }, (body) => this.#wecomSend(body));
    this.#postJson(router, '/cgi-bin/message/update_template_card', { family: 'wecom', kind: 'wecomApp' }, (body) => this.#updateTemplateCard(body));
    this.#postJson(router, '/cgi-bin/message/custom/send', { family: 'officialAccount', kind: 'officialAccount' }, (body) => this.#officialAccountSend(body));
    this.#postJson(router, '/cgi-bin/kf/customer/batchget', kf, (body) => this.#kfCustomers(body));
    router.get('/cgi-bin/user/info', (ctx) => this.#withToken(ctx, { family: 'officialAccount', kind: 'officialAccount' }, () => this.#userInfo(ctx)));
    router.get('/cgi-bin/media/get', (ctx) => this.#withToken(ctx, { family: 'any' }, () => this.#mediaGet(ctx)));
    router.post('/cgi-bin/media/upload', (ctx) => this.#withToken(ctx, { family: 'any' }, (token) => this.#mediaUpload(ctx, token)));
    this.aibot.mount(router, (ctx) => requestData(ctx).raw);
    this.webhook.mount(router, (ctx) => requestData(ctx).raw, parseMultipart);
    app.use(router.routes());
    app.use(router.allowedMethods());
    return app;
  }

  /** Reads the body once, logs the call, and counts token requests. */
  async #record(ctx: Koa.Context, next: Koa.Next): Promise<void> {
    const raw = await readBody(ctx.req);
    ctx.state['fakeWeChat'] = { raw } satisfies RequestData;
    const query: Record<string, string> = {};
    for (const name of Object.keys(ctx.query)) query[name] = name === 'access_token' ? '[redacted]' : (firstQuery(ctx, name) ?? '');
    this.calls.push({ method: ctx.method, path: ctx.path, query, body: describeBody(ctx, raw), at: Date.now(), userAgent: ctx.get('user-agent') || undefined });
    if (ctx.path === '/cgi-bin/gettoken' || ctx.path === '/cgi-bin/token') {
      const wecom = ctx.path === '/cgi-bin/gettoken';
      this.#tokenRequests.push({ id: query[wecom ? 'corpid' : 'appid'] ?? '', secret: query[wecom ? 'corpsecret' : 'secret'] ?? '' });
    } else if (ctx.path === '/cgi-bin/stable_token') {
      const body = this.calls.at(-1)?.body;
      const json = isRecord(body) ? body : {};
      this.#tokenRequests.push({ id: String(json['appid'] ?? ''), secret: String(json['secret'] ?? ''), stable: { forced: json['force_refresh'] === true } });
    }
    // The request's headers, for what the handlers record (deliveries) without a context at hand.
    await this.#request.run(ctx, next);
  }

  async #injectFault(ctx: Koa.Context, next: Koa.Next): Promise<void> {
    const index = this.#faults.findIndex((f) => ctx.path.endsWith(f.pathSuffix));
    const entry = this.#faults[index];
    if (!entry) return next();
    if (--entry.remaining <= 0) this.#faults.splice(index, 1);
    const { fault } = entry;
    if ('drop' in fault) {
      ctx.respond = false; // Koa must not write to the socket we destroy
      ctx.req.socket.destroy();
    } else if ('delayMs' in fault) {
      await sleep(fault.delayMs);
      await next();
    } else if ('status' in fault) {
      // What a gateway in front of the API sends: HTML, not JSON.
      ctx.status = fault.status;
      ctx.type = 'text/html';
      ctx.body = `<html><body><h1>${fault.status}</h1></body></html>`;
    } else {
      ctx.body = { errcode: fault.errcode, errmsg: fault.errmsg ?? 'injected fault' };
    }
  }

  /**
   * Runs a handler and turns a WxError into the `{errcode, errmsg}` answer, in the style of
   * `family()` (asked after the handler ran: shared endpoints learn it from the token).
   */
  async #answer(ctx: Koa.Context, family: () => Family, handler: () => unknown): Promise<void> {
    try {
      const result = await handler();
      if (result !== undefined) ctx.body = result;
    } catch (error) {
      if (!(error instanceof WxError)) throw error;
      ctx.type = 'application/json';
      ctx.body = errorBody(error, family());
    }
  }

  /** Authorizes, then runs the handler. */
  #withToken(ctx: Koa.Context, access: Access, handler: (token: IssuedToken) => unknown): Promise<void> {
    const family = (): Family => requestData(ctx).token?.family ?? (access.family === 'any' ? 'wecom' : access.family);
    return this.#answer(ctx, family, () => {
      const token = this.#authorize(ctx, access);
      requestData(ctx).token = token;
      return handler(token);
    });
  }

  #postJson(router: Router, path: string, access: Access, handler: (body: Json) => unknown): void {
    router.post(path, (ctx) =>
      this.#withToken(ctx, access, (token) => {
        let body: unknown;
        try {
          body = JSON.parse(requestData(ctx).raw.toString('utf8'));
        } catch {
          body = undefined;
        }
        if (!isRecord(body)) fail(token.family === 'wecom' ? ERR.invalidParam : ERR.dataFormatError, 'body is not a JSON object');
        return handler(body);
      }),
    );
  }

  #wecomToken(ctx: Koa.Context): Json {
    const credential = this.#credentialFor('wecom', firstQuery(ctx, 'corpid'), firstQuery(ctx, 'corpsecret'));
    return { errcode: 0, errmsg: 'ok', access_token: this.#issue(credential, 'wecom'), expires_in: this.#ttlSeconds };
  }

  /** OA getAccessToken: the success answer has no errcode at all, per the doc's sample. */
  #officialAccountToken(ctx: Koa.Context): Json {
    if (firstQuery(ctx, 'grant_type') !== 'client_credential') fail(ERR.invalidGrantType);
    const credential = this.#credentialFor('officialAccount', firstQuery(ctx, 'appid'), firstQuery(ctx, 'secret'));
    return { access_token: this.#issue(credential, 'officialAccount'), expires_in: this.#ttlSeconds };
  }

  /** WeCom app message/send: text past 2048 bytes is truncated (doc: "超过将截断"), not refused. */
  #wecomSend(body: Json): Json {
    if (body['agentid'] === undefined || body['agentid'] === '') fail(ERR.missingAgentId);
    if (!['touser', 'toparty', 'totag'].some((key) => nonEmptyString(body[key]))) fail(ERR.invalidParam, 'touser, toparty and totag are all empty');
    const accepted = checkMessage(body, WECOM_SEND_TYPES, this.media, 'truncate');
    this.wecom.sent.push(accepted);
    this.#delivered('message/send', accepted, undefined);
    const answer: Json = { errcode: 0, errmsg: 'ok', invaliduser: '', invalidparty: '', invalidtag: '', unlicenseduser: '', msgid: randomId(24) };
    // Doc 94888: sending a card that can call back returns a response_code for one update.
    const cardType = isRecord(accepted['template_card']) ? accepted['template_card']['card_type'] : undefined;
    if (accepted['msgtype'] === 'template_card' && ['button_interaction', 'vote_interaction', 'multiple_interaction'].includes(String(cardType)))
      answer['response_code'] = this.#issueResponseCode();
    return answer;
  }

  #issueResponseCode(): string {
    const code = randomId(32);
    this.#responseCodes.set(code, { issued: Date.now(), used: false });
    return code;
  }

  /**
   * message/update_template_card (doc 94888): agentid, a response_code (once, 72 h) and either
   * `button.replace_name` or a `template_card`. The errcode of a used or unknown code is not
   * documented (unconfirmed): the fake answers 40058 (invalid parameter) with a message saying which.
   */
  #updateTemplateCard(body: Json): Json {
    if (body['agentid'] === undefined || body['agentid'] === '') fail(ERR.missingAgentId);
    const code = this.#responseCodes.get(String(body['response_code'] ?? ''));
    if (!code || Date.now() - code.issued > 72 * 60 * 60_000) fail(ERR.invalidParam, 'invalid response_code (fake: errcode unconfirmed)');
    if (code.used) fail(ERR.invalidParam, 'response_code has been used (fake: errcode unconfirmed)');
    const button = isRecord(body['button']) ? body['button'] : undefined;
    const card = isRecord(body['template_card']) ? body['template_card'] : undefined;
    if (button ? !nonEmptyString(button['replace_name']) : !(card && nonEmptyString(card['card_type']))) fail(ERR.invalidParam, 'button.replace_name or template_card.card_type');
    code.used = true;
    this.wecom.cardUpdates.push(body);
    return { errcode: 0, errmsg: 'ok', invaliduser: [] };
  }

  /** kf/customer/batchget: 1–100 external_userids; unknown ones in invalid_external_userid. */
  #kfCustomers(body: Json): Json {
    const ids = body['external_userid_list'];
    if (!Array.isArray(ids) || ids.length === 0 || ids.length > 100 || !ids.every((id) => nonEmptyString(id)))
      fail(ERR.invalidParam, 'external_userid_list must hold 1 to 100 ids');
    const known = (ids as string[]).filter((id) => this.profiles.kf.has(id));
    return {
      errcode: 0,
      errmsg: 'ok',
      customer_list: known.map((id) => {
        const p = this.profiles.kf.get(id)!;
        return { external_userid: id, nickname: p.nickname, avatar: p.avatar ?? '', gender: 0, unionid: '' };
      }),
      invalid_external_userid: (ids as string[]).filter((id) => !this.profiles.kf.has(id)),
    };
  }

  /** OA user/info: today's fields (no nickname or avatar since 2021-12-27; `remark` is the operator's). */
  #userInfo(ctx: Koa.Context): Json {
    const openid = nonEmptyString(firstQuery(ctx, 'openid')) ?? fail(ERR.invalidOpenId, 'openid missing');
    const p = this.profiles.officialAccount.get(openid) ?? {};
    return {
      subscribe: 1,
      openid,
      language: 'zh_CN',
      subscribe_time: 1700000000,
      remark: p.remark ?? '',
      groupid: 0,
      tagid_list: [],
      subscribe_scene: 'ADD_SCENE_QR_CODE',
      qr_scene: 0,
      qr_scene_str: '',
      ...(p.nickname !== undefined && { nickname: p.nickname }),
    };
  }

  #officialAccountSend(body: Json): Json {
    if (!nonEmptyString(body['touser'])) fail(ERR.invalidOpenId, 'touser missing');
    const accepted = checkMessage(body, OA_SEND_TYPES, this.media, 'none');
    this.officialAccount.sent.push(accepted);
    this.#delivered('message/custom/send', accepted, undefined);
    return { errcode: 0, errmsg: 'ok' };
  }

  /** media/get: the bytes, or JSON 40007 (HTTP 200, application/json) as the real server does. */
  #mediaGet(ctx: Koa.Context): undefined {
    const mediaId = firstQuery(ctx, 'media_id') || fail(ERR.missingMediaId);
    const file = this.media.get(mediaId) ?? fail(ERR.invalidMediaId, mediaId);
    ctx.set('Content-Type', file.contentType);
    ctx.set('Content-Disposition', contentDisposition(file.fileName));
    ctx.set('Cache-Control', 'no-cache, must-revalidate');
    ctx.body = file.data;
    return undefined;
  }

  /** media/upload: multipart field `media`. WeCom answers created_at as a string, OA as a number. */
  #mediaUpload(ctx: Koa.Context, token: IssuedToken): Json {
    const oa = token.family === 'officialAccount';
    const type = firstQuery(ctx, 'type') ?? '';
    const types = oa ? ['image', 'voice', 'video', 'thumb'] : ['image', 'voice', 'video', 'file'];
    if (!types.includes(type)) fail(oa ? ERR.invalidOfficialAccountMediaType : ERR.invalidMediaType, type);
    const part = parseMultipart(requestData(ctx).raw, ctx.get('content-type')).find((p) => p.name === 'media');
    if (!part || part.data.length === 0) fail(ERR.emptyMedia, 'no file in form field "media"');
    const mediaId = randomId(48);
    const file: FakeMediaFile = { data: Buffer.from(part.data), contentType: part.contentType ?? 'application/octet-stream', fileName: part.fileName ?? mediaId };
    const createdAt = nowSeconds();
    this.media.put(mediaId, file);
    this.media.uploads.push({ ...file, media_id: mediaId, type, at: Date.now() });
    return oa ? { type, media_id: mediaId, created_at: createdAt } : { errcode: 0, errmsg: '', type, media_id: mediaId, created_at: String(createdAt) };
  }
}

/** The body as logged: parsed JSON, a description of uploaded files, or the raw text. */
function describeBody(ctx: Koa.Context, raw: Buffer): unknown {
  if (raw.length === 0) return undefined;
  const contentType = ctx.get('content-type');
  if (/^multipart\/form-data/i.test(contentType)) {
    try {
      return Object.fromEntries(parseMultipart(raw, contentType).map((p) => [p.name, { fileName: p.fileName, contentType: p.contentType, size: p.data.length }]));
    } catch {
      return '[unparsable multipart body]';
    }
  }
  const text = raw.toString('utf8');
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}
