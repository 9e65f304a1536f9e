/**
 * `@wxbot/plugin-keyword`: keyword rules, an FAQ matched by similarity (built for Chinese)
 * and hand-off words, with rules in the options or in a JSON/YAML file reloaded on change.
 */
export { keyword } from './plugin.ts';
export { keywordTexts } from './texts.ts';
export {
  optionsSchema as keywordOptionsSchema,
  DEFAULT_HANDOFF_WORDS,
  DEFAULT_HANDOFF_REPLY,
  type KeywordOptions,
  type ResolvedKeywordOptions,
  type RuleFileContent,
} from './schema.ts';
export { DEFAULT_FAQ_THRESHOLD, type FaqEntry, type FaqAnswer } from './faq.ts';
export type { KeywordRule, MatchMode, HandoffMatch, RuleReply, ReplyFunction, ReplyResult, CompiledRule } from './rules.ts';
export { FaqIndex, similarity, featuresOf, normalizeForSimilarity, type FaqHit, type FaqIndexEntry, type Features } from './similarity.ts';
export { loadRuleFile, RuleFileError, type RuleFileKind } from './ruleFile.ts';
export { cannedRepliesFrom, type CannedReply } from './canned.ts';
