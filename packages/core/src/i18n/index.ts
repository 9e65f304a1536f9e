export {
  defineCatalog,
  interpolate,
  I18n,
  DEFAULT_LOCALE,
  type Catalog,
  type Texts,
  type Locale,
  type I18nOptions,
  type ParamsOf,
  type PlaceholdersOf,
  type TextRef,
} from './catalog.ts';
export { coreTexts } from './coreTexts.ts';
