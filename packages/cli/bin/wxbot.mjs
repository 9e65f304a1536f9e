#!/usr/bin/env node
// Registers tsx so bot.config.ts and the TypeScript sources load without a build step.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../src/main.ts');
process.exitCode = await main(process.argv.slice(2));
