import { BOT_KEYS, type BotOptions, type ListenOptions } from './bot.ts';
import { checkKeys, type KeysOf, type UnknownOptionError } from './optionKeys.ts';
import { checkPluginList } from './plugin.ts';

/** What a bot.config.ts exports: the bot's options plus where to listen. */
export interface WxbotConfig extends BotOptions, ListenOptions {
  /**
   * Set by the default config when it generated credentials: start-up prints them, and each
   * of `links` (a label and a path on the bot's URL, such as the agent console's) as a URL.
   */
  devMode?: { readonly credentials: Record<string, string>; readonly links?: Readonly<Record<string, string>> } | undefined;
}

/** A config, or a function (maybe async) that builds one at start. */
export type WxbotConfigInput = WxbotConfig | (() => WxbotConfig | Promise<WxbotConfig>);

/** Every key of {@link WxbotConfig} (and of its plain-object settings): the keys `createBot` takes. */
const CONFIG_KEYS = BOT_KEYS satisfies KeysOf<WxbotConfig>;

/**
 * Throws {@link UnknownOptionError} when the config has a key no setting has (`prot`,
 * `plugns`, `metrics.paht`), naming it and what was probably meant; and a TypeError when its
 * `plugins` list holds something that is not a plugin (a factory not called: `plugins: [echo]`).
 */
export function checkConfigKeys(config: unknown): void {
  checkKeys('config', config, CONFIG_KEYS);
  if (config && typeof config === 'object') checkPluginList((config as { plugins?: unknown }).plugins);
}

/**
 * Typed helper for bot.config.ts: `export default defineConfig({ ... })`. Checks the config's
 * keys: a misspelt one (`prot`, `plugns`) throws {@link UnknownOptionError} with a did-you-mean
 * instead of being ignored. A function is checked on what it returns, when it is called.
 */
export function defineConfig<T extends WxbotConfigInput>(config: T): T {
  if (typeof config !== 'function') {
    checkConfigKeys(config);
    return config;
  }
  const build = config as () => WxbotConfig | Promise<WxbotConfig>;
  const checked = () => {
    const built = build();
    if (built instanceof Promise)
      return built.then((value) => {
        checkConfigKeys(value);
        return value;
      });
    checkConfigKeys(built);
    return built;
  };
  return checked as T;
}

/** Resolves a config input to the config object, its keys checked (see {@link defineConfig}). */
export async function resolveConfig(input: WxbotConfigInput): Promise<WxbotConfig> {
  const config = await (typeof input === 'function' ? input() : input);
  checkConfigKeys(config);
  return config;
}
