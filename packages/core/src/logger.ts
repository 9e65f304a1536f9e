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
 * Paths that must never reach a log line, whatever a caller puts in its bindings.
 * Message text is not logged at info level by the core at all.
 */
const REDACT = [
  'secret', '*.secret', 'token', '*.token', 'appSecret', '*.appSecret', 'encodingAESKey', '*.encodingAESKey',
  'access_token', '*.access_token', 'apiKey', '*.apiKey', 'corpsecret', '*.corpsecret',
];

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
