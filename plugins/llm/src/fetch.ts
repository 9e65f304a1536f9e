import http from 'node:http';
import https from 'node:https';
import zlib from 'node:zlib';
import { BufferedResponse, DECODED_HEADERS, withHeaders } from './response.ts';

/** The `fetch` signature the openai SDK takes (`new OpenAI({ fetch })`). */
export type FetchLike = (url: string | URL | Request, init?: RequestInit) => Promise<Response>;

/** Idle connections close after this (below common server idle timeouts: Node 5 s, nginx 75 s). */
const IDLE_MS = 4000;
/** What fetch's Response accepts as a reason phrase: tab, visible ASCII and space, obs-text. */
const REASON_PHRASE = /^[\t\x20-\x7e\x80-\xff]*$/;
const REDIRECTS: ReadonlySet<number> = new Set([301, 302, 303, 307, 308]);

/**
 * A `fetch` for the openai SDK on `node:http(s)` with keep-alive agents. Node's own fetch
 * (undici behind WHATWG streams and WebIDL checks) was the largest cost of an answer outside
 * the model: ~40% of the plugin's CPU. This one sends the SDK's request (a string or byte body)
 * on a kept-alive connection and answers a standard `Response`: a JSON answer is read whole
 * and handed over as bytes; an event stream (`stream: true`) is passed on chunk by chunk.
 *
 * Anything it does not cover goes to the global `fetch` unchanged: a `Request` object, a
 * streamed or form body (uploads), a non-http(s) URL, and redirects (the global fetch follows
 * them). Gzip, deflate and brotli answers are decoded, as fetch would.
 */
export function keepAliveFetch(): FetchLike {
  const agentOptions = { keepAlive: true, timeout: IDLE_MS };
  const agents = { 'http:': new http.Agent(agentOptions), 'https:': new https.Agent(agentOptions) };
  return async (input, init = {}) => {
    const body = init.body;
    const url = typeof input === 'string' ? input : input instanceof URL ? input.href : undefined;
    const simpleBody = body === undefined || body === null || typeof body === 'string' || body instanceof Uint8Array;
    const protocol = url?.startsWith('https:') ? 'https:' : url?.startsWith('http:') ? 'http:' : undefined;
    if (url === undefined || !simpleBody || !protocol) return fetch(input, init);
    const response = await send(url, protocol, agents[protocol], init, body as string | Uint8Array | undefined | null);
    if (response === 'redirect') return fetch(input, init);
    return response;
  };
}

/** Where a URL's requests go, as node:http options: parsed once, the SDK asks for the same few URLs. */
interface Target {
  host: string;
  hostname: string;
  port: string;
  path: string;
}
const targets = new Map<string, Target | null>();

/** The URL's target, or null when its credentials need node:http's own handling (Basic auth). */
function targetOf(url: string): Target | null {
  let target = targets.get(url);
  if (target === undefined) {
    const parsed = new URL(url);
    const hostname = parsed.hostname.startsWith('[') ? parsed.hostname.slice(1, -1) : parsed.hostname;
    target = parsed.username || parsed.password ? null : { host: parsed.host, hostname, port: parsed.port, path: `${parsed.pathname}${parsed.search}` };
    if (targets.size >= 64) targets.clear(); // a bound, should URLs ever vary (query strings)
    targets.set(url, target);
  }
  return target;
}

function send(url: string, protocol: 'http:' | 'https:', agent: http.Agent, init: RequestInit, body: string | Uint8Array | undefined | null): Promise<Response | 'redirect'> {
  const { signal } = init;
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(abortError(signal));
    const data = typeof body === 'string' ? Buffer.from(body, 'utf8') : body ? Buffer.from(body.buffer, body.byteOffset, body.byteLength) : undefined;
    const target = targetOf(url);
    // The headers as one flat list, written as they are (node:http still checks each name and
    // value): a header object costs a setHeader call each, ~15 for the SDK's.
    const headers: string[] = [];
    let host = false;
    let acceptEncoding = false;
    (init.headers instanceof Headers ? init.headers : new Headers(init.headers)).forEach((value, name) => {
      if (name === 'content-length') return;
      if (name === 'host') host = true;
      else if (name === 'accept-encoding') acceptEncoding = true;
      headers.push(name, value);
    });
    if (data) headers.push('content-length', String(data.length));
    if (!acceptEncoding) headers.push('accept-encoding', 'gzip, deflate, br');
    if (target && !host) headers.push('host', target.host);
    const method = init.method ?? 'GET';
    const client = protocol === 'https:' ? https : http;
    const request = target
      ? client.request({ hostname: target.hostname, port: target.port, path: target.path, method, headers, agent })
      : client.request(url, { method, headers: Object.fromEntries(pairs(headers)), agent });
    const onAbort = () => request.destroy(abortError(signal!) as Error);
    signal?.addEventListener('abort', onAbort, { once: true });
    const done = () => signal?.removeEventListener('abort', onAbort);
    request.on('error', (error) => {
      done();
      reject(signal?.aborted ? abortError(signal) : error);
    });
    request.on('response', (incoming) => {
      const status = incoming.statusCode ?? 0;
      if (status < 200 || status > 599) {
        // A Response cannot hold it (its constructor would throw here, outside the promise).
        incoming.resume();
        done();
        request.destroy();
        return reject(new TypeError(`the endpoint answered with HTTP status ${status}, which fetch cannot represent`));
      }
      if (REDIRECTS.has(status) && incoming.headers.location) {
        incoming.resume();
        done();
        return resolve('redirect');
      }
      const raw = incoming.rawHeaders;
      const encoding = String(incoming.headers['content-encoding'] ?? '').toLowerCase();
      const decoder =
        encoding === 'gzip' || encoding === 'x-gzip'
          ? zlib.createGunzip()
          : encoding === 'deflate'
            ? zlib.createInflate()
            : encoding === 'br'
              ? zlib.createBrotliDecompress()
              : undefined;
      // A decoded answer's length and encoding are no longer those of its bytes, as with fetch.
      const skip = decoder ? DECODED_HEADERS : undefined;
      const source: NodeJS.ReadableStream = decoder ? incoming.pipe(decoder) : incoming;
      if (decoder) incoming.on('error', (error) => decoder.destroy(error));
      // A reason phrase fetch's Response refuses (its constructor would throw) is left out.
      const statusText = REASON_PHRASE.test(incoming.statusMessage ?? '') ? (incoming.statusMessage ?? '') : '';
      const nullBody = status === 204 || status === 304;
      if (nullBody) {
        incoming.resume();
        done();
        return resolve(withHeaders(new Response(null, { status, statusText }), raw, skip));
      }
      if (/^text\/event-stream/i.test(String(incoming.headers['content-type'] ?? ''))) {
        // Passed on as it comes: a streamed answer is shown while it is being written.
        // `open` guards the controller: chunks may still arrive after the reader cancelled.
        let open = true;
        const finish = (error?: unknown) => {
          if (!open) return;
          open = false;
          done();
          if (error === undefined) controller?.close();
          else controller?.error(error);
        };
        let controller: ReadableStreamDefaultController<Uint8Array> | undefined;
        const stream = new ReadableStream<Uint8Array>({
          start(c) {
            controller = c;
            source.on('data', (chunk: Buffer) => {
              if (open) c.enqueue(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength));
            });
            source.on('end', () => finish());
            source.on('error', (error) => finish(signal?.aborted ? abortError(signal) : error));
            incoming.on('close', () => {
              if (!incoming.complete) finish(signal?.aborted ? abortError(signal) : new Error('the answer was cut off'));
            });
          },
          cancel() {
            open = false;
            done();
            request.destroy();
          },
        });
        return resolve(withHeaders(new Response(stream, { status, statusText }), raw, skip));
      }
      // A JSON answer is small: read whole, it costs one Response over bytes instead of a stream.
      const chunks: Buffer[] = [];
      source.on('data', (chunk: Buffer) => chunks.push(chunk));
      source.on('end', () => {
        done();
        resolve(new BufferedResponse(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks), status, statusText, raw, skip) as unknown as Response);
      });
      source.on('error', (error) => {
        done();
        reject(signal?.aborted ? abortError(signal) : error);
      });
      incoming.on('close', () => {
        if (!incoming.complete) {
          done();
          reject(signal?.aborted ? abortError(signal) : new Error('the answer was cut off'));
        }
      });
    });
    request.end(data);
  });
}

/** [name, value] pairs of a flat header list. */
function* pairs(flat: readonly string[]): Generator<[string, string]> {
  for (let i = 0; i < flat.length; i += 2) yield [flat[i]!, flat[i + 1]!];
}

/** What fetch rejects with on abort: the signal's reason, else an `AbortError`. */
function abortError(signal: AbortSignal): unknown {
  return signal.reason ?? new DOMException('This operation was aborted', 'AbortError');
}
