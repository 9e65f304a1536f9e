/**
 * One port rule for `wxbot start` and `wxbot simulate`, so both talk about the same server:
 * `--port` first, then the `PORT` environment variable, then the config's `port`, then 3000.
 * The environment beats the file because hosting platforms hand the port over in `PORT`.
 */
import { UsageError } from './usage.ts';

/** The port when nothing says otherwise. */
export const DEFAULT_PORT = 3000;

/** Where the port came from, for messages ("port 3000 is in use: set PORT or --port"). */
export type PortSource = '--port' | 'PORT' | 'config' | 'default';

/** Applies the rule; a malformed `--port` is a usage error, a malformed PORT an ordinary one. */
export function resolvePort(flag: string | undefined, configPort: unknown, env: NodeJS.ProcessEnv = process.env): { port: number; source: PortSource } {
  if (flag !== undefined) {
    const port = parsePort(flag);
    if (port === undefined) throw new UsageError(`--port must be a port number 0–65535 (got "${flag}")`);
    return { port, source: '--port' };
  }
  const fromEnv = env['PORT']?.trim();
  if (fromEnv) {
    const port = parsePort(fromEnv);
    if (port === undefined) throw new Error(`PORT must be a port number 0–65535 (got "${fromEnv}")`);
    return { port, source: 'PORT' };
  }
  if (configPort !== undefined && configPort !== null) {
    const port = parsePort(String(configPort));
    if (port === undefined) throw new Error(`the config's port must be a port number 0–65535 (got ${JSON.stringify(configPort)})`);
    return { port, source: 'config' };
  }
  return { port: DEFAULT_PORT, source: 'default' };
}

/** A port number 0–65535 written in decimal, or undefined. */
export function parsePort(text: string): number | undefined {
  if (!/^\d{1,5}$/.test(text)) return undefined;
  const port = Number(text);
  return port <= 65535 ? port : undefined;
}
