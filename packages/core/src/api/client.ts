import { createHash } from 'node:crypto';
import got, { RequestError, type Got, type Method } from 'got';
import type { Logger } from 'pino';
import type { Store } from '../store/types.ts';
import { AccessToken } from './accessToken.ts';
import { TOKEN_ERRCODES, WeChatApiError } from './errors.ts';

/** Whose access token: a WeCom corp secret (app or KF) or an Official Account app secret. */
export type ApiCredential =
  | { readonly kind: 'wecom'; readonly corpId: string; readonly secret: string }
  | { readonly kind: 'officialAccount'; readonly appId: string; readonly secret: string };

/** WeChat's API hosts per platform; tests and proxies point `apiBase` elsewhere. */
export const DEFAULT_API_BASE = { wecom: 'https://qyapi.weixin.qq.com', officialAccount: 'https://api.weixin.qq.com' } as const;

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
}

type JsonBody = { errcode?: number; errmsg?: string } & Record<string, unknown>;

/** POST endpoints that only read: safe to send again after a timeout or a 5xx. */
const READ_ONLY_POSTS: ReadonlySet<string> = new Set(['cgi-bin/kf/sync_msg', 'cgi-bin/kf/service_state/get']);
/** Errors that prove the request never reached the server: safe to retry anything. */
const NOT_SENT = ['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN'];

/**
 * One WeChat API client per credential. Adds the access token to every call, refreshes it
 * when WeChat says it is bad (once, never in a loop), retries network errors and 5xx with
 * backoff, and turns non-zero errcodes into {@link WeChatApiError}. The token never reaches
 * an error message or a log line.
 */
export class WeChatApiClient {
  readonly #http: Got;
  readonly #token: AccessToken;
  readonly #credential: ApiCredential;
  readonly log: Logger;
  observer: ApiCallObserver | undefined;

  constructor(options: ApiClientOptions) {
    this.#credential = options.credential;
    this.log = options.log;
    this.observer = options.observer;
    const retries = options.retries ?? 2;
    this.#http = got.extend({
      prefixUrl: options.baseUrl ?? DEFAULT_API_BASE[options.credential.kind],
      timeout: { request: options.timeoutMs ?? 5000 },
      responseType: 'buffer',
      throwHttpErrors: true,
      retry: {
        limit: retries,
        methods: ['GET', 'POST'],
        statusCodes: [408, 429, 500, 502, 503, 504],
        calculateDelay: ({ attemptCount, computedValue }) => (computedValue === 0 ? 0 : Math.min(100 * 2 ** (attemptCount - 1), 2000)),
      },
    });
    const id = options.credential.kind === 'wecom' ? options.credential.corpId : options.credential.appId;
    // Each secret has its own token; the key names it by a hash, never the secret itself.
    const secretId = createHash('sha256').update(options.credential.secret).digest('hex').slice(0, 16);
    this.#token = new AccessToken({
      key: `token:${options.credential.kind}:${id}:${secretId}`,
      store: options.store,
      log: options.log,
      fetch: () => this.#fetchToken(),
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
    let response;
    const path = endpoint.replace(/^\//, '');
    // A send may have reached WeChat before a timeout or a 5xx: retrying it would deliver the
    // message twice. Such calls are retried only when the request provably never left.
    const idempotent = spec.method === 'GET' || READ_ONLY_POSTS.has(path);
    try {
      response = await this.#http(path, {
        method: spec.method,
        ...(!idempotent && { retry: { ...this.#http.defaults.options.retry, statusCodes: [], errorCodes: NOT_SENT } }),
        searchParams: { ...spec.query, ...auth },
        ...(spec.json !== undefined && { json: spec.json }),
        ...(spec.form && { body: spec.form }),
      });
    } catch (error) {
      // got's errors carry the request options (with the token): keep only what is safe.
      const reason = error instanceof RequestError ? (error.response ? `HTTP ${error.response.statusCode}` : (error.code ?? error.message)) : String(error);
      throw new WeChatApiError(endpoint, -1, `request failed: ${reason}`);
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
    try {
      return JSON.parse((response.body as unknown as Buffer).toString('utf8')) as JsonBody;
    } catch {
      throw new WeChatApiError(endpoint, -1, `answer is not JSON (${contentType || 'no content type'})`);
    }
  }

  async #fetchToken(): Promise<{ accessToken: string; expiresIn: number }> {
    const c = this.#credential;
    const [endpoint, query] =
      c.kind === 'wecom'
        ? ['cgi-bin/gettoken', { corpid: c.corpId, corpsecret: c.secret }]
        : ['cgi-bin/token', { grant_type: 'client_credential', appid: c.appId, secret: c.secret }];
    const result = (await this.#send(endpoint, { method: 'GET', query }, {})) as JsonBody;
    if (result.errcode) throw new WeChatApiError(endpoint, result.errcode, result.errmsg ?? '');
    if (typeof result['access_token'] !== 'string') throw new WeChatApiError(endpoint, -1, 'no access_token in the answer');
    return { accessToken: result['access_token'], expiresIn: Number(result['expires_in'] ?? 7200) };
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
