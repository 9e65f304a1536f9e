import { Writable } from 'node:stream';
import { createLogger, type Logger } from '../src/index.ts';

/** A logger whose JSON lines land in `lines`, so tests can assert on what was logged. */
export function captureLogger(level = 'debug'): { log: Logger; lines: Record<string, unknown>[]; text: () => string } {
  const lines: Record<string, unknown>[] = [];
  const raw: string[] = [];
  const destination = new Writable({
    write(chunk, _encoding, callback) {
      for (const line of String(chunk).split('\n')) {
        if (!line) continue;
        raw.push(line);
        lines.push(JSON.parse(line) as Record<string, unknown>);
      }
      callback();
    },
  });
  return { log: createLogger({ level, destination }), lines, text: () => raw.join('\n') };
}
