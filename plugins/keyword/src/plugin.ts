/**
 * The keyword plugin: hand-off words, then keyword rules, then the FAQ, else `next()`.
 */
import { resolve } from 'node:path';
import { definePlugin, type Context, type ReplyInput } from '@wxbot/core';
import { buildFaqIndex, type FaqAnswer } from './faq.ts';
import { compileRule, resolveReply, RuleSet, type RuleMatch } from './rules.ts';
import type { RuleFileKind } from './ruleFile.ts';
import { FALLBACK_TOPICS, optionsSchema } from './schema.ts';
import type { FaqHit, FaqIndex } from './similarity.ts';
import { RuleSource } from './source.ts';
import { MatchText } from './text.ts';
import { keywordTexts } from './texts.ts';

/** Everything a message is matched against, swapped whole on reload. */
interface Snapshot {
  readonly rules: RuleSet;
  readonly faq: FaqIndex<FaqAnswer>;
}

/**
 * Answers by keyword rules and an FAQ, and hands the conversation to a human on request:
 *
 * ```ts
 * keyword({
 *   rules: [{ keywords: ['价格', '多少钱'], reply: '价格请见：https://example.com/price' }],
 *   faq: [{ question: ['你们几点开门', '营业时间'], answer: '每天 9:00–21:00' }],
 *   rulesFile: 'examples/faq/rules.yaml', // reloaded when it changes
 * })
 * ```
 *
 * For a text message, in order: a hand-off word (reply, then `ctx.handoff`), the first
 * matching rule (option rules, then file rules), the most similar FAQ entry at or above
 * `faqThreshold`. Other message types only meet rules that list their type. What nothing
 * answers goes on with `next()`, to an LLM plugin, say.
 */
export const keyword = definePlugin({
  name: 'keyword',
  options: optionsSchema,
  async setup(bot, options) {
    const sources = ruleSources(options.rulesFile, options.faqFile).map(({ file, kind }) => new RuleSource({ file, kind, log: bot.log, onUpdate: () => (snapshot = build()) }));
    // The hand-off words are the rule set's first rule (text messages, their match mode): one
    // pass over the text looks for them and for every rule's keywords. A match of this rule is
    // a hand-off, never a reply.
    const handoffRule =
      options.handoffWords.length > 0 ? compileRule({ keywords: options.handoffWords, match: options.handoffMatch, types: ['text'], reply: [] }, 'hand-off words') : undefined;
    const build = (): Snapshot => ({
      rules: new RuleSet([...(handoffRule ? [handoffRule] : []), ...options.rules, ...sources.flatMap((s) => s.content.rules)]),
      faq: buildFaqIndex([{ source: 'options', entries: options.faq }, ...sources.map((s) => ({ source: s.file, entries: s.content.faq }))]),
    });
    let snapshot = build();
    // Watch first, so a change made while the files load is not missed. A file that fails
    // to load now is logged and tried again on its next change.
    if (options.watch) for (const source of sources) source.watch(options.watchDebounceMs);
    await Promise.all(sources.map((s) => s.reload()));

    const handoffReplies = (ctx: Context): readonly ReplyInput[] =>
      options.handoffReply === false ? [] : options.handoffReply === undefined ? [ctx.t(keywordTexts, 'handoff')] : list(options.handoffReply);

    async function handOff(ctx: Context, word: string): Promise<void> {
      if (!ctx.canHandoff) {
        // Nobody takes hand-offs here (no agent console, not a KF session): promising a
        // person would leave the user waiting for no one. Say so; the event still fires.
        ctx.log.warn({ word }, 'hand-off word, but nobody can take the conversation (no agent console, not a KF session): the user is told');
        if (options.handoffReply !== false) await ctx.reply(ctx.t(keywordTexts, 'noHuman'));
        await ctx.handoff({ reason: 'keyword', ...(options.handoffServicer && { servicerUserId: options.handoffServicer }) });
        return;
      }
      ctx.log.info({ word }, 'hand-off word: handing the conversation to a human');
      // Reply first: on KF the bot may only send while it still holds the session. A failed
      // reply must not stop the hand-off the user asked for.
      try {
        for (const reply of handoffReplies(ctx)) await ctx.reply(reply);
      } catch (error) {
        ctx.log.error({ err: error }, 'hand-off reply failed; handing off anyway');
      }
      await ctx.handoff({ reason: 'keyword', ...(options.handoffServicer && { servicerUserId: options.handoffServicer }) });
    }

    // At start, with every plugin set up: hand-off words on a channel where nobody takes
    // hand-offs only ever get the "no human" answer. Say it once, with the fix.
    if (options.handoffWords.length > 0) {
      bot.onServer(() => {
        const nobody = Object.entries(bot.handoffTargets())
          .filter(([, target]) => target === 'nobody')
          .map(([name]) => name);
        if (nobody.length > 0)
          bot.log.warn(
            { channels: nobody, words: options.handoffWords.slice(0, 5) },
            "hand-off words are on, but nobody can receive a hand-off on these channels: add handoff() of @wxbot/plugin-handoff (an agent console; the repository's bot.config.ts and `npm create wxbot` projects turn it on with AGENT_TOKEN) or use a KF channel. Until then users asking for a human are told none is available; handoffWords: [] turns the words off",
          );
      });
    }

    // Promise callbacks, not async frames, on the way most messages take (no rule, no FAQ
    // entry: on to next()); what answers goes through the async functions below.
    // One text kept while the plugin lives, so that V8 keeps MatchText's map across full GCs:
    // with none alive at a mark-compact it was cleared and the code compiled against it (firstMatch,
    // byFaqOrNext, `folded`…) deoptimized (see @wxbot/core's Inbound #exemplar).
    const kept: { text?: MatchText } = {};
    bot.use((ctx, next) => {
      const { message } = ctx;
      // The text is folded once here for the hand-off words, every rule's keywords and the FAQ.
      const text = message.type === 'text' ? new MatchText(message.text) : undefined;
      kept.text ??= text;
      // One snapshot per message, so a reload in the middle cannot mix two rule sets.
      const current = snapshot;
      const first = current.rules.firstMatch(0, message, text);
      if (first !== undefined) return first.rule === handoffRule ? handOff(ctx, first.match as string) : byRules(ctx, next, current, text, first);
      return byFaqOrNext(ctx, next, current, text);
    });

    /** The matching rules in order, from the first; the FAQ and the rest when all decline. */
    async function byRules(ctx: Context, next: () => Promise<void>, current: Snapshot, text: MatchText | undefined, first: RuleMatch): Promise<void> {
      const previousMatch = ctx.match;
      for (let found: RuleMatch | undefined = first; found; found = current.rules.firstMatch(found.index + 1, ctx.message, text)) {
        const { rule, match } = found;
        ctx.match = match;
        const replies = await resolveReply(rule.reply, ctx);
        if (replies.length === 0) continue; // a reply function declined
        // Checked first: ctx.log makes the message's child logger, for a line that is mostly off.
        if (bot.log.isLevelEnabled('debug')) ctx.log.debug({ rule: rule.label, source: rule.source }, 'keyword rule matched');
        for (const reply of replies) await ctx.reply(reply);
        return;
      }
      ctx.match = previousMatch;
      await byFaqOrNext(ctx, next, current, text);
    }

    function byFaqOrNext(ctx: Context, next: () => Promise<void>, current: Snapshot, text: MatchText | undefined): Promise<void> {
      const { message } = ctx;
      if (text && current.faq.size > 0) {
        const hit = current.faq.best(text.raw, options.faqThreshold, text.folded);
        if (hit) return answerFaq(ctx, hit);
      }
      const rest = next();
      if (!options.fallback) return rest;
      // Nothing after this plugin answered either: say so, and what the bot can answer.
      return rest.then(() => {
        if (ctx.replies === 0 && message.type === 'text' && !message.command) return ctx.reply(notUnderstood(ctx, current));
      });
    }

    function answerFaq(ctx: Context, hit: FaqHit<FaqAnswer>): Promise<void> {
      if (bot.log.isLevelEnabled('debug')) ctx.log.debug({ question: hit.question, score: hit.score, source: hit.value.source }, 'FAQ matched');
      const answers = hit.value.answer;
      // One answer (nearly every entry): the reply's own promise (ctx.reply never throws), not an
      // async frame awaiting it: a fifth of the bench's messages are answered here.
      return answers.length === 1 ? ctx.reply(answers[0]!) : replyInTurn(ctx, answers);
    }

    // The fallback text depends only on the rules loaded and the bot's language: built once per
    // (rules, language) instead of four text lookups and a join on every message it answers.
    const fallbackTexts = new WeakMap<Snapshot, WeakMap<Context['i18n'], string>>();
    function notUnderstood(ctx: Context, current: Snapshot): string {
      let byLanguage = fallbackTexts.get(current);
      if (!byLanguage) fallbackTexts.set(current, (byLanguage = new WeakMap()));
      let text = byLanguage.get(ctx.i18n);
      if (text === undefined) byLanguage.set(ctx.i18n, (text = buildNotUnderstood(ctx, current)));
      return text;
    }

    function buildNotUnderstood(ctx: Context, current: Snapshot): string {
      const fallback = options.fallback;
      const topics = typeof fallback === 'object' && fallback.topics ? fallback.topics : current.faq.firstWordings(FALLBACK_TOPICS);
      const word = options.handoffWords[0];
      return (
        ctx.t(keywordTexts, 'notUnderstood') +
        (topics.length > 0 ? ctx.t(keywordTexts, 'askAbout', { topics: topics.join(ctx.t(keywordTexts, 'topicSeparator')) }) : '') +
        (word ? ctx.t(keywordTexts, 'askHuman', { word }) : '')
      );
    }

    return async () => {
      await Promise.all(sources.map((s) => s.close()));
    };
  },
});

/** Each reply after the one before it is delivered. */
async function replyInTurn(ctx: Context, replies: readonly ReplyInput[]): Promise<void> {
  for (const reply of replies) await ctx.reply(reply);
}

/** The files to load; one source when both options name the same file. */
function ruleSources(rulesFile: string | undefined, faqFile: string | undefined): { file: string; kind: RuleFileKind }[] {
  const out: { file: string; kind: RuleFileKind }[] = [];
  if (rulesFile) out.push({ file: rulesFile, kind: 'rules' });
  if (faqFile && !(rulesFile && resolve(rulesFile) === resolve(faqFile))) out.push({ file: faqFile, kind: 'faq' });
  return out;
}

function list(reply: ReplyInput | readonly ReplyInput[]): readonly ReplyInput[] {
  return Array.isArray(reply) ? reply : [reply as ReplyInput];
}
