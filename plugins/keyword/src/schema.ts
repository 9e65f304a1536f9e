/**
 * zod schemas for the plugin options and for rule files. Rules are compiled inside the
 * schema (a transform), so an invalid regex is reported as an option error at start-up with
 * its path, and a rule file that fails does so before it replaces anything.
 */
import type { MessageType, Reply, ReplyInput } from '@wxbot/core';
import { z } from 'zod';
import { DEFAULT_FAQ_THRESHOLD, type FaqEntry } from './faq.ts';
import { keywordTexts } from './texts.ts';
import { compileRule, RuleError, type CompiledRule, type HandoffMatch, type KeywordRule, type ReplyFunction } from './rules.ts';

const MESSAGE_TYPES = [
  'text',
  'mixed',
  'image',
  'voice',
  'video',
  'shortvideo',
  'location',
  'link',
  'file',
  'miniprogram',
  'business_card',
  'msgmenu',
  'channels',
  'channels_shop_product',
  'channels_shop_order',
  'merged_msg',
  'event',
  'other',
] as const satisfies readonly MessageType[];
// Fails to compile if core grows a message type this list lacks.
type Missing = Exclude<MessageType, (typeof MESSAGE_TYPES)[number]>;
const _noneMissing: [Missing] extends [never] ? true : Missing = true;
void _noneMissing;

const nonBlank = z.string().refine((s) => s.trim() !== '', 'must not be empty');
const optionalText = z.string().optional();

const article = z.strictObject({ title: z.string(), description: optionalText, picUrl: optionalText, url: optionalText });

/** Every reply the core can send, as a plain object (so rule files can hold them too). */
export const replySchema = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('text'), text: nonBlank }),
  z.strictObject({ type: z.literal('image'), mediaId: nonBlank }),
  z.strictObject({ type: z.literal('voice'), mediaId: nonBlank }),
  z.strictObject({ type: z.literal('video'), mediaId: nonBlank, title: optionalText, description: optionalText }),
  z.strictObject({
    type: z.literal('music'),
    thumbMediaId: nonBlank,
    title: optionalText,
    description: optionalText,
    musicUrl: optionalText,
    hqMusicUrl: optionalText,
  }),
  z.strictObject({ type: z.literal('news'), articles: z.array(article).min(1) }),
  z.strictObject({ type: z.literal('file'), mediaId: nonBlank }),
  z.strictObject({ type: z.literal('markdown'), text: nonBlank }),
  z.strictObject({ type: z.literal('templateCard'), card: z.looseObject({ card_type: nonBlank, task_id: optionalText }) }),
]) satisfies z.ZodType<Reply>;

/**
 * zod's own message for a union that failed is "Invalid input". Say instead what the
 * alternative that got furthest (a reply object missing its `mediaId`, say) is missing,
 * or else what was expected.
 */
function unionError(expected: string) {
  return (issue: { code?: string; errors?: readonly (readonly z.core.$ZodIssue[])[] }): string | undefined => {
    if (issue.code !== 'invalid_union') return undefined;
    // A type mismatch at an alternative's root only says that alternative did not apply.
    const deeper = leaves(issue.errors ?? []).find((i) => i.path.length > 0 || (i.code !== 'invalid_type' && !TYPE_MISMATCH.has(i.message)));
    if (!deeper) return `expected ${expected}`;
    return deeper.path.length > 0 ? `${deeper.path.map(String).join('.')}: ${deeper.message}` : deeper.message;
  };
}

/** The issues of a union's alternatives, with nested unions opened up (paths joined). */
function leaves(errors: readonly (readonly z.core.$ZodIssue[])[], prefix: readonly PropertyKey[] = []): z.core.$ZodIssue[] {
  return errors.flat().flatMap((i) => {
    const path = [...prefix, ...i.path];
    return i.code === 'invalid_union' ? leaves(i.errors, path) : [{ ...i, path }];
  });
}

const REPLY = 'a text or a reply object ({ type: "image", mediaId }, { type: "news", articles }, …)';

/** A string (text reply) or a reply object. */
export const replyInputSchema = z.union([nonBlank, replySchema], { error: unionError(REPLY) });
const replyListSchema = z.union([replyInputSchema, z.array(replyInputSchema).min(1)], { error: unionError(`${REPLY}, or a list of them`) });
const NOT_A_FUNCTION = 'expected a function';
const NOT_A_REGEXP = 'expected a RegExp';
/** Messages of custom checks that, like zod's invalid_type, only say "not this kind of value". */
const TYPE_MISMATCH = new Set([NOT_A_FUNCTION, NOT_A_REGEXP]);
const replyFunctionSchema = z.custom<ReplyFunction>((v) => typeof v === 'function', NOT_A_FUNCTION);

const keywordSchema = z.union([nonBlank, z.instanceof(RegExp, { message: NOT_A_REGEXP })], { error: unionError('a string or a RegExp') });

// YAML reads `keywords: [618, 双11]` as a number and a string; a keyword is text either way.
const fileKeywordSchema = z.union([nonBlank, z.number().transform(String)], { error: unionError('a keyword') });

function ruleShape(fromFile: boolean) {
  const keyword = fromFile ? fileKeywordSchema : keywordSchema;
  return z.strictObject({
    name: z.string().optional(),
    keywords: z.union([keyword, z.array(keyword)], { error: unionError('a keyword or a list of keywords') }).optional(),
    match: z.enum(['exact', 'contains', 'regex']).optional(),
    channels: z.array(nonBlank).optional(),
    types: z.array(z.enum(MESSAGE_TYPES)).min(1).optional(),
    reply: fromFile ? replyListSchema : z.union([replyListSchema, replyFunctionSchema], { error: unionError(`${REPLY}, a list of them, or a function`) }),
  });
}

/** A list of rules, compiled; `source` is where they come from: 'options' or a file. */
function rulesSchema(fromFile: boolean, source: string) {
  return z.array(ruleShape(fromFile)).transform((rules, ctx): CompiledRule[] => {
    const compiled: CompiledRule[] = [];
    rules.forEach((rule, i) => {
      const label = rule.name ?? `rules[${i}]`;
      try {
        compiled.push(compileRule(rule as KeywordRule, label, source));
      } catch (error) {
        if (!(error instanceof RuleError)) throw error;
        ctx.issues.push({ code: 'custom', message: error.message, input: rule, path: [i, ...error.path] });
      }
    });
    return compiled;
  });
}

const faqEntrySchema = z.strictObject({
  question: z.union([nonBlank, z.array(nonBlank).min(1)], { error: unionError('a question or a list of its wordings') }),
  answer: replyListSchema,
}) satisfies z.ZodType<FaqEntry>;

/** The default hand-off words. */
export const DEFAULT_HANDOFF_WORDS = ['人工', '客服', '转人工', '人工客服'];
/** The default text sent when handing off, in zh-CN (other languages: `keywordTexts`). */
export const DEFAULT_HANDOFF_REPLY = keywordTexts.languages['zh-CN']!.handoff;

/** The plugin's options, as written in bot.config.ts. */
export interface KeywordOptions {
  /** Keyword rules, tried in order, before any file's rules. */
  rules?: readonly KeywordRule[];
  /** FAQ entries, indexed together with any file's. */
  faq?: readonly FaqEntry[];
  /** Minimum similarity (0–1) for an FAQ answer (default {@link DEFAULT_FAQ_THRESHOLD}). */
  faqThreshold?: number;
  /**
   * A JSON or YAML file of rules and FAQ entries (`{ rules, faq }`, or a bare list of
   * rules), read at start and again whenever it changes. Relative to the working directory.
   */
  rulesFile?: string;
  /** A JSON or YAML file of FAQ entries (`{ faq }`, or a bare list of entries), likewise. */
  faqFile?: string;
  /** Reload the files when they change (default true). */
  watch?: boolean;
  /** Quiet time after the last change event before a file is re-read (ms, default 150). */
  watchDebounceMs?: number;
  /** Texts that ask for a human (default {@link DEFAULT_HANDOFF_WORDS}); `[]` turns hand-off off. */
  handoffWords?: readonly string[];
  /**
   * `'contains'` (default): the text contains a hand-off word, as "我要转人工".
   * `'exact'`: the text is one (edge punctuation ignored), so "人工智能" does not hand off.
   */
  handoffMatch?: HandoffMatch;
  /** Sent before handing off (default: the `keyword.handoff` text in the bot's language); `false` sends nothing. */
  handoffReply?: ReplyInput | readonly ReplyInput[] | false;
  /** KF: a servicer's userid to hand to; without it, the waiting pool. */
  handoffServicer?: string;
  /**
   * The last resort for texts nothing answered (no rule, no FAQ entry, and no plugin after
   * this one): a short "没听懂" naming what the bot can answer and the first hand-off word.
   * `true` names the first wording of up to {@link FALLBACK_TOPICS} FAQ entries; `{ topics }`
   * names these instead. Default off, so an LLM after this plugin gets the text.
   */
  fallback?: boolean | { topics?: readonly string[] };
}

/** How many FAQ questions the fallback names when no topics are given. */
export const FALLBACK_TOPICS = 6;

const schema = z.strictObject({
  rules: rulesSchema(false, 'options').default([]),
  faq: z.array(faqEntrySchema).default([]),
  faqThreshold: z.number().min(0).max(1).default(DEFAULT_FAQ_THRESHOLD),
  rulesFile: nonBlank.optional(),
  faqFile: nonBlank.optional(),
  watch: z.boolean().default(true),
  watchDebounceMs: z.number().int().min(0).max(60_000).default(150),
  handoffWords: z.array(nonBlank).default(DEFAULT_HANDOFF_WORDS),
  handoffMatch: z.enum(['exact', 'contains']).default('contains'),
  handoffReply: z.union([replyListSchema, z.literal(false)], { error: unionError(`${REPLY}, a list of them, or false`) }).optional(),
  handoffServicer: nonBlank.optional(),
  fallback: z.union([z.boolean(), z.strictObject({ topics: z.array(nonBlank).optional() })]).default(false),
});

/** Options after defaults, with rules compiled. */
export type ResolvedKeywordOptions = z.output<typeof schema>;

/**
 * The options schema. Its input type is {@link KeywordOptions}, written out by hand so that
 * core's readonly `Reply` values (from `replies.news(…)`, say) are accepted as they are.
 */
export const optionsSchema = schema as unknown as z.ZodType<ResolvedKeywordOptions, KeywordOptions>;

/** What one rule file holds once validated and compiled. */
export interface RuleFileContent {
  readonly rules: CompiledRule[];
  readonly faq: FaqEntry[];
}

/** The schema of a rule file; `path` is kept on its rules so logs say where a rule lives. */
export function ruleFileSchema(path: string): z.ZodType<RuleFileContent> {
  return z
    .strictObject({ rules: rulesSchema(true, path).default([]), faq: z.array(faqEntrySchema).default([]) })
    .transform((content) => ({ rules: content.rules, faq: content.faq }));
}
