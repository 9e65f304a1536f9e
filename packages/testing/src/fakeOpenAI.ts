import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

/** The key the fake expects unless told otherwise. */
export const FAKE_OPENAI_API_KEY = 'sk-fake-openai-test-key';

/** The API key the fake OpenAI-compatible server demands (or none). */
export interface FakeOpenAIOptions {
  /**
   * The key every request must carry as `Authorization: Bearer <key>` (default
   * {@link FAKE_OPENAI_API_KEY}). `null` accepts any key or none, as a local
   * OpenAI-compatible server (Ollama, vLLM, …) does.
   */
  apiKey?: string | null;
}

/** One message of a chat request, as the client sent it. */
export interface FakeChatMessage {
  role: string;
  /** A string, an array of content parts, or null (an assistant message with tool calls). */
  content: string | Array<{ type: string; text?: string; [key: string]: unknown }> | null;
  [key: string]: unknown;
}

/** The parsed JSON body of a `POST /v1/chat/completions` that passed validation. */
export interface FakeChatRequest {
  model: string;
  messages: FakeChatMessage[];
  [key: string]: unknown;
}

/** A `POST /v1/audio/transcriptions` that passed validation, with the file as received. */
export interface FakeTranscriptionRequest {
  /** The uploaded bytes, exactly as they arrived in the multipart body. */
  file: Buffer;
  fileName: string;
  /** The file part's Content-Type ('' when the client sent none). */
  contentType: string;
  model: string;
  language?: string;
  /** `json` (the default), `text` or `verbose_json`. */
  responseFormat: string;
  prompt?: string;
}

/** Computes the assistant's answer to a chat request. */
export type FakeChatReply = (request: FakeChatRequest) => string | Promise<string>;
/** Computes the transcript of an uploaded file; throw to answer 500. */
export type FakeTranscriptionHandler = (request: FakeTranscriptionRequest) => string | Promise<string>;

/** Behaviour shared by both endpoints: forced failures. */
interface FailureControl {
  /**
   * The next `times` valid requests (default 1) get `status` with the error JSON the real API
   * sends for it (500 server_error, 429 rate_limit_exceeded, …), after `delayMs`.
   */
  failNext(status: number, times?: number): void;
}

/** `POST /v1/chat/completions`. */
export interface FakeChatEndpoint extends FailureControl {
  /** The answer; by default `回答: <text of the last user message>`. */
  reply: FakeChatReply;
  /** Wait this long before answering (to test client timeouts). Default 0. */
  delayMs: number;
  /**
   * `stream: true` requests: how the answer is cut into `delta.content` chunks (default: pieces
   * of up to 4 characters). Each chunk goes out in its own SSE event.
   */
  chunks: (content: string, request: FakeChatRequest) => string[];
  /** `stream: true`: the pause before each chunk after the first (default 0). */
  chunkIntervalMs: number;
  /** `stream: true`: cut the connection after this many content chunks, as a network failure would. */
  breakAfterChunks: number | undefined;
  /** Every request that passed validation, oldest first (forced failures included). */
  readonly requests: FakeChatRequest[];
}

/** `POST /v1/audio/transcriptions`. */
export interface FakeTranscriptionEndpoint extends FailureControl {
  /** The transcript; by default throws 'no transcription handler' (→ 500). */
  handler: FakeTranscriptionHandler;
  /** Wait this long before answering. Default 0. */
  delayMs: number;
  /** Every request that passed validation, oldest first. */
  readonly requests: FakeTranscriptionRequest[];
}

/** A running fake OpenAI API; see {@link startFakeOpenAI}. */
export interface FakeOpenAI {
  /** Base URL for the openai SDK: `http://127.0.0.1:<port>/v1`. */
  readonly url: string;
  /** `http://127.0.0.1:<port>`. */
  readonly origin: string;
  /** The key requests must carry, or null when any is accepted. */
  readonly apiKey: string | null;
  readonly chat: FakeChatEndpoint;
  readonly transcriptions: FakeTranscriptionEndpoint;
  /** Stops the server; requests still waiting out a delay are cut off. */
  close(): Promise<void>;
}

/** An HTTP error with the body shape the real API uses. */
class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly type: string,
    readonly code: string | null = null,
    readonly param: string | null = null,
  ) {
    super(message);
  }
}

/** The real API's limit for an uploaded audio file. */
const MAX_AUDIO_BYTES = 26_214_400;
/** Anything bigger is refused before parsing, so a runaway test cannot eat the memory. */
const MAX_BODY_BYTES = MAX_AUDIO_BYTES + 1024 * 1024;
const ROLES = ['system', 'developer', 'user', 'assistant', 'tool', 'function'];
/** Extensions the real transcription endpoint accepts (it judges the file by its name). */
const AUDIO_EXTENSIONS = ['flac', 'm4a', 'mp3', 'mp4', 'mpeg', 'mpga', 'oga', 'ogg', 'wav', 'webm'];
const RESPONSE_FORMATS = ['json', 'text', 'verbose_json'];

/** The error the real API sends for a forced failure of this status. */
function errorForStatus(status: number): ApiError {
  if (status === 401) return new ApiError(status, 'Incorrect API key provided.', 'invalid_request_error', 'invalid_api_key');
  if (status === 429) return new ApiError(status, 'Rate limit reached for requests. Please try again later.', 'requests', 'rate_limit_exceeded');
  if (status === 503) return new ApiError(status, 'The engine is currently overloaded, please try again later.', 'server_error');
  if (status >= 500) return new ApiError(status, 'The server had an error while processing your request. Sorry about that!', 'server_error');
  return new ApiError(status, `fake OpenAI: forced failure ${status}`, 'invalid_request_error');
}

const describeType = (value: unknown): string =>
  value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value === 'number' ? (Number.isInteger(value) ? 'an integer' : 'a decimal') : `a ${typeof value}`;

/** Masks a key as the real 401 message does, so it never shows whole in a test log. */
const maskKey = (key: string): string => (key.length > 8 ? `${key.slice(0, 3)}${'*'.repeat(key.length - 7)}${key.slice(-4)}` : '***');

/** The text of the last user message: what the default reply echoes. */
function lastUserText(request: FakeChatRequest): string {
  const last = [...request.messages].reverse().find((m) => m.role === 'user');
  if (!last || last.content === null) return '';
  if (typeof last.content === 'string') return last.content;
  return last.content.flatMap((part) => (part.type === 'text' && typeof part.text === 'string' ? [part.text] : [])).join('\n');
}

/** Checks a chat body the way the real API does, returning it typed. */
function validateChat(body: unknown): FakeChatRequest {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new ApiError(400, `Invalid type for body: expected an object, but got ${describeType(body)} instead.`, 'invalid_request_error', 'invalid_type');
  }
  const { model, messages, stream } = body as Record<string, unknown>;
  if (model === undefined || model === '') throw new ApiError(400, 'you must provide a model parameter', 'invalid_request_error');
  if (typeof model !== 'string') {
    throw new ApiError(400, `Invalid type for 'model': expected a string, but got ${describeType(model)} instead.`, 'invalid_request_error', 'invalid_type', 'model');
  }
  if (messages === undefined) throw new ApiError(400, "Missing required parameter: 'messages'.", 'invalid_request_error', 'missing_required_parameter', 'messages');
  if (!Array.isArray(messages)) {
    throw new ApiError(
      400,
      `Invalid type for 'messages': expected an array of objects, but got ${describeType(messages)} instead.`,
      'invalid_request_error',
      'invalid_type',
      'messages',
    );
  }
  if (messages.length === 0) {
    throw new ApiError(
      400,
      "Invalid 'messages': empty array. Expected an array with minimum length 1, but got an empty array instead.",
      'invalid_request_error',
      'empty_array',
      'messages',
    );
  }
  messages.forEach((message: unknown, i) => {
    const at = `messages[${i}]`;
    if (typeof message !== 'object' || message === null || Array.isArray(message)) {
      throw new ApiError(400, `Invalid type for '${at}': expected an object, but got ${describeType(message)} instead.`, 'invalid_request_error', 'invalid_type', at);
    }
    const { role, content } = message as Record<string, unknown>;
    if (role === undefined) throw new ApiError(400, `Missing required parameter: '${at}.role'.`, 'invalid_request_error', 'missing_required_parameter', `${at}.role`);
    if (typeof role !== 'string' || !ROLES.includes(role)) {
      throw new ApiError(
        400,
        `Invalid value: '${String(role)}'. Supported values are: 'system', 'assistant', 'user', 'function', 'tool', and 'developer'.`,
        'invalid_request_error',
        'invalid_value',
        `${at}.role`,
      );
    }
    // Only an assistant message that calls tools may go without content.
    const contentOptional = role === 'assistant' && ('tool_calls' in message || 'function_call' in message);
    if ((content === undefined || content === null) && !contentOptional) {
      throw new ApiError(400, `Missing required parameter: '${at}.content'.`, 'invalid_request_error', 'missing_required_parameter', `${at}.content`);
    }
    if (content !== undefined && content !== null && typeof content !== 'string' && !Array.isArray(content)) {
      throw new ApiError(
        400,
        `Invalid type for '${at}.content': expected one of a string or array of objects, but got ${describeType(content)} instead.`,
        'invalid_request_error',
        'invalid_type',
        `${at}.content`,
      );
    }
  });
  if (stream !== undefined && typeof stream !== 'boolean') {
    throw new ApiError(400, `Invalid type for 'stream': expected a boolean, but got ${describeType(stream)} instead.`, 'invalid_request_error', 'invalid_type', 'stream');
  }
  return body as FakeChatRequest;
}

/** Parses and checks a transcription upload the way the real API does. */
async function validateTranscription(contentType: string, body: Buffer): Promise<FakeTranscriptionRequest> {
  if (!/^multipart\/form-data/i.test(contentType)) {
    throw new ApiError(400, 'fake OpenAI: /v1/audio/transcriptions takes multipart/form-data', 'invalid_request_error');
  }
  let form: FormData;
  try {
    // undici's parser (what fetch uses) is a strict multipart parser, and it keeps files as bytes.
    form = await new Request('http://fake.invalid/', { method: 'POST', headers: { 'content-type': contentType }, body }).formData();
  } catch {
    throw new ApiError(400, 'Could not parse multipart form', 'invalid_request_error');
  }
  const file = form.get('file');
  if (file === null || typeof file === 'string') {
    throw new ApiError(400, '1 validation error for Request\nbody -> file\n  field required (type=value_error.missing)', 'invalid_request_error');
  }
  const model = form.get('model');
  if (typeof model !== 'string' || model === '') {
    throw new ApiError(400, '1 validation error for Request\nbody -> model\n  field required (type=value_error.missing)', 'invalid_request_error');
  }
  const extension = /\.([^.]+)$/.exec(file.name)?.[1]?.toLowerCase();
  if (!extension || !AUDIO_EXTENSIONS.includes(extension)) {
    throw new ApiError(400, `Invalid file format. Supported formats: [${AUDIO_EXTENSIONS.map((e) => `'${e}'`).join(', ')}]`, 'invalid_request_error');
  }
  if (file.size > MAX_AUDIO_BYTES) throw new ApiError(413, `Maximum content size limit (${MAX_AUDIO_BYTES}) exceeded (${file.size} bytes read)`, 'server_error');
  const responseFormat = form.get('response_format') ?? 'json';
  if (typeof responseFormat !== 'string' || !RESPONSE_FORMATS.includes(responseFormat)) {
    throw new ApiError(
      400,
      `fake OpenAI: response_format '${String(responseFormat)}' is not supported (use ${RESPONSE_FORMATS.join(', ')})`,
      'invalid_request_error',
      null,
      'response_format',
    );
  }
  const language = form.get('language');
  const prompt = form.get('prompt');
  return {
    file: Buffer.from(await file.arrayBuffer()),
    fileName: file.name,
    contentType: file.type,
    model,
    responseFormat,
    ...(typeof language === 'string' && language !== '' && { language }),
    ...(typeof prompt === 'string' && prompt !== '' && { prompt }),
  };
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) throw new ApiError(413, `Maximum content size limit (${MAX_AUDIO_BYTES}) exceeded`, 'server_error');
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

const roughTokens = (text: string): number => Math.max(1, Math.ceil(text.length / 4));

/**
 * Starts a fake OpenAI API on 127.0.0.1 (random port) that speaks the real JSON of
 * `POST /v1/chat/completions` (plain, or server-sent events with `stream: true`) and `POST /v1/audio/transcriptions`, and
 * refuses what the real API refuses (wrong key → 401, missing model, empty messages, no
 * file, an unsupported audio extension…) with the real error shape
 * `{ error: { message, type, param, code } }`.
 *
 * ```ts
 * const fake = await startFakeOpenAI();
 * const client = new OpenAI({ baseURL: fake.url, apiKey: fake.apiKey! });
 * fake.chat.reply = (req) => `echo ${req.messages.length}`;
 * fake.transcriptions.handler = async ({ file }) => (file.length ? '你好' : '');
 * ```
 */
export async function startFakeOpenAI(options: FakeOpenAIOptions = {}): Promise<FakeOpenAI> {
  const apiKey = options.apiKey === undefined ? FAKE_OPENAI_API_KEY : options.apiKey;
  const closing = new AbortController();
  const failures = { chat: [] as number[], transcriptions: [] as number[] };
  const makeFailNext =
    (queue: number[]) =>
    (status: number, times = 1) => {
      for (let i = 0; i < times; i++) queue.push(status);
    };

  const chat: FakeChatEndpoint = {
    reply: (request) => `回答: ${lastUserText(request)}`,
    delayMs: 0,
    chunks: (content) => Array.from({ length: Math.ceil([...content].length / 4) }, (_, i) => [...content].slice(i * 4, i * 4 + 4).join('')),
    chunkIntervalMs: 0,
    breakAfterChunks: undefined,
    requests: [],
    failNext: makeFailNext(failures.chat),
  };
  const transcriptions: FakeTranscriptionEndpoint = {
    handler: () => {
      throw new Error('no transcription handler');
    },
    delayMs: 0,
    requests: [],
    failNext: makeFailNext(failures.transcriptions),
  };

  const send = (res: ServerResponse, status: number, body: unknown, contentType = 'application/json') => {
    if (res.destroyed || res.writableEnded) return; // the client gave up (timeout); nothing to answer
    const payload = typeof body === 'string' && contentType !== 'application/json' ? body : JSON.stringify(body);
    res.writeHead(status, {
      'content-type': contentType,
      'content-length': Buffer.byteLength(payload),
      'x-request-id': `req_${randomBytes(12).toString('hex')}`,
      'openai-processing-ms': '1',
    });
    res.end(payload);
  };

  const checkAuth = (req: IncomingMessage) => {
    if (apiKey === null) return;
    const header = req.headers.authorization;
    const given = header?.startsWith('Bearer ') ? header.slice('Bearer '.length).trim() : undefined;
    if (!given) {
      throw new ApiError(
        401,
        "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY), or as the password field (with blank username) if you're accessing the API from your browser and are prompted for a username and password. You can obtain an API key from https://platform.openai.com/account/api-keys.",
        'invalid_request_error',
      );
    }
    if (given !== apiKey) {
      throw new ApiError(
        401,
        `Incorrect API key provided: ${maskKey(given)}. You can find your API key at https://platform.openai.com/account/api-keys.`,
        'invalid_request_error',
        'invalid_api_key',
      );
    }
  };

  /** Waits out the endpoint's delay, ending early when the client hangs up or the fake closes. */
  const wait = async (ms: number, res: ServerResponse) => {
    if (ms <= 0) return;
    const gone = new AbortController();
    const hangUp = () => gone.abort();
    res.once('close', hangUp);
    try {
      await sleep(ms, undefined, { signal: AbortSignal.any([gone.signal, closing.signal]) }).catch(() => {});
    } finally {
      // A stream waits between chunks: a listener left per wait was 11 on a 30-chunk answer
      // (MaxListenersExceededWarning in the test run).
      res.off('close', hangUp);
    }
  };

  const handleChat = async (req: IncomingMessage, res: ServerResponse) => {
    const raw = await readBody(req);
    let body: unknown;
    try {
      body = JSON.parse(raw.toString('utf8'));
    } catch {
      throw new ApiError(
        400,
        "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your HTTP library correctly. The OpenAI API expects a JSON payload, but what was sent was not valid JSON.)",
        'invalid_request_error',
      );
    }
    const request = validateChat(body);
    chat.requests.push(request);
    await wait(chat.delayMs, res);
    const failure = failures.chat.shift();
    if (failure !== undefined) throw errorForStatus(failure);
    let content: string;
    try {
      content = await chat.reply(request);
    } catch (error) {
      throw new ApiError(500, `fake OpenAI: chat.reply threw: ${(error as Error).message}`, 'server_error');
    }
    const promptTokens = roughTokens(JSON.stringify(request.messages));
    const completionTokens = roughTokens(content);
    if (request['stream'] === true) {
      await streamChat(res, request, content, { prompt_tokens: promptTokens, completion_tokens: completionTokens, total_tokens: promptTokens + completionTokens });
      return;
    }
    send(res, 200, {
      id: `chatcmpl-${randomBytes(15).toString('base64url')}`,
      object: 'chat.completion',
      created: Math.floor(Date.now() / 1000),
      model: request.model,
      choices: [{ index: 0, message: { role: 'assistant', content, refusal: null, annotations: [] }, logprobs: null, finish_reason: 'stop' }],
      usage: { prompt_tokens: promptTokens, completion_tokens: completionTokens, total_tokens: promptTokens + completionTokens },
      service_tier: 'default',
      system_fingerprint: 'fp_fake',
    });
  };

  /**
   * Server-sent events as the real API streams a completion: a first chunk with the role, one
   * `chat.completion.chunk` per piece of content, a last one with `finish_reason: 'stop'`, a
   * usage chunk when `stream_options.include_usage` asks for it, then `data: [DONE]`.
   */
  const streamChat = async (res: ServerResponse, request: FakeChatRequest, content: string, usage: Record<string, number>) => {
    const id = `chatcmpl-${randomBytes(15).toString('base64url')}`;
    const created = Math.floor(Date.now() / 1000);
    const event = (choices: unknown[], extra: Record<string, unknown> = {}) => {
      if (res.destroyed || res.writableEnded) return;
      res.write(
        `data: ${JSON.stringify({ id, object: 'chat.completion.chunk', created, model: request.model, service_tier: 'default', system_fingerprint: 'fp_fake', choices, ...extra })}\n\n`,
      );
    };
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', 'x-request-id': `req_${randomBytes(12).toString('hex')}` });
    event([{ index: 0, delta: { role: 'assistant', content: '', refusal: null }, logprobs: null, finish_reason: null }]);
    const pieces = chat.chunks(content, request);
    for (const [i, piece] of pieces.entries()) {
      if (i > 0) await wait(chat.chunkIntervalMs, res);
      if (i === chat.breakAfterChunks) {
        await wait(20, res); // let what was written reach the client, as it would have before a real failure
        res.socket?.destroy();
        return;
      }
      if (res.destroyed) return;
      event([{ index: 0, delta: { content: piece }, logprobs: null, finish_reason: null }]);
    }
    event([{ index: 0, delta: {}, logprobs: null, finish_reason: 'stop' }]);
    const options = request['stream_options'] as { include_usage?: boolean } | undefined;
    if (options?.include_usage) event([], { usage });
    if (!res.destroyed && !res.writableEnded) res.end('data: [DONE]\n\n');
  };

  const handleTranscription = async (req: IncomingMessage, res: ServerResponse) => {
    const raw = await readBody(req);
    const request = await validateTranscription(req.headers['content-type'] ?? '', raw);
    transcriptions.requests.push(request);
    await wait(transcriptions.delayMs, res);
    const failure = failures.transcriptions.shift();
    if (failure !== undefined) throw errorForStatus(failure);
    let text: string;
    try {
      text = await transcriptions.handler(request);
    } catch (error) {
      throw new ApiError(500, `fake OpenAI: transcription handler threw: ${(error as Error).message}`, 'server_error');
    }
    if (request.responseFormat === 'text') send(res, 200, `${text}\n`, 'text/plain; charset=utf-8');
    else if (request.responseFormat === 'verbose_json') send(res, 200, { task: 'transcribe', language: request.language ?? 'chinese', duration: 0, text, segments: [] });
    else send(res, 200, { text });
  };

  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const route =
      req.method === 'POST' && path === '/v1/chat/completions' ? handleChat : req.method === 'POST' && path === '/v1/audio/transcriptions' ? handleTranscription : undefined;
    const run = async () => {
      if (!route) throw new ApiError(404, `Invalid URL (${req.method} ${path})`, 'invalid_request_error');
      checkAuth(req);
      await route(req, res);
    };
    run().catch((error: unknown) => {
      req.resume(); // drain what is left of a refused upload so the client reads our answer, not a reset
      const e = error instanceof ApiError ? error : new ApiError(500, `fake OpenAI: ${(error as Error).message}`, 'server_error');
      send(res, e.status, { error: { message: e.message, type: e.type, param: e.param, code: e.code } });
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const origin = `http://127.0.0.1:${port}`;

  return {
    url: `${origin}/v1`,
    origin,
    apiKey,
    chat,
    transcriptions,
    async close() {
      closing.abort();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
