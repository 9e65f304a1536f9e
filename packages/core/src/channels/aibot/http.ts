import type { Response } from 'got';
import { LRUCache } from 'lru-cache';
import { gotUnavailable, WeChatApiError } from '../../api/errors.ts';
import { type MediaFile, NOT_SENT } from '../../api/client.ts';
import { loadGot } from '../../api/loadGot.ts';
import { decryptAiBotMedia } from '../../crypto/media.ts';

const TIMEOUT_MS = 5000;
/** A response_url works once, for an hour. */
const RESPONSE_URL_TTL_MS = 60 * 60_000;

/** got, or a WeChatApiError for `endpoint` saying it could not be loaded (nothing was sent). */
async function gotFor(endpoint: string): Promise<typeof import('got')> {
  try {
    return await loadGot();
  } catch (error) {
    throw gotUnavailable(endpoint, error);
  }
}

/** The URL without its query (response_code, media tokens): safe for errors and logs. */
export function redactUrl(url: string): string {
  const cut = url.search(/[?#]/);
  return cut === -1 ? url : url.slice(0, cut);
}

/**
 * The AI bot's active path: each message's `response_url` takes one plain JSON POST within an
 * hour. This remembers which URLs were used, so a second answer fails clearly here instead of
 * as an obscure errcode from WeCom. A URL counts as used once its request is sent: a failure
 * before that (got not loaded, a refused connection, an unknown host) leaves it for another try.
 */
export class ResponseUrlSender {
  readonly #used = new LRUCache<string, true>({ max: 100_000, ttl: RESPONSE_URL_TTL_MS });

  /** POSTs `body` to the URL once; throws WeChatApiError for a used URL, a failure or an errcode. */
  async post(url: string, body: Record<string, unknown>): Promise<void> {
    const endpoint = `aibot response_url ${redactUrl(url)}`;
    const usedAlready = () => new WeChatApiError(endpoint, -1, 'this response_url was used already (WeCom allows one call per message)');
    if (this.#used.has(url)) throw usedAlready();
    const { default: got, RequestError } = await gotFor(endpoint);
    // Again: another answer may have taken the URL while got was loading. No await from here to set.
    if (this.#used.has(url)) throw usedAlready();
    this.#used.set(url, true);
    let answer: { errcode?: number; errmsg?: string };
    try {
      // Not retried after a timeout or a 5xx: the answer may have reached the user already.
      answer = await got.post(url, { json: body, timeout: { request: TIMEOUT_MS }, retry: { limit: 0 } }).json();
    } catch (error) {
      const code = error instanceof RequestError ? error.code : undefined;
      // Never reached WeCom: the URL's one call is still unspent.
      if (code && NOT_SENT.includes(code)) this.#used.delete(url);
      const reason = error instanceof RequestError ? (error.response ? `HTTP ${error.response.statusCode}` : (error.code ?? error.message)) : String(error);
      throw new WeChatApiError(endpoint, -1, `request failed: ${reason}`);
    }
    if (answer.errcode) throw new WeChatApiError(endpoint, answer.errcode, answer.errmsg ?? '');
  }
}

/** Downloads an encrypted AI-bot media URL (valid 5 minutes) and decrypts it with `key`. */
export async function downloadAiBotMedia(url: string, key: Buffer): Promise<MediaFile> {
  const endpoint = `aibot media ${redactUrl(url)}`;
  const { default: got, RequestError } = await gotFor(endpoint);
  let response: Response<Buffer>;
  try {
    response = await got(url, { responseType: 'buffer', timeout: { request: 30_000 }, retry: { limit: 2 } });
  } catch (error) {
    const reason = error instanceof RequestError ? (error.response ? `HTTP ${error.response.statusCode}` : (error.code ?? error.message)) : String(error);
    throw new WeChatApiError(endpoint, -1, `download failed: ${reason} (AI-bot media URLs expire after 5 minutes)`);
  }
  const disposition = String(response.headers['content-disposition'] ?? '');
  const extended = /filename\*=(?:UTF-8'')?([^;]+)/i.exec(disposition)?.[1];
  const plain = /filename="?([^";]+)"?/i.exec(disposition)?.[1];
  const data = decryptAiBotMedia(response.body, key);
  return {
    data,
    contentType: sniffContentType(data),
    fileName: extended ? decodeURIComponent(extended.trim()) : plain,
  };
}

/** The encrypted body says application/octet-stream: tell images apart by their magic bytes. */
function sniffContentType(data: Buffer): string {
  if (data[0] === 0xff && data[1] === 0xd8) return 'image/jpeg';
  if (data.subarray(0, 4).toString('latin1') === '\x89PNG') return 'image/png';
  if (data.subarray(0, 4).toString('latin1') === 'GIF8') return 'image/gif';
  if (data.subarray(0, 4).toString('latin1') === '%PDF') return 'application/pdf';
  return 'application/octet-stream';
}
