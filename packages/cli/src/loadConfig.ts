import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { resolveConfig, type WxbotConfig, type WxbotConfigInput } from '@wxbot/core';
import { cosmiconfig, type Loader } from 'cosmiconfig';

// tsx is registered by the bin, so TypeScript configs load through a plain import.
const importLoader: Loader = async (filepath) => {
  const module = (await import(pathToFileURL(filepath).href)) as { default?: unknown };
  return module.default ?? module;
};

const explorer = cosmiconfig('wxbot', {
  searchPlaces: ['package.json', 'bot.config.ts', 'bot.config.mts', 'bot.config.mjs', 'bot.config.js', 'wxbot.config.ts', 'wxbot.config.mjs', 'wxbot.config.js'],
  loaders: { '.ts': importLoader, '.mts': importLoader, '.mjs': importLoader, '.js': importLoader },
  searchStrategy: 'none',
});

/** No config file was found (as opposed to one that failed to load). */
export class ConfigNotFoundError extends Error {
  override readonly name = 'ConfigNotFoundError';
}

/** Loads bot.config.ts / .mjs / .js or the `wxbot` key of package.json. */
export async function loadConfig(file?: string, cwd = process.cwd()): Promise<{ config: WxbotConfig; filepath: string }> {
  const result = file ? await explorer.load(resolve(cwd, file)) : await explorer.search(cwd);
  if (!result || result.isEmpty) {
    const where = file ? resolve(cwd, file) : cwd;
    throw new ConfigNotFoundError(`no wxbot config found (${where}): create bot.config.ts or pass --config FILE`);
  }
  return { config: await resolveConfig(result.config as WxbotConfigInput), filepath: result.filepath };
}

/**
 * Closes what building a config opened (a RedisStore connects as soon as it is constructed),
 * for commands that only read the config. Gives up after `timeoutMs`: a store that cannot
 * say goodbye must not keep a one-shot command waiting.
 */
export async function releaseConfig(config: WxbotConfig, timeoutMs = 1000): Promise<void> {
  const store = config.store;
  const close = store?.close?.();
  if (close) {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<void>((done) => (timer = setTimeout(done, timeoutMs)));
    try {
      await Promise.race([close.catch(() => {}), timeout]);
    } finally {
      clearTimeout(timer);
    }
  }
  // A RedisStore whose server is down is still reconnecting after close(): stop it for good.
  (store as { client?: { disconnect?: () => void } } | undefined)?.client?.disconnect?.();
}

/** Loads `.env` from the working directory into process.env, if there is one. */
export async function loadDotEnv(cwd = process.cwd()): Promise<void> {
  const file = resolve(cwd, '.env');
  if (!existsSync(file)) return;
  const dotenv = await import('dotenv');
  dotenv.config({ path: file, quiet: true });
}
