import http from 'node:http';
import https from 'node:https';
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Sent with every API request: the process id tells a bot's instances apart in a proxy's log
 * (and lets the fake API say which process made each send).
 */
const USER_AGENT = `wxbot (pid ${process.pid})`;

/** Settings of a {@link JsonHttp}: where, how long an attempt may take, how often to retry. */
export interface JsonHttpOptions {
  /** Origin and optional path prefix, e.g. `https://qyapi.weixin.qq.com` or `http://proxy/wx`. */
  baseUrl: string;
  /** Per attempt, from the call until the whole answer is in (waiting for a socket included). */
  timeoutMs: number;
  /** Retries after a retryable failure (see {@link JsonHttp.request}). */
  retries: number;
}

/** An HTTP answer: status, content type and the whole body. */
export interface RawAnswer {
  status: number;
  contentType: string;
  body: Buffer;
}

/** Why a request failed for good: `HTTP 502`, `ETIMEDOUT`, `ECONNRESET`, … (never the URL: it holds the token). */
export class HttpFailure extends Error {
  override readonly name = 'HttpFailure';
  constructor(
    readonly reason: string,
    /** Whether any answer came back (then a non-idempotent request may have had its effect). */
    readonly answered: boolean,
  ) {
    super(reason);
  }
}

/** Statuses worth another try (got's defaults, minus those WeChat never answers). */
const RETRY_STATUSES: ReadonlySet<number> = new Set([408, 429, 500, 502, 503, 504]);
/** Network errors worth another try for a request that may be sent twice (got's defaults). */
const RETRY_CODES: ReadonlySet<string> = new Set(['ETIMEDOUT', 'ECONNRESET', 'EADDRINUSE', 'ECONNREFUSED', 'EPIPE', 'ENOTFOUND', 'ENETUNREACH', 'EAI_AGAIN']);
/** Errors that prove the request never reached the server: safe to retry anything. */
const NOT_SENT_CODES: ReadonlySet<string> = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN']);
/** A kept-alive socket the server closed while it was idle fails the next request written on it. */
const STALE_SOCKET_CODES: ReadonlySet<string> = new Set(['ECONNRESET', 'EPIPE']);

/**
 * The WeChat API's JSON calls on `node:http(s)` with a keep-alive agent: a call costs a few
 * object allocations instead of got's option merging, and connections are reused instead of
 * opened and closed per call (KF: one sync_msg and one send_msg per message). Retries follow
 * the client's rules: idempotent requests after a retryable status, network error or timeout;
 * any request when it provably never left (connection refused, unknown host) or when a reused
 * idle connection turned out closed by the server before any answer (the keep-alive race that
 * Node's documentation says to retry; the server closed the socket while it was idle, before
 * reading the request). Backoff 100 ms doubling to 2 s.
 */
export class JsonHttp {
  readonly #agent: http.Agent;
  readonly #secure: boolean;
  readonly #request: typeof http.request;
  readonly #host: string;
  readonly #port: string;
  readonly #prefix: string;
  readonly #timeoutMs: number;
  readonly #retries: number;

  constructor(options: JsonHttpOptions) {
    const url = new URL(options.baseUrl);
    const secure = url.protocol === 'https:';
    if (!secure && url.protocol !== 'http:') throw new Error(`API base ${url.origin} is not an http(s) URL`);
    // At most 64 connections per API host: a burst of sends waits for one instead of opening
    // hundreds that the pool could not keep. Idle ones close after 4 s, before common server
    // idle timeouts (Node 5 s, nginx 75 s); a server's `Keep-Alive: timeout=` hint is honoured.
    const agentOptions = { keepAlive: true, maxSockets: 64, maxFreeSockets: 64, timeout: 4000 };
    this.#secure = secure;
    this.#agent = secure ? new https.Agent(agentOptions) : new http.Agent(agentOptions);
    this.#request = secure ? https.request : http.request;
    this.#host = url.hostname.replace(/^\[|\]$/g, '');
    this.#port = url.port;
    this.#prefix = `${url.pathname.replace(/\/+$/, '')}/`;
    this.#timeoutMs = options.timeoutMs;
    this.#retries = options.retries;
  }

  /** The agent in got's `agent` option shape, for calls that go through got (media): they share the connections. */
  get agents(): { http?: http.Agent; https?: https.Agent } {
    return this.#secure ? { https: this.#agent as https.Agent } : { http: this.#agent };
  }

  /**
   * One request with retries. `path` has no leading slash; `search` is an encoded query
   * without `?` (or empty); `json` an already serialised body (POST) or undefined (GET).
   */
  async request(path: string, search: string, json: string | undefined, idempotent: boolean): Promise<RawAnswer> {
    const fullPath = search ? `${this.#prefix}${path}?${search}` : `${this.#prefix}${path}`;
    const body = json === undefined ? undefined : Buffer.from(json, 'utf8');
    for (let attempt = 0; ; attempt++) {
      let failure: HttpFailure & { retryable: boolean };
      try {
        const answer = await this.#attempt(fullPath, body);
        if (answer.status >= 200 && answer.status < 300) return answer;
        failure = Object.assign(new HttpFailure(`HTTP ${answer.status}`, true), { retryable: idempotent && RETRY_STATUSES.has(answer.status) });
      } catch (error) {
        const { code, reused, answered } = error as AttemptError;
        const reason = code ?? (error as Error).message;
        const retryable = idempotent
          ? code !== undefined && RETRY_CODES.has(code)
          : code !== undefined && (NOT_SENT_CODES.has(code) || (reused && !answered && STALE_SOCKET_CODES.has(code)));
        failure = Object.assign(new HttpFailure(reason, answered), { retryable });
      }
      if (!failure.retryable || attempt >= this.#retries) throw new HttpFailure(failure.reason, failure.answered);
      await sleep(Math.min(100 * 2 ** attempt, 2000));
    }
  }

  #attempt(path: string, body: Buffer | undefined): Promise<RawAnswer> {
    return new Promise((resolve, reject) => {
      let answered = false;
      let settled = false;
      const fail = (error: Error & { code?: string }) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        reject(Object.assign(error, { reused: request.reusedSocket, answered }));
      };
      const request = this.#request(
        {
          host: this.#host,
          port: this.#port,
          path,
          method: body ? 'POST' : 'GET',
          agent: this.#agent,
          headers: body ? { 'content-type': 'application/json', 'content-length': body.length, 'user-agent': USER_AGENT } : { 'user-agent': USER_AGENT },
        },
        (response) => {
          answered = true;
          const chunks: Buffer[] = [];
          response.on('data', (chunk: Buffer) => chunks.push(chunk));
          response.on('error', fail);
          // A connection lost mid-answer: 'close' without 'end' (and maybe no 'error').
          response.on('close', () => {
            if (!response.complete) fail(Object.assign(new Error('answer cut off'), { code: 'ECONNRESET' }));
          });
          response.on('end', () => {
            if (settled) return;
            settled = true;
            clearTimeout(timer);
            resolve({
              status: response.statusCode ?? 0,
              contentType: response.headers['content-type'] ?? '',
              body: chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks),
            });
          });
        },
      );
      request.on('error', fail);
      const timer = setTimeout(() => {
        fail(Object.assign(new Error('timed out'), { code: 'ETIMEDOUT' }));
        request.destroy();
      }, this.#timeoutMs);
      request.end(body);
    });
  }
}

interface AttemptError extends Error {
  code?: string;
  reused: boolean;
  answered: boolean;
}
