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

/** Loads bot.config.ts / .mjs / .js or the `wxbot` key of package.json. */
export async function loadConfig(file?: string, cwd = process.cwd()): Promise<{ config: WxbotConfig; filepath: string }> {
  const result = file ? await explorer.load(resolve(cwd, file)) : await explorer.search(cwd);
  if (!result || result.isEmpty) {
    const where = file ? resolve(cwd, file) : cwd;
    throw new Error(`no wxbot config found (${where}): create bot.config.ts or pass --config FILE`);
  }
  return { config: await resolveConfig(result.config as WxbotConfigInput), filepath: result.filepath };
}

/** Loads `.env` from the working directory into process.env, if there is one. */
export async function loadDotEnv(cwd = process.cwd()): Promise<void> {
  const file = resolve(cwd, '.env');
  if (!existsSync(file)) return;
  const dotenv = await import('dotenv');
  dotenv.config({ path: file, quiet: true });
}
