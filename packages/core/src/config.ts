import type { BotOptions, ListenOptions } from './bot.ts';

/** What a bot.config.ts exports: the bot's options plus where to listen. */
export interface WxbotConfig extends BotOptions, ListenOptions {
  /**
   * Set by the default config when it generated credentials: start-up prints them, and each
   * of `links` (a label and a path on the bot's URL, such as the agent console's) as a URL.
   */
  devMode?: { readonly credentials: Record<string, string>; readonly links?: Readonly<Record<string, string>> };
}

/** A config, or a function (maybe async) that builds one at start. */
export type WxbotConfigInput = WxbotConfig | (() => WxbotConfig | Promise<WxbotConfig>);

/** Typed identity helper for bot.config.ts: `export default defineConfig({ ... })`. */
export function defineConfig<T extends WxbotConfigInput>(config: T): T {
  return config;
}

/** Resolves a config input to the config object. */
export async function resolveConfig(input: WxbotConfigInput): Promise<WxbotConfig> {
  return typeof input === 'function' ? input() : input;
}
