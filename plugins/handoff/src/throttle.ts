import type { IncomingMessage } from 'node:http';

/** How a client address is slowed down after bad tokens. */
export interface LoginThrottleOptions {
  /** Bad tokens in a row an address may present before it is blocked (default 5). */
  readonly maxFailures: number;
  /** The first block (default 1 s); each further block of the same address doubles it. */
  readonly blockMs: number;
  /** The longest block (default 15 min). */
  readonly maxBlockMs: number;
}

export const DEFAULT_LOGIN_THROTTLE: LoginThrottleOptions = { maxFailures: 5, blockMs: 1000, maxBlockMs: 15 * 60_000 };

/** Addresses remembered at most; the least recently seen are forgotten first. */
const MAX_ADDRESSES = 10_000;

interface Entry {
  /** Bad tokens since the last block or success. */
  failures: number;
  /** Blocks so far: the next lasts `blockMs * 2^blocks`. */
  blocks: number;
  /** Epoch ms the current block ends (0: not blocked). */
  blockedUntil: number;
  /** Epoch ms of the last bad token: an address quiet for `maxBlockMs` starts over. */
  last: number;
}

/**
 * Per-address brute-force throttle for the agent login (the WebSocket token, which the
 * console's sign-in uses too): after `maxFailures` bad tokens in a row an address is refused
 * without its token being looked at, for a block that doubles each time up to `maxBlockMs`.
 * A good token clears the address. Bounded: at most 10 000 addresses are remembered.
 */
export class LoginThrottle {
  readonly #options: LoginThrottleOptions;
  readonly #entries = new Map<string, Entry>();

  constructor(options: Partial<LoginThrottleOptions> = {}) {
    this.#options = { ...DEFAULT_LOGIN_THROTTLE, ...options };
  }

  /** Milliseconds `address` is still blocked for (0: it may try a token). */
  blockedFor(address: string, now = Date.now()): number {
    const entry = this.#entries.get(address);
    return entry && entry.blockedUntil > now ? entry.blockedUntil - now : 0;
  }

  /** Counts a bad token; returns the block it started (ms), or 0. */
  fail(address: string, now = Date.now()): number {
    let entry = this.#entries.get(address);
    if (entry && now - entry.last > this.#options.maxBlockMs && entry.blockedUntil <= now) entry = undefined;
    if (!entry) entry = { failures: 0, blocks: 0, blockedUntil: 0, last: now };
    // Most recently seen last in the map's order, so the oldest go first when it is full.
    this.#entries.delete(address);
    this.#entries.set(address, entry);
    if (this.#entries.size > MAX_ADDRESSES) this.#entries.delete(this.#entries.keys().next().value!);
    entry.last = now;
    entry.failures += 1;
    if (entry.failures < this.#options.maxFailures) return 0;
    const ms = Math.min(this.#options.maxBlockMs, this.#options.blockMs * 2 ** entry.blocks);
    entry.failures = 0;
    entry.blocks += 1;
    entry.blockedUntil = now + ms;
    return ms;
  }

  /** A good token: the address starts over. */
  succeed(address: string): void {
    this.#entries.delete(address);
  }

  /** Addresses remembered (tests). */
  get size(): number {
    return this.#entries.size;
  }
}

/**
 * The address an upgrade request is counted under: the TCP peer, or behind a trusted proxy the
 * last `X-Forwarded-For` entry (the one the proxy appended). IPv6 counts per /64, the block one
 * host usually holds, so rotating addresses inside it does not reset the count.
 */
export function clientAddress(request: IncomingMessage, trustProxy: boolean): string {
  let address = request.socket.remoteAddress ?? '';
  if (trustProxy) {
    const forwarded = request.headers['x-forwarded-for'];
    const last = (Array.isArray(forwarded) ? forwarded.join(',') : forwarded)?.split(',').at(-1)?.trim();
    if (last) address = last;
  }
  return ipv6Prefix(address) ?? address;
}

/** The first four groups of an IPv6 address (its /64), or undefined for IPv4 and v4-mapped ones. */
function ipv6Prefix(address: string): string | undefined {
  if (!address.includes(':') || address.toLowerCase().startsWith('::ffff:')) return undefined;
  const [head = '', tail] = address.split('%')[0]!.split('::') as [string, string | undefined];
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const groups = tail === undefined ? left : [...left, ...Array<string>(Math.max(0, 8 - left.length - right.length)).fill('0'), ...right];
  return `${groups
    .slice(0, 4)
    .map((g) => g.toLowerCase().replace(/^0+(?=.)/, ''))
    .join(':')}::/64`;
}
