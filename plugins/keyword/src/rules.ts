/**
 * Keyword rules: what a rule is, how it is compiled once, and how a message is matched.
 */
import type { Context, Message, MessageType, ReplyInput } from '@wxbot/core';
import { fold, foldExact, MatchText } from './text.ts';

/** How a rule's string keywords are compared with the message text. */
export type MatchMode = 'exact' | 'contains' | 'regex';

/** What a reply function may return; nothing (or `[]`) declines, and matching goes on. */
export type ReplyResult = ReplyInput | readonly ReplyInput[] | undefined | null | void;

/**
 * A reply computed per message. `ctx.match` holds what matched: the `RegExpExecArray` of a
 * regex keyword (capture groups included) or the keyword string.
 */
export type ReplyFunction = (ctx: Context) => ReplyResult | Promise<ReplyResult>;

/** One reply, several (sent in order), or a function (options only, not rule files). */
export type RuleReply = ReplyInput | readonly ReplyInput[] | ReplyFunction;

/** A keyword rule as written in the options or a rule file. */
export interface KeywordRule {
  /** Shown in logs and error messages; default `rules[<index>]`. */
  name?: string;
  /**
   * What to look for. A `RegExp` (options only) is always matched as a regex. Omit it (or
   * give `[]`) for a rule that answers every message of its `types`.
   */
  keywords?: string | RegExp | ReadonlyArray<string | RegExp>;
  /** How string keywords match (default `'contains'`). */
  match?: MatchMode;
  /** Only on these channels, by kind (`'wecomKf'`) or configured name. Default: all. */
  channels?: readonly string[];
  /** Message types the rule looks at (default `['text']`). */
  types?: readonly MessageType[];
  reply: RuleReply;
}

/** Matches one keyword against a message text (folded once for all keywords). */
type Matcher = (text: MatchText) => RegExpExecArray | string | undefined;

/** A rule ready to match: regexes compiled, keywords folded, filters as sets. */
export interface CompiledRule {
  /** The rule's name, or `rules[<index>]`. */
  readonly label: string;
  /** `'options'`, or the rule file it came from. */
  readonly source: string;
  /** Empty: the rule matches any message of its types. */
  readonly matchers: readonly Matcher[];
  readonly channels: ReadonlySet<string> | undefined;
  readonly types: ReadonlySet<string>;
  readonly reply: RuleReply;
}

/** A rule that cannot be compiled (an invalid regex); `path` points inside the rule. */
export class RuleError extends Error {
  override readonly name = 'RuleError';
  constructor(
    message: string,
    readonly path: readonly (string | number)[],
  ) {
    super(message);
  }
}

function compileMatcher(keyword: string | RegExp, mode: MatchMode, label: string, index: number): Matcher {
  if (keyword instanceof RegExp || mode === 'regex') {
    let regex: RegExp;
    try {
      // `g`/`y` would make test() stateful across messages; `i` so latin text ignores case.
      regex = keyword instanceof RegExp ? new RegExp(keyword.source, keyword.flags.replace(/[gy]/g, '')) : new RegExp(keyword, 'i');
    } catch (error) {
      throw new RuleError(`rule "${label}" has an invalid regex ${JSON.stringify(String(keyword))}: ${(error as Error).message}`, ['keywords', index]);
    }
    return (text) => regex.exec(text.nfkc) ?? undefined;
  }
  if (mode === 'exact') {
    const wanted = foldExact(keyword);
    return (text) => (text.exact === wanted ? keyword : undefined);
  }
  const wanted = fold(keyword);
  return (text) => (text.folded.includes(wanted) ? keyword : undefined);
}

/**
 * Compiles a rule: regexes are built here, once, so an invalid one fails at start-up (or at
 * a rule file's reload) instead of on the first message. Throws {@link RuleError}.
 */
export function compileRule(rule: KeywordRule, label: string, source = 'options'): CompiledRule {
  const keywords = rule.keywords === undefined ? [] : Array.isArray(rule.keywords) ? rule.keywords : [rule.keywords as string | RegExp];
  const mode = rule.match ?? 'contains';
  return {
    label,
    source,
    matchers: keywords.map((k: string | RegExp, i: number) => compileMatcher(k, mode, label, i)),
    channels: rule.channels && rule.channels.length > 0 ? new Set(rule.channels) : undefined,
    types: new Set(rule.types ?? ['text']),
    reply: rule.reply,
  };
}

/**
 * The text a rule's keywords are matched against: the text of a text message, WeChat's own
 * transcript of a voice message, a link's or mini program's title, a location's label, a
 * file's name, an event's key (menu clicks, QR scans). Undefined when there is none.
 */
export function matchableText(message: Message): string | undefined {
  switch (message.type) {
    case 'text':
      return message.text;
    case 'voice':
      return message.recognition;
    case 'link':
    case 'miniprogram':
      return message.title;
    case 'location':
      return message.label;
    case 'file':
      return message.fileName;
    case 'event':
      return 'eventKey' in message ? message.eventKey : undefined;
    default:
      return undefined;
  }
}

/** What matched: the rule, its index, and the keyword or regex match (undefined for keyword-less rules). */
export interface RuleMatch {
  readonly rule: CompiledRule;
  readonly index: number;
  readonly match: RegExpExecArray | string | undefined;
}

/** Whether `rule` applies to `message` at all (type and channel), before keywords. */
function applies(rule: CompiledRule, message: Message): boolean {
  if (!rule.types.has(message.type)) return false;
  return !rule.channels || rule.channels.has(message.channel.kind) || rule.channels.has(message.channel.name);
}

/**
 * The first rule from `from` on that matches `message`, if any: the caller takes the first
 * whose reply does not decline, asking again from the next index. `prepared` is the message's
 * text already wrapped, to share its folding. (A plain loop, not a generator: it runs for
 * every message.)
 */
export function firstMatch(rules: readonly CompiledRule[], from: number, message: Message, prepared?: MatchText): RuleMatch | undefined {
  let text: MatchText | undefined;
  let textRead = false;
  for (let index = from; index < rules.length; index++) {
    const rule = rules[index] as CompiledRule;
    if (!applies(rule, message)) continue;
    if (rule.matchers.length === 0) return { rule, index, match: undefined };
    if (!textRead) {
      textRead = true;
      const raw = matchableText(message);
      text = raw === undefined ? undefined : prepared?.raw === raw ? prepared : new MatchText(raw);
    }
    if (text === undefined) continue;
    for (const matcher of rule.matchers) {
      const match = matcher(text);
      if (match !== undefined) return { rule, index, match };
    }
  }
  return undefined;
}

/** The replies a rule gives for this context; `[]` when a reply function declined. */
export async function resolveReply(reply: RuleReply, ctx: Context): Promise<readonly ReplyInput[]> {
  const result: ReplyResult = typeof reply === 'function' ? await reply(ctx) : reply;
  if (result === undefined || result === null) return [];
  return isList(result) ? result : [result];
}

function isList(value: ReplyInput | readonly ReplyInput[]): value is readonly ReplyInput[] {
  return Array.isArray(value);
}
