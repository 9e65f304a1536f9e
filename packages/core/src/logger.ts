import pino, { type Logger } from 'pino';
import pretty from 'pino-pretty';

export type { Logger } from 'pino';

export interface LoggerOptions {
  /** pino level: 'info' by default, 'silent' to mute. */
  level?: string;
  /** Where lines go (default stdout). Tests pass a stream to read them. */
  destination?: pino.DestinationStream;
  /** Human-readable coloured lines (pino-pretty) instead of JSON: for dev mode. */
  pretty?: boolean;
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
  if (options.pretty && !options.destination) {
    return pino(config, pretty({ colorize: process.stdout.isTTY, translateTime: 'HH:MM:ss.l', ignore: 'pid,hostname,app' }));
  }
  // stdout written asynchronously (buffered by sonic-boom, flushed on exit): a synchronous
  // write per callback line would put a syscall on every callback's path.
  return pino(config, options.destination ?? pino.destination({ dest: 1, sync: false }));
}
