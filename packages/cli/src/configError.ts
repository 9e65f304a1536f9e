import { readFileSync } from 'node:fs';
import { relative } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The channel factories and classes of @wxbot/core, by the names they have in a stack trace. */
const CHANNEL_FRAMES: Record<string, string> = {
  officialAccount: 'officialAccount',
  OfficialAccountChannel: 'officialAccount',
  wecomApp: 'wecomApp',
  WecomAppChannel: 'wecomApp',
  wecomKf: 'wecomKf',
  WecomKfChannel: 'wecomKf',
};

const FRAME = /^\s*at (?:new )?(\S+)? ?\(?(.+?):(\d+):(\d+)\)?$/;

/**
 * Says what failed while a config was built, naming the channel when a channel constructor
 * threw: a bad EncodingAESKey is refused by the crypto code, whose message cannot know which
 * channel it belongs to. The channel is found from the stack (the factory's frame, then the
 * first frame in the config file) and its `name` read from the call in the source. Only the
 * name and the position are printed: the call itself holds secrets.
 */
export function describeConfigError(error: unknown, cwd = process.cwd()): string {
  const message = error instanceof Error ? error.message : String(error);
  const stack = error instanceof Error ? (error.stack ?? '') : '';
  const frames = stack
    .split('\n')
    .map((line) => FRAME.exec(line))
    .filter((m): m is RegExpExecArray => m !== null);
  const factory = frames.findIndex((m) => m[1] !== undefined && CHANNEL_FRAMES[m[1]] !== undefined && isCore(m[2] ?? ''));
  if (factory < 0) return message;
  const kind = CHANNEL_FRAMES[frames[factory]?.[1] ?? ''] ?? 'channel';
  const caller = frames.slice(factory + 1).find((m) => !isCore(m[2] ?? '') && !/node_modules|node:internal/.test(m[2] ?? ''));
  if (!caller) return `${kind} channel: ${message}`;
  const file = toPath(caller[2] ?? '');
  const line = Number(caller[3]);
  const name = channelName(file, line, Number(caller[4]));
  const label = name === undefined ? `the ${kind} channel` : `channel "${name ?? kind}" (${kind})`;
  if (name !== undefined && message.includes(`channel ${name}`)) return `${message} (at ${relative(cwd, file) || file}:${line})`;
  return `${label} at ${relative(cwd, file) || file}:${line}: ${message}`;
}

function isCore(file: string): boolean {
  return /[\\/]packages[\\/]core[\\/]src[\\/]|[\\/]@wxbot[\\/]core[\\/]/.test(file);
}

function toPath(location: string): string {
  return location.startsWith('file://') ? fileURLToPath(location) : location;
}

/**
 * The channel's `name` option, read from the factory call that starts at line:column: a
 * string literal, the kind's default (null) when the call has no `name`, or undefined when
 * it cannot be told (a computed name, an unreadable file).
 */
function channelName(file: string, line: number, column: number): string | null | undefined {
  let source: string;
  try {
    source = readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
  const lines = source.split('\n');
  const start = lines.slice(0, line - 1).reduce((n, l) => n + l.length + 1, 0) + column - 1;
  const open = source.indexOf('(', start);
  if (open < 0) return undefined;
  // The call's arguments: up to the parenthesis that closes the one opened by the call.
  let depth = 0;
  let end = open;
  for (; end < source.length; end++) {
    if (source[end] === '(') depth++;
    else if (source[end] === ')' && --depth === 0) break;
  }
  const args = source.slice(open, end);
  const literal = /\bname\s*:\s*(['"`])([^'"`]*)\1/.exec(args);
  if (literal) return literal[2] ?? undefined;
  return /\bname\s*[:,}]/.test(args) ? undefined : null;
}
