import { Writable } from 'node:stream';
import { createBot, createLogger } from '@wxbot/core';
import { expect, it } from 'vitest';
import { voice } from '../src/index.ts';

// A log line with the same key twice is valid for pino but not for every log pipeline (e.g.
// Elasticsearch refuses a document with a duplicate field): the set-up lines the voice plugin
// logs on its own logger (which names the plugin already) carry each key once.
it('the set-up line (ffmpeg ready) names the plugin once', async () => {
  const raw: string[] = [];
  const destination = new Writable({
    write(chunk, _encoding, callback) {
      raw.push(...String(chunk).split('\n').filter(Boolean));
      callback();
    },
  });
  const bot = createBot({ channels: [], plugins: [voice({ baseURL: 'http://127.0.0.1:9/v1', apiKey: 'sk-test' })], logger: createLogger({ level: 'info', destination }) });
  await bot.init();
  await bot.stop();
  const ready = raw.find((line) => line.includes('ffmpeg ready'));
  expect(ready).toBeDefined();
  expect(ready!.match(/"plugin":/g)).toHaveLength(1);
});
