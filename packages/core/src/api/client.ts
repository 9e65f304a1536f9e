import { createHash } from 'node:crypto';
import type { ExtendOptions, Got, Method, Response } from 'got';
import type { Logger } from 'pino';
import type { Store } from '../store/types.ts';
import { loadOnUse } from '../loadOnUse.ts';
import { loggableError } from '../logger.ts';
import { AccessToken, type FetchReason } from './accessToken.ts';
import { gotUnavailable, TOKEN_ERRCODES, WeChatApiError } from './errors.ts';
import { HttpFailure, JsonHttp, type RawAnswer } from './http.ts';
import { loadGot } from './loadGot.ts';

/** Whose access token: a WeCom corp secret (app or KF) or an Official Account app secret. */
export type ApiCredential =
  | { readonly kind: 'wecom'; readonly corpId: string; readonly secret: string }
  | {
      readonly kind: 'officialAccount';
      readonly appId: string;
      readonly secret: string;
      /**
       * Where the token comes from (default `stable_token`):
       * - `stable_token` (POST /cgi-bin/stable_token, WeChat's recommendation): every caller
       *   gets the same token while it is valid, so other systems using the same AppID do not
       *   invalidate wxbot's token or the reverse. `force_refresh` is only used when WeChat
       *   refused the token (40001/40014/42001) and a normal call still returns it, within its
       *   limit of 20 a day, 30 s apart.
       * - `token` (GET /cgi-bin/token): each call replaces the previous token; for an AppID
       *   whose token is managed elsewhere through that endpoint.
       */
      readonly tokenEndpoint?: 'stable_token' | 'token';
    };

/** Limits of stable_token's force_refresh mode (WeChat doc: 20 a day, at least 30 s apart). */
export interface ForceRefreshLimit {
  /** Forced refreshes per day, counted from 00:00 Beijing time (default 20). */
  perDay?: number;
  /** Least time between two forced refreshes (default 30 s). */
  minIntervalMs?: number;
}

/** WeChat's API hosts per platform; tests and proxies point `apiBase` elsewhere. */
export const DEFAULT_API_BASE = { wecom: 'https://qyapi.weixin.qq.com', officialAccount: 'https://api.weixin.qq.com' } as const;

/**
 * The hint after `request failed: ECONNREFUSED` when the API base is not WeChat's: nothing listens
 * there. On this machine that is most often dev mode's fake WeChat API, which `wxbot simulate
 * --fake-api` runs. Only the origin is named (never a path or credentials).
 */
function refusedHint(baseUrl: string, kind: keyof typeof DEFAULT_API_BASE): string {
  if (baseUrl === DEFAULT_API_BASE[kind]) return '';
  let url: URL;
  try {
    url = new URL(baseUrl);
  } catch {
    return '';
  }
  const local = ['127.0.0.1', 'localhost', '[::1]', '0.0.0.0'].includes(url.hostname);
  return local
    ? ` (nothing listens at ${url.origin}, the channel's apiBaseUrl: dev mode sends there, to the fake WeChat API of \`wxbot simulate --fake-api\`; is it running?)`
    : ` (nothing listens at ${url.origin}, the channel's apiBaseUrl)`;
}

/** What a `WeChatApiClient` needs: its credential, store (for the token), logger, API base, timeout and retries. */
export interface ApiClientOptions {
  credential: ApiCredential;
  /** API origin (proxies, tests' fake server); defaults to WeChat's host for the kind. */
  baseUrl?: string;
  store: Store;
  log: Logger;
  /** Per-attempt timeout (default 5 s). */
  timeoutMs?: number;
  /** Retries after a network error or 5xx (default 2), with a short exponential backoff. */
  retries?: number;
  /** Told about every call (metrics). */
  observer?: ApiCallObserver;
  /** Official Account stable_token: how often force_refresh may be used (WeChat's limits by default). */
  forceRefreshLimit?: ForceRefreshLimit;
}

/** A file from media/get. */
export interface MediaFile {
  data: Buffer;
  contentType: string;
  fileName: string | undefined;
}

/** Called after every API call, for metrics. */
export type ApiCallObserver = (call: { endpoint: string; ms: number; errcode: number | undefined; error: boolean }) => void;

interface RequestSpec {
  method: Method;
  query?: Record<string, string | number>;
  json?: unknown;
  form?: FormData;
  /** media/get answers a file, or JSON on error. */
  media?: boolean;
  /** Safe to send again after a timeout or a 5xx (overrides the rule by method and path). */
  idempotent?: boolean;
}

type JsonBody = { errcode?: number; errmsg?: string } & Record<string, unknown>;

/** POST endpoints that only read: safe to send again after a timeout or a 5xx. */
const READ_ONLY_POSTS: ReadonlySet<string> = new Set(['cgi-bin/kf/sync_msg', 'cgi-bin/kf/service_state/get']);
/** Errors that prove the request never reached the server: safe to retry anything. */
export const NOT_SENT: readonly string[] = ['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN'];

/** got's instance for media calls, and its error class (known only once got is loaded). */
interface MediaHttp {
  http: Got;
  RequestError: typeof import('got').RequestError;
}

/**
 * One WeChat API client per credential. Adds the access token to every call, refreshes it
 * when WeChat says it is bad (once, never in a loop), retries network errors and 5xx with
 * backoff, and turns non-zero errcodes into {@link WeChatApiError}. The token never reaches
 * an error message or a log line.
 */
export class WeChatApiClient {
  /**
   * Media calls (multipart upload, file download): got, on the JSON client's connections, made
   * at the first media call (see loadGot: most bots never make one); tried again at the next one
   * if got could not be loaded.
   */
  readonly #mediaHttp = loadOnUse<MediaHttp>(() => loadGot().then(({ default: got, RequestError }) => ({ http: got.extend(this.#mediaOptions), RequestError })));
  readonly #mediaOptions: ExtendOptions;
  /** JSON calls, the hot path (KF: sync_msg and send_msg per message). */
  readonly #json: JsonHttp;
  readonly #token: AccessToken;
  readonly #credential: ApiCredential;
  readonly #store: Store;
  readonly #tokenKey: string;
  readonly #forceLimit: Required<ForceRefreshLimit>;
  readonly log: Logger;
  observer: ApiCallObserver | undefined;
  /** Said after a refused connection to an API base of the config's own (a fake API, a proxy): what to check. */
  readonly #refusedHint: string;

  constructor(options: ApiClientOptions) {
    this.#credential = options.credential;
    this.#store = options.store;
    this.#forceLimit = { perDay: options.forceRefreshLimit?.perDay ?? 20, minIntervalMs: options.forceRefreshLimit?.minIntervalMs ?? 30_000 };
    this.log = options.log;
    this.observer = options.observer;
    const retries = options.retries ?? 2;
    const baseUrl = options.baseUrl ?? DEFAULT_API_BASE[options.credential.kind];
    this.#refusedHint = refusedHint(baseUrl, options.credential.kind);
    this.#json = new JsonHttp({ baseUrl, timeoutMs: options.timeoutMs ?? 5000, retries });
    this.#mediaOptions = {
      prefixUrl: baseUrl,
      timeout: { request: options.timeoutMs ?? 5000 },
      responseType: 'buffer',
      agent: this.#json.agents,
      throwHttpErrors: true,
      retry: {
        limit: retries,
        methods: ['GET', 'POST'],
        statusCodes: [408, 429, 500, 502, 503, 504],
        calculateDelay: ({ attemptCount, computedValue }) => (computedValue === 0 ? 0 : Math.min(100 * 2 ** (attemptCount - 1), 2000)),
      },
    };
    const id = options.credential.kind === 'wecom' ? options.credential.corpId : options.credential.appId;
    // Each secret has its own token; the key names it by a hash, never the secret itself.
    const secretId = createHash('sha256').update(options.credential.secret).digest('hex').slice(0, 16);
    // stable_token and /cgi-bin/token issue tokens independently: each keeps its own.
    const source = options.credential.kind === 'officialAccount' && options.credential.tokenEndpoint === 'token' ? ':token' : '';
    this.#tokenKey = `token:${options.credential.kind}:${id}:${secretId}${source}`;
    this.#token = new AccessToken({
      key: this.#tokenKey,
      store: options.store,
      log: options.log,
      fetch: (reason) => this.#fetchToken(reason),
    });
  }

  /** GET a JSON endpoint, e.g. `get('cgi-bin/user/get', { userid })`. */
  get<T extends object = JsonBody>(endpoint: string, query: Record<string, string | number> = {}): Promise<T> {
    return this.#call(endpoint, { method: 'GET', query }) as Promise<T>;
  }

  /** POST JSON to an endpoint, e.g. `post('cgi-bin/kf/send_msg', body)`. */
  post<T extends object = JsonBody>(endpoint: string, json: unknown, query: Record<string, string | number> = {}): Promise<T> {
    return this.#call(endpoint, { method: 'POST', json, query }) as Promise<T>;
  }

  /** media/get: the file's bytes, type and name. */
  async downloadMedia(mediaId: string): Promise<MediaFile> {
    return (await this.#call('cgi-bin/media/get', { method: 'GET', query: { media_id: mediaId }, media: true })) as MediaFile;
  }

  /** media/upload (temporary media, 3 days): returns the media_id. */
  async uploadMedia(type: 'image' | 'voice' | 'video' | 'file', file: { data: Buffer; fileName: string; contentType?: string }): Promise<string> {
    const form = new FormData();
    form.append('media', new Blob([new Uint8Array(file.data)], { type: file.contentType ?? 'application/octet-stream' }), file.fileName);
    const result = (await this.#call('cgi-bin/media/upload', { method: 'POST', query: { type }, form })) as JsonBody;
    return String(result['media_id']);
  }

  /** The current access token (for endpoints this client has no helper for). */
  accessToken(): Promise<string> {
    return this.#token.get();
  }

  async #call(endpoint: string, spec: RequestSpec): Promise<JsonBody | MediaFile> {
    const started = performance.now();
    let errcode: number | undefined;
    let failed = true;
    try {
      for (let attempt = 0; ; attempt++) {
        const token = await this.#token.get();
        const result = await this.#send(endpoint, spec, { access_token: token });
        errcode = 'data' in result ? 0 : (result.errcode ?? 0);
        if (errcode === 0) {
          failed = false;
          return result;
        }
        if (TOKEN_ERRCODES.has(errcode) && attempt === 0) {
          this.log.warn({ endpoint, errcode }, 'access token rejected; fetching a new one and retrying once');
          await this.#token.invalidate(token);
          continue;
        }
        throw new WeChatApiError(endpoint, errcode, ('errmsg' in result && result.errmsg) || '');
      }
    } finally {
      this.observer?.({ endpoint, ms: performance.now() - started, errcode, error: failed });
    }
  }

  async #send(endpoint: string, spec: RequestSpec, auth: Record<string, string>): Promise<JsonBody | MediaFile> {
    const path = endpoint.charCodeAt(0) === 47 /* / */ ? endpoint.slice(1) : endpoint;
    // A send may have reached WeChat before a timeout or a 5xx: retrying it would deliver the
    // message twice. Such calls are retried only when the request provably never left.
    const idempotent = spec.idempotent ?? (spec.method === 'GET' || READ_ONLY_POSTS.has(path));
    if (spec.media || spec.form) return this.#sendMedia(endpoint, path, spec, auth, idempotent);
    let answer: RawAnswer;
    try {
      answer = await this.#json.request(path, searchOf(spec.query, auth), spec.json === undefined ? undefined : JSON.stringify(spec.json), idempotent);
    } catch (error) {
      // Only the reason: the URL holds the token (or the secret, for gettoken).
      const reason = error instanceof HttpFailure ? error.reason : String(error);
      throw new WeChatApiError(endpoint, -1, `request failed: ${reason}${reason === 'ECONNREFUSED' ? this.#refusedHint : ''}`);
    }
    return parseAnswer(endpoint, answer.body, answer.contentType);
  }

  /** media/get and media/upload, through got (multipart, file answers): rare, not the hot path. */
  async #sendMedia(endpoint: string, path: string, spec: RequestSpec, auth: Record<string, string>, idempotent: boolean): Promise<JsonBody | MediaFile> {
    let media: MediaHttp;
    try {
      media = await this.#mediaHttp();
    } catch (error) {
      // Nothing was sent: the caller may try again (the next media call loads got again).
      this.log.error({ endpoint, err: loggableError(error) }, 'media call failed: got could not be loaded (tried again at the next media call)');
      throw gotUnavailable(endpoint, error);
    }
    const { http, RequestError } = media;
    let response: Response<unknown>; // a Buffer: the client's responseType
    try {
      response = await http(path, {
        method: spec.method,
        ...(!idempotent && { retry: { ...http.defaults.options.retry, statusCodes: [], errorCodes: [...NOT_SENT] } }),
        searchParams: { ...spec.query, ...auth },
        ...(spec.json !== undefined && { json: spec.json }),
        ...(spec.form && { body: spec.form }),
      });
    } catch (error) {
      // got's errors carry the request options (with the token): keep only what is safe.
      const reason = error instanceof RequestError ? (error.response ? `HTTP ${error.response.statusCode}` : (error.code ?? error.message)) : String(error);
      throw new WeChatApiError(endpoint, -1, `request failed: ${reason}${reason === 'ECONNREFUSED' ? this.#refusedHint : ''}`);
    }
    const contentType = String(response.headers['content-type'] ?? '');
    // media/get answers an error as JSON (sometimes labelled text/plain); a user's own .txt or
    // .json file is still a file: only a JSON object with an errcode is an error.
    if (spec.media && !(/json|text\/plain/.test(contentType) && isErrorAnswer(response.body as unknown as Buffer))) {
      const disposition = String(response.headers['content-disposition'] ?? '');
      // RFC 5987 `filename*=UTF-8''…` carries non-ASCII names; prefer it over `filename="…"`.
      const extended = /filename\*=(?:UTF-8'')?([^;]+)/i.exec(disposition)?.[1];
      const plain = /filename="?([^";]+)"?/i.exec(disposition)?.[1];
      return { data: response.body as unknown as Buffer, contentType, fileName: extended ? decodeURIComponent(extended.trim()) : plain };
    }
    return parseAnswer(endpoint, response.body as unknown as Buffer, contentType);
  }

  async #fetchToken(reason: FetchReason): Promise<IssuedTokenAnswer> {
    const c = this.#credential;
    if (c.kind === 'officialAccount' && c.tokenEndpoint !== 'token') return this.#stableToken(c.appId, c.secret, reason);
    const [endpoint, query] =
      c.kind === 'wecom'
        ? ['cgi-bin/gettoken', { corpid: c.corpId, corpsecret: c.secret }]
        : ['cgi-bin/token', { grant_type: 'client_credential', appid: c.appId, secret: c.secret }];
    return tokenOf(endpoint, (await this.#send(endpoint, { method: 'GET', query }, {})) as JsonBody);
  }

  /**
   * stable_token: a normal call first (it returns the current token, or a new one when that
   * one expired or another system forced a refresh). Only when WeChat refused a token and the
   * normal call hands the same one back is force_refresh used, within its daily limit.
   */
  async #stableToken(appId: string, secret: string, reason: FetchReason): Promise<IssuedTokenAnswer> {
    const endpoint = 'cgi-bin/stable_token';
    const body = { grant_type: 'client_credential', appid: appId, secret, force_refresh: false };
    // A normal call changes nothing on WeChat's side: safe to retry.
    const normal = tokenOf(endpoint, (await this.#send(endpoint, { method: 'POST', json: body, idempotent: true }, {})) as JsonBody);
    if (!reason.rejected || normal.accessToken !== reason.rejected) return normal;
    await this.#spendForcedRefresh(endpoint);
    this.log.warn({ endpoint }, 'access token refused but stable_token still returns it: forcing a refresh (force_refresh: true)');
    return tokenOf(endpoint, (await this.#send(endpoint, { method: 'POST', json: { ...body, force_refresh: true } }, {})) as JsonBody);
  }

  /**
   * Counts one forced refresh against WeChat's limits, in the store (shared by instances; the
   * caller holds the token's refresh lock), or throws when none is left.
   */
  async #spendForcedRefresh(endpoint: string): Promise<void> {
    const key = `${this.#tokenKey}:forced`;
    const now = Date.now();
    const day = beijingDay(now);
    const raw = await this.#store.get(key).catch(() => undefined);
    const used = parseForced(raw, day);
    const { perDay, minIntervalMs } = this.#forceLimit;
    if (used.count >= perDay) {
      throw new WeChatApiError(
        endpoint,
        -1,
        `access token refused, stable_token still returns it, and force_refresh was used ${used.count} times today (WeChat allows ${perDay} a day): check whether the AppSecret was reset, or wait until 00:00 Beijing time`,
      );
    }
    if (now - used.last < minIntervalMs) {
      throw new WeChatApiError(
        endpoint,
        -1,
        `access token refused and stable_token still returns it; force_refresh was used ${Math.round((now - used.last) / 1000)} s ago (WeChat wants ${minIntervalMs / 1000} s between two)`,
      );
    }
    await this.#store.set(key, JSON.stringify({ day, count: used.count + 1, last: now }), 26 * 60 * 60_000).catch((error: unknown) => {
      this.log.warn({ err: error }, 'could not record a forced token refresh in the store');
    });
  }
}

/** The query string: the call's parameters, then the token (or nothing for token fetches). */
function searchOf(query: Record<string, string | number> | undefined, auth: Record<string, string>): string {
  let search = '';
  for (const params of [query, auth]) {
    if (!params) continue;
    for (const key in params) search += `${search ? '&' : ''}${encodeURIComponent(key)}=${encodeURIComponent(params[key]!)}`;
  }
  return search;
}

function parseAnswer(endpoint: string, body: Buffer, contentType: string): JsonBody {
  try {
    return JSON.parse(body.toString('utf8')) as JsonBody;
  } catch {
    throw new WeChatApiError(endpoint, -1, `answer is not JSON (${contentType || 'no content type'})`);
  }
}

type IssuedTokenAnswer = { accessToken: string; expiresIn: number };

function tokenOf(endpoint: string, result: JsonBody): IssuedTokenAnswer {
  if (result.errcode) throw new WeChatApiError(endpoint, result.errcode, result.errmsg ?? '');
  if (typeof result['access_token'] !== 'string') throw new WeChatApiError(endpoint, -1, 'no access_token in the answer');
  return { accessToken: result['access_token'], expiresIn: Number(result['expires_in'] ?? 7200) };
}

/** The calendar day in Beijing time (UTC+8), when WeChat's daily quotas start over. */
function beijingDay(ms: number): string {
  return new Date(ms + 8 * 60 * 60_000).toISOString().slice(0, 10);
}

function parseForced(raw: string | undefined, day: string): { count: number; last: number } {
  try {
    const parsed = JSON.parse(raw ?? '') as { day?: unknown; count?: unknown; last?: unknown };
    const last = Number(parsed.last) || 0;
    return { count: parsed.day === day ? Number(parsed.count) || 0 : 0, last };
  } catch {
    return { count: 0, last: 0 };
  }
}

function isErrorAnswer(body: Buffer): boolean {
  if (body.length > 4096) return false;
  try {
    const parsed = JSON.parse(body.toString('utf8')) as unknown;
    return typeof parsed === 'object' && parsed !== null && typeof (parsed as { errcode?: unknown }).errcode === 'number';
  } catch {
    return false;
  }
}
