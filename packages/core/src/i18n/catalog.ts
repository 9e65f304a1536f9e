/**
 * Texts the framework and its plugins say to users, in several languages, without a global
 * instance: each package defines its own catalog, each bot picks a locale and may override
 * any text. Keys and `{param}` placeholders are checked at compile time.
 *
 * Why not i18next: every text here is a short sentence with named placeholders; no plural
 * rules (Chinese has none, the English texts avoid them), no namespaces loaded at run time,
 * no detection. A typed catalog gives compile-time keys and parameters, which i18next only
 * offers through a global type augmentation that plugin catalogs cannot share.
 */

/** A locale tag such as `zh-CN` or `en`. The framework ships these two. */
export type Locale = 'zh-CN' | 'en' | (string & {});

/** The locale used when a bot names none. */
export const DEFAULT_LOCALE = 'zh-CN';

/** The names of the `{placeholders}` in a text, as a union. */
export type PlaceholdersOf<S extends string> = S extends `${string}{${infer P}}${infer Rest}` ? P | PlaceholdersOf<Rest> : never;

/** The parameter object a text needs: one value per placeholder; none when it has none. */
export type ParamsOf<S extends string> = [PlaceholdersOf<S>] extends [never] ? [params?: Record<string, never>] : [params: Record<PlaceholdersOf<S>, string | number>];

/** One language's texts. */
export type Texts = Readonly<Record<string, string>>;

/**
 * A package's texts: the default language (zh-CN) fixes the keys and placeholders, every
 * other language gives the same keys.
 */
export interface Catalog<T extends Texts = Texts> {
  /** Prefix of the keys a bot overrides, e.g. `dialog` → `dialog.cancelled`. */
  readonly namespace: string;
  readonly languages: Readonly<Record<string, { readonly [K in keyof T]: string }>>;
}

/**
 * A text of a catalog named for later, said in the bot's language (its override as
 * `namespace.key` included): a command's description for `/help`, say.
 */
export interface TextRef<T extends Texts = Texts> {
  readonly catalog: Catalog<T>;
  readonly key: keyof T & string;
}

/**
 * Defines a catalog:
 *
 * ```ts
 * export const texts = defineCatalog('dialog', {
 *   'zh-CN': { cancelled: '已取消「{title}」。' },
 *   en: { cancelled: 'Cancelled "{title}".' },
 * });
 * ctx.t(texts, 'cancelled', { title: '查询订单' });
 * ```
 */
export function defineCatalog<const T extends Texts>(
  namespace: string,
  languages: { readonly 'zh-CN': T } & Readonly<Record<string, { readonly [K in keyof T]: string }>>,
): Catalog<T> {
  if (!/^[a-z][\w-]*$/i.test(namespace)) throw new Error(`catalog namespace "${namespace}" must be a word (letters, digits, - or _)`);
  return { namespace, languages };
}

/** Replaces each `{name}` with its parameter; an unknown placeholder is left as written. */
export function interpolate(text: string, params: Readonly<Record<string, string | number>> | undefined): string {
  if (!params || !text.includes('{')) return text;
  return text.replace(/\{(\w+)\}/g, (whole, name: string) => (Object.hasOwn(params, name) ? String(params[name]) : whole));
}

/** Options of a bot's texts. */
export interface I18nOptions {
  /** The language of every text the framework says (default zh-CN). `en-US` finds `en`. */
  locale?: Locale;
  /**
   * Texts to say instead of the catalogs', by `namespace.key`, e.g.
   * `{ 'core.unknownCommand': '没有 /{command} 这个命令，发 /help 看看。' }`.
   */
  texts?: Readonly<Record<string, string>>;
}

/**
 * One bot's language and overrides. Lookup order: the bot's override, the catalog's text in
 * the locale, in the locale's language without region (`en-US` → `en`), then zh-CN.
 */
export class I18n {
  readonly locale: Locale;
  readonly #overrides: Readonly<Record<string, string>>;

  constructor(options: I18nOptions = {}) {
    this.locale = options.locale ?? DEFAULT_LOCALE;
    this.#overrides = options.texts ?? {};
  }

  /** The text of `key` in this bot's language, with its placeholders filled. */
  t<T extends Texts, K extends keyof T & string>(catalog: Catalog<T>, key: K, ...[params]: ParamsOf<T[K]>): string {
    return interpolate(this.raw(catalog, key), params as Record<string, string | number> | undefined);
  }

  /** The text of `key` before its placeholders are filled. */
  raw<T extends Texts>(catalog: Catalog<T>, key: keyof T & string): string {
    const override = this.#overrides[`${catalog.namespace}.${key}`];
    if (override !== undefined) return override;
    return this.#language(catalog)[key] ?? catalog.languages['zh-CN']![key]!;
  }

  /** Every text of a catalog in this bot's language (for a browser page, say), overrides applied. */
  all<T extends Texts>(catalog: Catalog<T>): { [K in keyof T]: string } {
    const out = {} as { [K in keyof T]: string };
    for (const key of Object.keys(catalog.languages['zh-CN']!) as (keyof T & string)[]) out[key] = this.raw(catalog, key);
    return out;
  }

  #language<T extends Texts>(catalog: Catalog<T>): Partial<Record<keyof T, string>> {
    const { languages } = catalog;
    return languages[this.locale] ?? languages[this.locale.split('-')[0]!] ?? {};
  }
}
