import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';

// Dockerfile and docker-compose.yml against what the bot does when it stops (no Docker engine runs on the
// build machines, so the file is checked here): Docker sends SIGTERM, waits stop_grace_period
// (default 10 s) and then SIGKILLs. A graceful stop takes up to the callbacks' grace (5 s,
// shutdownGraceMs) plus the workers' (10 s, closeTimeoutMs) plus closing connections.

const root = resolve(import.meta.dirname, '..');
const compose = parse(readFileSync(resolve(root, 'docker-compose.yml'), 'utf8')) as {
  services: Record<string, { build?: unknown; command?: string[]; stop_grace_period?: string; healthcheck?: { test: string[] }; environment?: Record<string, string> }>;
};
/** Docker's duration: "30s", "1m30s", "90s". */
function seconds(duration: string | undefined): number {
  if (duration === undefined) return 10; // Docker's default
  let total = 0;
  for (const [, n, unit] of duration.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h)/g)) total += Number(n) * { ms: 0.001, s: 1, m: 60, h: 3600 }[unit as 'ms' | 's' | 'm' | 'h'];
  return total;
}

describe('Dockerfile', () => {
  it("runs wxbot as the container's process in exec form, so SIGTERM reaches it (npm start would keep it from it)", () => {
    const cmd = /^CMD\s+(.+)$/m.exec(readFileSync(resolve(root, 'Dockerfile'), 'utf8'))?.[1];
    // Exec form (a JSON array): no shell between Docker and the program.
    const args = JSON.parse(cmd ?? 'null') as string[];
    // npm start: npm passes SIGTERM to its `sh -c`, which dies without passing it on.
    expect(args[0]).toBe('node');
    expect(args.slice(1)).toEqual(['packages/cli/bin/wxbot.mjs', 'start']);
    expect(existsSync(resolve(root, args[1]!))).toBe(true);
  });
});

describe('docker-compose.yml', () => {
  const wxbotServices = Object.entries(compose.services).filter(([, service]) => service.build !== undefined);

  it('gives every wxbot container time for a graceful stop (5 s callbacks + 10 s workers, with room)', () => {
    expect(wxbotServices.length).toBeGreaterThan(0);
    for (const [name, service] of wxbotServices) expect(seconds(service.stop_grace_period), name).toBeGreaterThanOrEqual(20);
  });

  it('runs a worker next to the web instance, on the same Redis, with its health check on its metrics port', () => {
    const worker = compose.services['worker'];
    expect(worker?.command?.slice(0, 3)).toEqual(['node', 'packages/cli/bin/wxbot.mjs', 'worker']);
    expect(worker?.environment?.['REDIS_URL']).toBe(compose.services['bot']?.environment?.['REDIS_URL']);
    const port = worker!.command![worker!.command!.indexOf('--metrics-port') + 1];
    expect(port).toMatch(/^\d+$/);
    expect(worker?.healthcheck?.test.join(' ')).toContain(`127.0.0.1:${port}/healthz`);
  });
});
