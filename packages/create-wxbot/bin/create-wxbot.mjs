#!/usr/bin/env node
// `npm create wxbot@latest my-bot` runs this: plain Node, the built JavaScript in dist/.
import { main } from '../dist/main.js';

process.exitCode = await main(process.argv.slice(2));
