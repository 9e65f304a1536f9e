import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const loggerModule = fileURLToPath(new URL('../src/logger.ts', import.meta.url));

/** Runs `body` in a fresh node process with `log` = createLogger(), returns its stdout. */
function runLogging(body: string): Promise<string> {
  const script = `const { createLogger } = await import(${JSON.stringify(loggerModule)}); const log = createLogger({ level: 'info' }); ${body}`;
  return new Promise((resolve, reject) =>
    execFile(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { maxBuffer: 64 * 1024 * 1024 }, (error, stdout) =>
      error ? reject(error) : resolve(stdout),
    ),
  );
}

describe('createLogger on stdout', () => {
  // stdout is written asynchronously and in bytes: lines logged in one burst right before
  // process.exit() all arrive, whole, in order, multi-byte text intact.
  it('writes every line of a burst, in order, before the process exits', async () => {
    const out = await runLogging(`for (let i = 0; i < 3000; i++) log.info({ i, text: '你好 wxbot ' + i }, 'callback'); process.exit(0);`);
    const lines = out
      .trimEnd()
      .split('\n')
      .map((line) => JSON.parse(line) as { i: number; text: string; msg: string; app: string });
    expect(lines).toHaveLength(3000);
    expect(lines).toEqual(lines.map((_, i) => expect.objectContaining({ i, text: `你好 wxbot ${i}`, msg: 'callback', app: 'wxbot' })));
  });

  it('keeps writing lines logged across event-loop turns, and redacts secrets', async () => {
    const out = await runLogging(`for (let i = 0; i < 50; i++) { log.info({ i, token: 'secret-value' }, 'line'); await new Promise((r) => setTimeout(r, 1)); }`);
    const lines = out
      .trimEnd()
      .split('\n')
      .map((line) => JSON.parse(line) as { i: number; token: string });
    expect(lines.map((l) => l.i)).toEqual([...Array(50).keys()]);
    expect(lines.every((l) => l.token === '[redacted]')).toBe(true);
  });
});
