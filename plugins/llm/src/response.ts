/** Headers a decoded (gunzipped…) answer loses, as with fetch: they described the encoded bytes. */
export const DECODED_HEADERS: ReadonlySet<string> = new Set(['content-encoding', 'content-length']);

/**
 * Adds node:http's raw header pairs to a new Response's own headers (one `Headers`, not one
 * built and then copied by the constructor), leaving out the names in `skip`.
 */
export function withHeaders<R extends Response>(response: R, raw: readonly string[], skip?: ReadonlySet<string>): R {
  const headers = response.headers;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    if (skip?.has(name.toLowerCase())) continue;
    headers.append(name, raw[i + 1]!);
  }
  return response;
}

const BOM = [0xef, 0xbb, 0xbf] as const;

/** UTF-8 decoding as fetch's `text()` does it: a leading byte order mark dropped, bad bytes as U+FFFD. */
function utf8(bytes: Buffer): string {
  const bom = bytes.length >= 3 && bytes[0] === BOM[0] && bytes[1] === BOM[1] && bytes[2] === BOM[2];
  return bytes.toString('utf8', bom ? 3 : 0);
}

/**
 * Response, typed as what the subclass inherits untouched: Node's types declare the body
 * methods as properties, which a subclass may not replace with methods or accessors.
 */
const ResponseBase = Response as unknown as new (body: null, init: ResponseInit) => Pick<Response, 'headers' | 'ok' | 'redirected' | 'status' | 'statusText' | 'type' | 'url'>;

const unusable = () => new TypeError('Body is unusable: Body has already been read');

/**
 * A standard `Response` (a subclass: `instanceof Response`, the same headers, status and
 * methods) over an answer already read whole into bytes. Node's own `new Response(bytes)`
 * wraps the bytes in a web `ReadableStream` that `json()` then reads back: ~40 µs of an LLM
 * answer's CPU, more than parsing it. Here `json()` and `text()` decode the bytes directly, and
 * the stream is made only if someone asks for `body` (or a `blob()` / `formData()`): from then
 * on a plain `Response` over the same bytes does all the work, so reading it the standard way
 * behaves as it would on any Response. Either way the body can be read once (`bodyUsed`).
 */
export class BufferedResponse extends ResponseBase {
  readonly #bytes: Buffer;
  #used = false;
  /** The plain Response the body is handed to once it is wanted as a stream. */
  #plain: Response | undefined;

  constructor(bytes: Buffer, status: number, statusText: string, rawHeaders: readonly string[], skip?: ReadonlySet<string>) {
    super(null, { status, statusText });
    this.#bytes = bytes;
    withHeaders(this, rawHeaders, skip);
  }

  /** The plain Response over the same bytes (already read if this one's body was). */
  #stream(): Response {
    if (!this.#plain) {
      this.#plain = new Response(this.#bytes, { status: this.status, statusText: this.statusText, headers: this.headers });
      if (this.#used) void this.#plain.arrayBuffer(); // disturbed, as this body is
    }
    return this.#plain;
  }

  /** The bytes, once: a second read is the TypeError fetch gives. */
  #take(): Buffer {
    if (this.#used) throw unusable();
    this.#used = true;
    return this.#bytes;
  }

  get body(): ReadableStream<Uint8Array> | null {
    return this.#stream().body as ReadableStream<Uint8Array> | null;
  }

  get bodyUsed(): boolean {
    return this.#plain ? this.#plain.bodyUsed : this.#used;
  }

  async json(): Promise<unknown> {
    if (this.#plain) return this.#plain.json();
    return JSON.parse(utf8(this.#take()));
  }

  async text(): Promise<string> {
    if (this.#plain) return this.#plain.text();
    return utf8(this.#take());
  }

  async arrayBuffer(): Promise<ArrayBuffer> {
    if (this.#plain) return this.#plain.arrayBuffer();
    const bytes = this.#take();
    return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
  }

  async bytes(): Promise<Uint8Array> {
    if (this.#plain) return new Uint8Array(await this.#plain.arrayBuffer());
    return new Uint8Array(await this.arrayBuffer());
  }

  blob(): Promise<Blob> {
    return this.#stream().blob();
  }

  formData(): Promise<FormData> {
    return this.#stream().formData();
  }

  clone(): Response {
    if (this.#plain) return this.#plain.clone();
    if (this.#used) throw unusable();
    const copy = new BufferedResponse(this.#bytes, this.status, this.statusText, []);
    for (const [name, value] of this.headers) copy.headers.append(name, value);
    return copy as unknown as Response;
  }
}
