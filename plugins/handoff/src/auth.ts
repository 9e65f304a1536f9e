import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { AgentConfig } from './options.ts';

const digest = (value: string) => createHash('sha256').update(value, 'utf8').digest();

/**
 * Finds the agent a token belongs to. Tokens are compared as SHA-256 digests with
 * `timingSafeEqual`, and every agent is compared, so neither a token's length nor which agent
 * matched shows in the time taken.
 */
export class AgentAuth {
  readonly #entries: readonly { readonly digest: Buffer; readonly agent: AgentConfig }[];

  constructor(agents: readonly AgentConfig[]) {
    this.#entries = agents.map((agent) => ({ digest: digest(agent.token), agent }));
  }

  authenticate(token: string | undefined): AgentConfig | undefined {
    if (!token) return undefined;
    const presented = digest(token);
    let found: AgentConfig | undefined;
    for (const entry of this.#entries) {
      if (timingSafeEqual(entry.digest, presented) && !found) found = entry.agent;
    }
    return found;
  }
}

/** The token of an upgrade request: `Authorization: Bearer …`, else `?token=` (browsers cannot set headers). */
export function tokenOf(request: IncomingMessage, url: URL): string | undefined {
  const header = request.headers.authorization;
  const bearer = header && /^Bearer\s+(\S+)\s*$/i.exec(header)?.[1];
  return bearer || url.searchParams.get('token') || undefined;
}

/**
 * Whether a page of `Origin` may connect. No Origin: not a browser, let in on its token.
 * Else it must be one of `allowed`, or, by default, the very host the request was sent to,
 * which stops other sites from using an agent's browser (cross-site WebSocket hijacking).
 */
export function originAllowed(request: IncomingMessage, allowed: readonly string[] | undefined): boolean {
  const origin = request.headers.origin;
  if (origin === undefined) return true;
  if (allowed) return allowed.some((o) => o.replace(/\/+$/, '').toLowerCase() === origin.toLowerCase());
  let host: string;
  try {
    host = new URL(origin).host;
  } catch {
    return false; // "null" (sandboxed frames, file://) and anything unparsable
  }
  return host !== '' && host.toLowerCase() === (request.headers.host ?? '').toLowerCase();
}
