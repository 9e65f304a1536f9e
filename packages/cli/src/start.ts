/** `wxbot start`: loads the config, applies the port rule, listens, prints the banner. */
import type { AddressInfo } from 'node:net';
import { createBot, type Bot } from '@wxbot/core';
import { loadConfig, loadDotEnv } from './loadConfig.ts';
import { resolvePort, type PortSource } from './port.ts';
import { keepServingOnEscapedErrors, parseConcurrency, requireQueuesForConcurrency, stopOnSignal } from './lifecycle.ts';
import { parseCommand } from './usage.ts';
import { START_USAGE } from './usageTexts.ts';

/** See {@link START_USAGE}. Returns the exit code (the process stays up while the bot runs). */
export async function start(args: string[]): Promise<number> {
  const { values } = parseCommand(args, {
    config: { type: 'string', short: 'c' },
    port: { type: 'string', short: 'p' },
    host: { type: 'string' },
    verbose: { type: 'boolean', default: false },
    concurrency: { type: 'string' },
  });
  if (values.help) {
    console.log(START_USAGE);
    return 0;
  }
  const concurrency = parseConcurrency(values.concurrency);
  await loadDotEnv();
  const { config, filepath } = await loadConfig(values.config);
  const bot = createBot(concurrency !== undefined && config.workers !== false ? { ...config, workers: { ...config.workers, concurrency } } : config);
  await requireQueuesForConcurrency(bot, concurrency, config.workers !== false);
  // From here on, plugin code runs: what it lets escape (a floating promise, a throw in a timer) is logged, not fatal.
  keepServingOnEscapedErrors(bot.log);
  const { port, source } = resolvePort(values.port, config.port);
  const host = values.host ?? config.host;
  let url: string;
  try {
    ({ url } = await bot.start({ port, host }));
  } catch (error) {
    await bot.stop().catch(() => {});
    throw listenError(error, port, source);
  }
  const bound = boundAddress(bot);
  bot.log.info({ config: filepath, listening: bound, delivery: bot.delivery, url }, 'wxbot started');
  if (config.devMode) {
    const paths = [...bot.channels.map((c) => [c.name, c.path] as const), ...Object.entries(config.devMode.links ?? {})];
    printDevMode(url, bound, config.devMode.credentials, paths);
  }
  stopOnSignal(bot, {
    stopping: bot.durable ? 'stopping: messages in progress and queue workers get to finish' : 'stopping: messages in progress get to finish',
    stopped: 'wxbot stopped',
  });
  return 0;
}

/** "0.0.0.0:3000", "[::]:3000": what the server really listens on. */
function boundAddress(bot: Bot): string {
  const address = bot.server?.address() as AddressInfo | null | undefined;
  if (!address) return 'unknown';
  return address.family === 'IPv6' ? `[${address.address}]:${address.port}` : `${address.address}:${address.port}`;
}

/** A listen failure in words: which port, and which setting to change. */
function listenError(error: unknown, port: number, source: PortSource): unknown {
  const code = (error as { code?: unknown }).code;
  const from = source === 'config' ? " (the config's port: --port and PORT override it)" : '';
  if (code === 'EADDRINUSE') {
    // Name the setting that chose the port: "set PORT" to someone whose PORT chose it says nothing.
    const chosen = source === 'PORT' ? ` (from PORT=${port})` : source === '--port' ? ' (from --port)' : '';
    const fix = source === '--port' ? 'choose another --port' : source === 'PORT' ? 'choose another PORT, or --port' : `set PORT or --port${from}`;
    return new Error(`port ${port}${chosen} is in use (another wxbot still running?): ${fix}`, { cause: error });
  }
  if (code === 'EACCES') return new Error(`port ${port} needs more privileges (ports below 1024 usually need root): set PORT or --port${from}`, { cause: error });
  if (code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND')
    return new Error(`cannot listen on that host: ${(error as Error).message} (check --host or the config's host)`, { cause: error });
  return error;
}

/** The banner: the made-up credentials, then each channel's URL and the config's links (the agent console). */
function printDevMode(url: string, bound: string, credentials: Record<string, string>, paths: (readonly [label: string, path: string])[]): void {
  const lines = [
    '',
    'wxbot is running in DEV MODE: no channel was configured, so it made up credentials',
    '(kept in .wxbot/dev.json). Use them in a console or with the test peer:',
    ...Object.entries(credentials).map(([k, v]) => `  ${k.padEnd(15)} ${v}`),
    ...paths.map(([label, path]) => `  ${label.padEnd(15)} ${url}${path}`),
    `  ${'listening on'.padEnd(15)} ${bound}`,
    '',
  ];
  console.log(lines.join('\n'));
}
