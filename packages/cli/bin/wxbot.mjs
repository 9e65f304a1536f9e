#!/usr/bin/env node
// Registers tsx so bot.config.ts and the TypeScript sources load without a build step.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../src/main.ts');
const args = process.argv.slice(2);
process.exitCode = await main(args);
// One-shot commands end even when a config left something open (a Redis client, a plugin's
// timer); unref'd, so a command with nothing left open exits at once as before.
if (args[0] !== 'start') setTimeout(() => process.exit(), 1000).unref();
