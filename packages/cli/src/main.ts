import { parseArgs } from 'node:util';
import { createBot, generateEncodingAESKey, generateToken, PluginOptionsError } from '@wxbot/core';
import { check } from './check.ts';
import { loadConfig, loadDotEnv } from './loadConfig.ts';
import { simulate } from './simulate.ts';

const USAGE = `wxbot — WeChat / WeCom chatbot framework

Usage:
  wxbot start [--config FILE] [--port N] [--host H]   run the bot in bot.config.ts
  wxbot keygen                                         print a fresh Token and EncodingAESKey
  wxbot simulate [options] [TEXT…]                     send a message to a running bot as WeChat would
                                                       and print its answer (-i: one per stdin line;
                                                       --fake-api: also its active sends)
  wxbot check [--config FILE]                          verify a config without starting the server
  wxbot help                                           this text; wxbot simulate --help for its options`;

/** The CLI entry: returns the process exit code. */
export async function main(argv: string[]): Promise<number> {
  const [command = 'help', ...rest] = argv;
  try {
    switch (command) {
      case 'start':
        return await start(rest);
      case 'simulate':
        return await simulate(rest);
      case 'check':
        return await check(rest);
      case 'keygen':
        console.log(`Token:          ${generateToken()}\nEncodingAESKey: ${generateEncodingAESKey()}`);
        return 0;
      case 'help':
      case '--help':
      case '-h':
        console.log(USAGE);
        return 0;
      default:
        console.error(`unknown command "${command}"\n\n${USAGE}`);
        return 2;
    }
  } catch (error) {
    // Start-up errors (a wrong plugin option, a bad key, a taken port) are for people: no stack.
    const known = error instanceof PluginOptionsError || (error as { code?: unknown }).code !== undefined || error instanceof Error;
    console.error(`wxbot: ${known ? (error as Error).message : String(error)}`);
    return 1;
  }
}

async function start(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: { config: { type: 'string', short: 'c' }, port: { type: 'string', short: 'p' }, host: { type: 'string' } },
  });
  await loadDotEnv();
  const { config, filepath } = await loadConfig(values.config);
  const bot = createBot(config);
  const port = values.port !== undefined ? Number(values.port) : (config.port ?? 3000);
  const { url } = await bot.start({ port, host: values.host ?? config.host });
  bot.log.info({ config: filepath, url }, 'wxbot started');
  if (config.devMode) printDevMode(url, config.devMode.credentials, bot.channels.map((c) => ({ name: c.name, path: c.path })));
  const shutdown = async (signal: string) => {
    bot.log.info({ signal }, 'stopping');
    await bot.stop();
    process.exit(0);
  };
  process.once('SIGINT', () => void shutdown('SIGINT'));
  process.once('SIGTERM', () => void shutdown('SIGTERM'));
  return 0;
}

function printDevMode(url: string, credentials: Record<string, string>, channels: { name: string; path: string }[]): void {
  const lines = [
    '',
    'wxbot is running in DEV MODE: no channel was configured, so it made up credentials',
    '(kept in .wxbot/dev.json). Use them in a console or with the test peer:',
    ...Object.entries(credentials).map(([k, v]) => `  ${k.padEnd(15)} ${v}`),
    ...channels.map((c) => `  ${c.name.padEnd(15)} ${url}${c.path}`),
    '',
  ];
  console.log(lines.join('\n'));
}
