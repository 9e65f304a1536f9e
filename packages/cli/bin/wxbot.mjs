#!/usr/bin/env node
// The `wxbot` command. Installed from npm it runs the built JavaScript in dist/ on plain Node.
// In the wxbot repository (src/ is there and tsx installed) it runs the TypeScript sources, so
// changes need no build: tsx compiles them, and the @wxbot/source condition makes every
// @wxbot/* import resolve to its package's src/ as well.
import { existsSync } from 'node:fs';
import { register } from 'node:module';

// `wxbot check | head`: a reader that leaves early closes the pipe. End quietly, as other
// command-line tools do, instead of dying on an unhandled 'error' event with a stack.
process.stdout.on('error', (error) => {
  if (error.code !== 'EPIPE') throw error;
  process.exit(process.exitCode ?? 0);
});

const source = new URL('../src/main.ts', import.meta.url);
const { main } = existsSync(source) && (await registerTsx()) ? await fromSource() : await import('../dist/main.js');
const args = process.argv.slice(2);
process.exitCode = await main(args);
// One-shot commands end even when a config left something open (a Redis client, a plugin's
// timer); unref'd, so a command with nothing left open exits at once as before. `start` and
// `worker` run until a signal stops them, unless they failed to start: a config with a wrong
// option whose RedisStore had already connected kept `wxbot start` waiting after its error.
if (process.exitCode !== 0 || (args[0] !== 'start' && args[0] !== 'worker')) setTimeout(() => process.exit(), 1000).unref();

/** Registers tsx if it is installed; false when it is not. */
async function registerTsx() {
  try {
    const tsx = await import('tsx/esm/api');
    tsx.register();
    return true;
  } catch (error) {
    if (error?.code === 'ERR_MODULE_NOT_FOUND') return false;
    throw error;
  }
}

async function fromSource() {
  register('./sourceCondition.mjs', import.meta.url);
  return import(source.href);
}
