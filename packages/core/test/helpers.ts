import { Writable } from 'node:stream';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { createLogger, parseCommand, type Logger, type Message } from '../src/index.ts';

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

/** A text message from user `u` on the Official Account channel, its command parsed. */
export const textMessage = (text: string): Message => ({
  id: String(Math.random()),
  channel: { name: 'officialAccount', kind: 'officialAccount' },
  from: 'u',
  to: 'gh',
  time: new Date(),
  raw: {},
  type: 'text',
  text,
  command: parseCommand(text),
});

/** The heap in use after two full GCs (gc exposed at run time): what a test's objects keep alive. */
export function heapAfterGc(): number {
  setFlagsFromString('--expose_gc');
  const gc = runInNewContext('gc') as () => void;
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

/** Seeded numbers in [0, 1) for randomized tests (the test kit's: one mulberry32 for every package). */
export { seededRandom } from '@wxbot/testing';
