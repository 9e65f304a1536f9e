import { createRequire } from 'node:module';
import pino, { type Logger as PinoLogger } from 'pino';

/** The bot's logger (pino): child loggers carry the channel, message and plugin. */
export type Logger = PinoLogger;

/** How `createLogger` logs: level, where lines go, and pretty output for development. */
export interface LoggerOptions {
  /** pino level: 'info' by default, 'silent' to mute. */
  level?: string | undefined;
  /** Where lines go (default stdout). Tests pass a stream to read them. */
  destination?: pino.DestinationStream | undefined;
  /**
   * Human-readable coloured lines instead of JSON, for dev mode. Needs the optional package
   * `pino-pretty`; without it the logger writes JSON and says how to install it.
   */
  pretty?: boolean | undefined;
}

/**
 * Keys that must never reach a log line, at the top level of a log object and one level down
 * in the containers they usually sit in. Exact paths on purpose: wildcard paths made every
 * log call ~2.5× slower (measured), and the callback path logs once per callback. Message text
 * is not logged at info level by the core at all.
 */
const SECRET_KEYS = ['secret', 'token', 'appSecret', 'encodingAESKey', 'access_token', 'accessToken', 'apiKey', 'corpsecret', 'password'];
const CONTAINERS = ['options', 'config', 'credential', 'query', 'body', 'params'];
const REDACT = [...SECRET_KEYS, ...CONTAINERS.flatMap((c) => SECRET_KEYS.map((k) => `${c}.${k}`)), 'headers.authorization'];

/** The structured JSON logger wxbot uses everywhere (pino). */
export function createLogger(options: LoggerOptions = {}): Logger {
  const config = { level: options.level ?? 'info', base: { app: 'wxbot' }, redact: { paths: REDACT, censor: '[redacted]' } };
  const wantsPretty = options.pretty === true && !options.destination;
  const pretty = wantsPretty ? loadPinoPretty() : undefined;
  if (pretty) return pino(config, pretty({ colorize: process.stdout.isTTY, translateTime: 'HH:MM:ss.l', ignore: 'pid,hostname,app' }));
  const log = pino(config, options.destination ?? stdoutLines());
  if (wantsPretty) log.warn('pretty logs need the optional package pino-pretty (npm install --save-dev pino-pretty); logging JSON instead');
  plainLoggers.add(log);
  return log;
}

/**
 * Loggers made by {@link createLogger} writing JSON: their options are known (no formatters,
 * mixin, hooks or message prefix; no serializer or redaction path on the callback line's keys),
 * so the callback line can be written for them without pino building it.
 */
const plainLoggers = new WeakSet<Logger>();

/** Writes the one info line of a callback; `id` undefined for notifications without a message. */
export type CallbackLine = (channel: string, type: string, id: string | undefined, ms: number, outcome: string) => void;

/**
 * The writer of the per-callback info line: exactly the line `log.info({ channel, type, id, ms,
 * outcome }, 'callback')` writes. For a logger of {@link createLogger} the line is put
 * together here (its level and bindings read from the logger at each call, so a level or
 * bindings set later still count; what pino never changes on a logger read once) and given to
 * its destination as pino would: pino's own
 * building of it (a loop over the object with a serializer, redaction and escaping lookup per
 * key, ten escaping scans, a dozen concatenations) was ~3 % of a callback's CPU. None of the
 * five keys is a redaction path, and every string is escaped as JSON. Any other logger (the
 * user's own pino, a pretty or multistream one) is called as usual.
 */
export function callbackLine(log: Logger): CallbackLine {
  if (!plainLoggers.has(log)) {
    return (channel, type, id, ms, outcome) => log.info({ channel, type, id, ms, outcome }, 'callback');
  }
  const { lsCacheSym, timeSym, chindingsSym, endSym, streamSym, needsMetadataGsym } = pino.symbols;
  const internals = log as unknown as Record<symbol, unknown>;
  // Read once, here: pino sets a logger's stream, time function, line end and level texts when
  // it makes the logger (pino.js; a child is another object) and never on that logger again, and
  // a stream says whether it wants metadata when it is made. Each was a keyed load of a symbol at
  // every line (~0.1k instructions each). Its bindings (setBindings) and level may change later:
  // those are read at each line.
  const stream = internals[streamSym] as pino.DestinationStream & Record<symbol, unknown>;
  if (stream[needsMetadataGsym]) return (channel, type, id, ms, outcome) => log.info({ channel, type, id, ms, outcome }, 'callback');
  const timeOf = internals[timeSym] as () => string;
  const standardTime = timeOf === pino.stdTimeFunctions.epochTime;
  const level = linePiece((internals[lsCacheSym] as Record<number, string>)[30]!);
  const end = internals[endSym] as string;
  const asciiWrite = stream[ASCII_WRITE] as ((line: string) => void) | undefined;
  // Channel names, message types and outcomes repeat: the parts of the line made of them are
  // put together once (at most 256 kept each), so a line is seven pieces joined, not fifteen
  // (each join of 13+ characters a pair object; 0.62 KB allocated a line before, measured).
  const channelAndType = new Map<string, Map<string, LinePiece>>();
  const outcomeAndEnd = new Map<string, LinePiece>();
  // Whether the bindings' text is ASCII, asked again only when it changes.
  const chindings = new AsciiText();
  return (channel, type, id, ms, outcome) => {
    if (log.levelVal > 30) return;
    const time = standardTime ? epochTime() : timeOf();
    chindings.set(internals[chindingsSym] as string);
    let types = channelAndType.get(channel);
    if (types === undefined) {
      types = new Map();
      if (channelAndType.size < 256) channelAndType.set(channel, types);
    }
    let middle = types.get(type);
    if (middle === undefined) {
      middle = linePiece(`,"channel":${jsonString(channel)},"type":${jsonString(type)}`);
      if (types.size < 256) types.set(type, middle);
    }
    let tail = outcomeAndEnd.get(outcome);
    if (tail === undefined) {
      tail = linePiece(`,"outcome":${jsonString(outcome)},"msg":"callback"${end}`);
      if (outcomeAndEnd.size < 256) outcomeAndEnd.set(outcome, tail);
    }
    // An id PLAIN_JSON takes is ASCII; one JSON.stringify escapes may not be.
    const plainId = id === undefined || PLAIN_JSON.test(id);
    const idPart = id === undefined ? '' : plainId ? `,"id":"${id}"` : `,"id":${JSON.stringify(id)}`;
    const line = `${level.text}${time}${chindings.text}${middle.text}${idPart},"ms":${tenthsText(ms)}${tail.text}`;
    // The number's text is ASCII, and so is the standard time's.
    const ascii = plainId && level.ascii && chindings.ascii && middle.ascii && tail.ascii && (standardTime || !NOT_ASCII.test(time));
    if (ascii && asciiWrite) asciiWrite(line);
    else stream.write(line);
  };
}

/** A character that is not ASCII (a UTF-16 unit from 128 on). A text without one: its UTF-8 bytes are its characters (a Latin-1 copy, no encoding). */
const NOT_ASCII = /[\u0080-\uffff]/;

/** A part of the callback line made once, and whether it is ASCII. */
interface LinePiece {
  readonly text: string;
  readonly ascii: boolean;
}

function linePiece(text: string): LinePiece {
  return { text, ascii: !NOT_ASCII.test(text) };
}

/** A text read from the logger at each line (its level's, its bindings'), and whether it is ASCII, tested when it changes. */
class AsciiText {
  text = '';
  ascii = true;
  set(text: string): void {
    if (text === this.text) return;
    this.text = text;
    this.ascii = !NOT_ASCII.test(text);
  }
}

/**
 * The method of createLogger's stdout destination that takes a line known to be ASCII (see
 * stdoutLines): a symbol, so that no destination of a user's is called by it by chance.
 */
const ASCII_WRITE = Symbol('wxbot.asciiLineWrite');

/**
 * `String(x)` for the callback line's `ms`, a duration rounded to tenths: the text of its whole
 * part and its tenth digit, both small integers, instead of V8's conversion of a fraction
 * (`String(2.3)`: ~0.2–0.5 µs against ~0.05, measured; the line is written for every callback).
 * The same text: `x` is the double nearest whole.tenth, whose shortest round-trip text is
 * exactly that. Any other number (not a tenth, negative, huge, NaN) goes to `String`.
 */
export function tenthsText(x: number): string {
  const tenths = Math.round(x * 10);
  if (tenths / 10 !== x || !(tenths >= 0 && tenths <= 0x3fffffff)) return String(x);
  const tenth = tenths % 10;
  const whole = (tenths - tenth) / 10;
  return tenth === 0 ? String(whole) : `${whole}.${tenth}`;
}

let lastMs = Number.NaN;
let lastTime = '';

/**
 * pino's default time property (`,"time":` and epoch ms), as its `epochTime` writes it, made once
 * a millisecond and by toFixed: pino's template literal converts with String(), and V8 keeps each
 * number String() converts, with its string, in a table of the last ~16 000 (the number-string
 * cache, old generation): a new millisecond's string stayed alive for thousands of lines and was
 * promoted, ~30 B a message (bench/promoted.ts, safe at 3 000 req/s).
 */
function epochTime(): string {
  const now = Date.now();
  if (now !== lastMs) {
    lastMs = now;
    lastTime = `,"time":${now.toFixed(0)}`;
  }
  return lastTime;
}

/** Characters that never need escaping in a JSON string (ids, types, names, mostly). */
const PLAIN_JSON = /^[\w.:@-]*$/;

/** `s` as a JSON string: as is in quotes when nothing in it needs escaping (the usual case). */
function jsonString(s: string): string {
  return PLAIN_JSON.test(s) ? `"${s}"` : JSON.stringify(s);
}

/**
 * Bytes gathered before a write to stdout (~400 callback lines), and how long a line waits at
 * most when fewer come. Each write is a libuv thread-pool request, a wake-up of the main thread
 * when it completes, and (from 4 KB on) a Buffer outside Node's pool: with lines written as
 * soon as the previous write was done, a busy bot made a write every ~8 lines over HTTP; with
 * ~4 KB writes the callback line still cost ~1.3 µs a line in bursts (measured, /dev/null), and
 * ~0.75 µs with 64 KB (16 KB: ~0.9; 256 KB: no better). Lines still leave in order and at most
 * LINES_FLUSH_MS late (a quiet bot's lines go by the timer, as before); on exit (also after an
 * uncaught exception) pino writes what is left synchronously.
 */
const LINES_MIN_WRITE = 64 * 1024;
const LINES_FLUSH_MS = 100;

/**
 * stdout, written asynchronously (buffered by sonic-boom, flushed on exit by pino): a
 * synchronous write per callback line would put a syscall on every callback's path. Lines go
 * to sonic-boom as bytes (its buffer mode): in its text mode each line added while a write is
 * in flight measures the whole pending text again (`Buffer.byteLength` of a growing string,
 * flattened each time), so the cost of a line grows with the lines waiting: 1.4 against
 * 2.6–3.0 µs a line in bursts of 64–512 lines, measured. The bytes written are the same.
 *
 * Each line is encoded into a 64 KB buffer as it comes, handed over when the next line might
 * not fit (at most 100 ms late). Gathered as text instead (a rope of lines, encoded at the
 * hand-over), the lines waiting were young objects every scavenge copied: a callback line is a
 * tree of a dozen concatenations, ~690 B a line alive (measured), up to 64 KB of lines. In the
 * buffer they are bytes outside the heap; the CPU a line is the same (an earlier measurement).
 * Bytes gathered here and not yet handed over go to sonic-boom before pino's own exit flush
 * runs (see {@link handOverOnExit}).
 */
function stdoutLines(): pino.DestinationStream {
  const boom = pino.destination({ dest: 1, sync: false, contentMode: 'buffer', minLength: 0 });
  const lines: GatheredLines = {
    bytes: Buffer.allocUnsafe(LINES_MIN_WRITE),
    used: 0,
    timer: undefined,
    // `boom.write` looked up on each call: pino replaces it with a no-op when stdout is gone (EPIPE).
    handOver: () => {
      clearTimeout(lines.timer);
      lines.timer = undefined;
      if (lines.used === 0) return;
      const chunk = lines.bytes.subarray(0, lines.used);
      // sonic-boom keeps the chunk until it is written: the next lines go to a new buffer.
      lines.bytes = Buffer.allocUnsafe(LINES_MIN_WRITE);
      lines.used = 0;
      boom.write(chunk as unknown as string);
    },
  };
  handOverOnExit(lines);
  /** Adds `line` in `encoding` ('latin1' only for ASCII), at most `most` bytes. */
  const add = (line: string, most: number, encoding: 'utf8' | 'latin1') => {
    if (lines.used + most > lines.bytes.length) {
      lines.handOver();
      if (most > lines.bytes.length) {
        boom.write(Buffer.from(line, encoding) as unknown as string); // a line longer than a buffer goes on its own, in order
        return;
      }
    }
    lines.used += lines.bytes.write(line, lines.used, encoding);
    lines.timer ??= setTimeout(lines.handOver, LINES_FLUSH_MS);
  };
  return {
    // A UTF-16 code unit is at most 3 bytes of UTF-8.
    write: (line: string) => add(line, line.length * 3, 'utf8'),
    // The callback line when it is all ASCII (nearly always): the same bytes as UTF-8, copied a
    // byte a character instead of encoded (~2k of a line's ~7k instructions, measured: the line
    // holds the message id, a two-byte string when the callback had Chinese in it).
    [ASCII_WRITE]: (line: string) => add(line, line.length, 'latin1'),
    flush: (cb?: (error?: Error) => void) => {
      lines.handOver();
      boom.flush(cb);
    },
  } as pino.DestinationStream;
}

/** Log lines gathered for stdout as UTF-8, not yet handed to sonic-boom. */
interface GatheredLines {
  /** The buffer being filled; `used` bytes of it hold lines. */
  bytes: Buffer;
  used: number;
  /** Hands the bytes over at most LINES_FLUSH_MS after their first line (ref'd: a natural exit waits for it). */
  timer: NodeJS.Timeout | undefined;
  handOver(): void;
}

const gathered = new Set<GatheredLines>();

/**
 * On `process.exit()` (and after an uncaught exception) pino's exit hook writes what sonic-boom
 * holds synchronously: the text gathered here must be there first, so this listener goes before
 * every other (prepended, once).
 */
function handOverOnExit(lines: GatheredLines): void {
  if (gathered.size === 0)
    process.prependListener('exit', () => {
      for (const each of gathered) each.handOver();
    });
  gathered.add(lines);
}

type PinoPretty = (options: Record<string, unknown>) => pino.DestinationStream;

/** pino-pretty is an optional peer dependency: undefined when it is not installed. */
function loadPinoPretty(): PinoPretty | undefined {
  try {
    return createRequire(import.meta.url)('pino-pretty') as PinoPretty;
  } catch (error) {
    const missing = (error as NodeJS.ErrnoException).code === 'MODULE_NOT_FOUND' && String((error as Error).message).includes("'pino-pretty'");
    if (missing) return undefined;
    throw error;
  }
}

/** Property names of an error that are never logged (they may hold a credential). */
const SECRET_PROPERTY = /secret|token|key|password|authorization|cookie/i;

/**
 * What of an error thrown by plugin code is logged: its type, message, stack, causes and
 * plain-value properties (`errcode`, `endpoint`, `status`…), not object properties. An HTTP
 * client's error carries the request it made (`config.headers.Authorization`, a URL with a
 * key), which the redaction paths cannot foresee for code wxbot does not know. The bot logs
 * plugin failures through it; a plugin logging an error of a library it calls may too:
 * `log.error({ err: loggableError(error) }, 'lookup failed')`.
 */
export function loggableError(error: unknown, depth = 0): unknown {
  if (!(error instanceof Error)) return error;
  const out: Record<string, unknown> = { type: error.name, message: error.message, stack: error.stack };
  for (const [key, value] of Object.entries(error)) {
    if (key in out || SECRET_PROPERTY.test(key)) continue;
    if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') out[key] = value;
  }
  if (error.cause !== undefined && depth < 3) out['cause'] = error.cause instanceof Error ? loggableError(error.cause, depth + 1) : String(error.cause);
  // pino's error serializer names the type after the constructor: the original one's.
  Object.defineProperty(out, 'constructor', { value: error.constructor, enumerable: false });
  return out;
}
