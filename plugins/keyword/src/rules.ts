/**
 * Keyword rules: what a rule is, how it is compiled once, and how a message is matched.
 */
import type { Context, Message, MessageType, ReplyInput } from '@wxbot/core';
import { Occurrences } from './occurrences.ts';
import { fold, foldExact, MatchText } from './text.ts';

/** How a rule's string keywords are compared with the message text. */
export type MatchMode = 'exact' | 'contains' | 'regex';

/** How hand-off words match: `'contains'`: the text contains a word; `'exact'`: the text is one (edge punctuation ignored). */
export type HandoffMatch = Exclude<MatchMode, 'regex'>;

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

/** One keyword of a compiled rule: what it is, and what the text is compared with. */
export type CompiledKeyword =
  | { readonly mode: 'contains' | 'exact'; readonly keyword: string; readonly wanted: string }
  | { readonly mode: 'regex'; readonly keyword: string | RegExp; readonly regex: RegExp };

/** A rule ready to match: regexes compiled, keywords folded, filters as sets. */
export interface CompiledRule {
  /** The rule's name, or `rules[<index>]`. */
  readonly label: string;
  /** `'options'`, or the rule file it came from. */
  readonly source: string;
  /** Empty: the rule matches any message of its types. */
  readonly matchers: readonly Matcher[];
  /** The keywords the matchers test, in order ({@link RuleSet} matches them all at once). */
  readonly keywords: readonly CompiledKeyword[];
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

function compileKeyword(keyword: string | RegExp, mode: MatchMode, label: string, index: number): CompiledKeyword {
  if (keyword instanceof RegExp || mode === 'regex') {
    let regex: RegExp;
    try {
      // `g`/`y` would make test() stateful across messages; `i` so latin text ignores case.
      regex = keyword instanceof RegExp ? new RegExp(keyword.source, keyword.flags.replace(/[gy]/g, '')) : new RegExp(keyword, 'i');
    } catch (error) {
      throw new RuleError(`rule "${label}" has an invalid regex ${JSON.stringify(String(keyword))}: ${(error as Error).message}`, ['keywords', index]);
    }
    return { mode: 'regex', keyword, regex };
  }
  return { mode, keyword, wanted: mode === 'exact' ? foldExact(keyword) : fold(keyword) };
}

function matcherOf(k: CompiledKeyword): Matcher {
  if (k.mode === 'regex') {
    const { regex } = k;
    return (text) => regex.exec(text.nfkc) ?? undefined;
  }
  const { keyword, wanted } = k;
  if (k.mode === 'exact') return (text) => (text.exact === wanted ? keyword : undefined);
  return (text) => (text.folded.includes(wanted) ? keyword : undefined);
}

/**
 * Compiles a rule: regexes are built here, once, so an invalid one fails at start-up (or at
 * a rule file's reload) instead of on the first message. Throws {@link RuleError}.
 */
export function compileRule(rule: KeywordRule, label: string, source = 'options'): CompiledRule {
  const keywords = rule.keywords === undefined ? [] : Array.isArray(rule.keywords) ? rule.keywords : [rule.keywords as string | RegExp];
  const mode = rule.match ?? 'contains';
  const compiled = keywords.map((k: string | RegExp, i: number) => compileKeyword(k, mode, label, i));
  return {
    label,
    source,
    matchers: compiled.map(matcherOf),
    keywords: compiled,
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
 * A list of rules compiled into one matcher: the `contains` keywords of every rule are looked
 * for in one pass over the folded text ({@link Occurrences}), the `exact` ones with one map
 * lookup, and only the rules with a keyword found, a regex or no keyword at all are looked at
 * one by one. Same answers as trying every rule's keywords in order ({@link firstMatch}).
 */
export class RuleSet {
  readonly rules: readonly CompiledRule[];
  /** Each keyword of each rule, in order, numbered: rule `r`'s are `#firstKeyword[r]` up to `#firstKeyword[r + 1]`. */
  readonly #keywords: CompiledKeyword[] = [];
  readonly #firstKeyword: number[] = [];
  /** The `contains` keywords' folded forms, and the number of each. */
  readonly #contains: Occurrences;
  readonly #containsIds: number[] = [];
  /** An `exact` keyword's folded form → the numbers of the keywords that are it, ascending. */
  readonly #exact = new Map<string, number[]>();
  /**
   * The longest of them: a longer text is none of them, so it is not looked up (the lookup
   * hashes the whole text, which most texts are too long to need).
   */
  #longestExact = -1;
  /** The rules that must be looked at whatever the text: a regex keyword, or none. */
  readonly #always: number[] = [];
  /** Keyword number → its rule. */
  readonly #ruleOf: number[] = [];

  constructor(rules: readonly CompiledRule[]) {
    this.rules = rules;
    const contains: string[] = [];
    rules.forEach((rule, r) => {
      this.#firstKeyword.push(this.#keywords.length);
      if (rule.keywords.length === 0 || rule.keywords.some((k) => k.mode === 'regex')) this.#always.push(r);
      for (const k of rule.keywords) {
        const id = this.#keywords.push(k) - 1;
        this.#ruleOf.push(r);
        if (k.mode === 'contains') {
          contains.push(k.wanted);
          this.#containsIds.push(id);
        } else if (k.mode === 'exact') {
          let ids = this.#exact.get(k.wanted);
          if (!ids) this.#exact.set(k.wanted, (ids = []));
          this.#longestExact = Math.max(this.#longestExact, k.wanted.length);
          ids.push(id);
        }
      }
    });
    this.#firstKeyword.push(this.#keywords.length);
    this.#contains = new Occurrences(contains);
  }

  /**
   * The first rule from `from` on that matches `message`, if any: the caller takes the first
   * whose reply does not decline, asking again from the next index. `prepared` is the
   * message's text already wrapped, to share its folding and what was found in it.
   */
  firstMatch(from: number, message: Message, prepared?: MatchText): RuleMatch | undefined {
    const { rules } = this;
    // Rule by rule up to the first that applies and has keywords, as firstMatch: the text is read there.
    let index = from;
    for (; index < rules.length; index++) {
      const rule = rules[index] as CompiledRule;
      if (!applies(rule, message)) continue;
      if (rule.keywords.length === 0) return { rule, index, match: undefined };
      break;
    }
    if (index >= rules.length) return undefined;
    const raw = matchableText(message);
    const text = raw === undefined ? undefined : prepared?.raw === raw ? prepared : new MatchText(raw);
    const found = text === undefined ? undefined : this.#found(text);
    // From there, only the rules of `#always` and those of a keyword found, ascending.
    const always = this.#always;
    const ruleOf = this.#ruleOf;
    let a = 0;
    while (a < always.length && always[a]! < index) a++;
    let f = 0;
    for (;;) {
      if (found !== undefined) while (f < found.length && ruleOf[found[f]!]! < index) f++;
      const fromAlways = a < always.length ? always[a]! : rules.length;
      const fromFound = found !== undefined && f < found.length ? ruleOf[found[f]!]! : rules.length;
      const r = Math.min(fromAlways, fromFound);
      if (r >= rules.length) return undefined;
      if (r === fromAlways) a++;
      index = r + 1;
      const rule = rules[r] as CompiledRule;
      if (!applies(rule, message)) continue;
      if (rule.keywords.length === 0) return { rule, index: r, match: undefined };
      if (text === undefined) continue;
      const end = this.#firstKeyword[r + 1]!;
      for (let id = this.#firstKeyword[r]!; id < end; id++) {
        const k = this.#keywords[id]!;
        if (k.mode === 'regex') {
          const match = k.regex.exec(text.nfkc);
          if (match) return { rule, index: r, match };
        } else if (found?.includes(id)) {
          return { rule, index: r, match: k.keyword };
        }
      }
    }
  }

  /**
   * False when the text's {@link MatchText.exact} form is surely longer than every `exact`
   * keyword: the folded text is, and both its ends are characters `exact` never strips (an ASCII
   * letter or digit, a common Han character), so it is the exact form. Asked of two code units,
   * not by stripping the edges (a getter, a function and four of its helpers a message): most
   * texts are such texts.
   */
  #mayBeExact(folded: string): boolean {
    const last = folded.length - 1;
    if (last < this.#longestExact) return true;
    const a = folded.charCodeAt(0);
    const z = folded.charCodeAt(last);
    const plainA = (a >= 0x61 && a <= 0x7a) || (a >= 0x30 && a <= 0x39) || (a >= 0x4e00 && a <= 0x9fff);
    const plainZ = (z >= 0x61 && z <= 0x7a) || (z >= 0x30 && z <= 0x39) || (z >= 0x4e00 && z <= 0x9fff);
    return !(plainA && plainZ);
  }

  /** The numbers of the `contains` and `exact` keywords the text matches, ascending; once a text. */
  #found(text: MatchText): readonly number[] | undefined {
    if (text.rulesOf === this) return text.rulesFound;
    let found: number[] | undefined;
    const contains = this.#contains.size > 0 ? this.#contains.all(text.folded) : undefined;
    if (contains) {
      // Mapped in place (all() made the array for this call), not by `map`: an array `map`
      // makes in TurboFan's code is holey, one it makes in the interpreter packed, and
      // firstMatch's reads of `found` were deoptimized ("wrong map") when the first holey one
      // came, thousands of messages in, then compiled again (~8 KB of machine code).
      const ids = this.#containsIds;
      for (let j = 0; j < contains.length; j++) contains[j] = ids[contains[j]!]!;
      found = contains;
    }
    const exact = this.#exact.size > 0 && this.#mayBeExact(text.folded) && text.exact.length <= this.#longestExact ? this.#exact.get(text.exact) : undefined;
    if (exact) {
      found = found ? [...found, ...exact] : [...exact];
      found.sort((x, y) => x - y);
    }
    text.rulesOf = this;
    text.rulesFound = found;
    return found;
  }
}

/**
 * The first rule from `from` on that matches `message`, trying each rule's keywords in turn
 * (the reference {@link RuleSet.firstMatch} is tested against).
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
