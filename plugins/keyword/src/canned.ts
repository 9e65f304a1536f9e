import type { ReplyInput } from '@wxbot/core';
import { loadRuleFile } from './ruleFile.ts';
import type { RuleReply } from './rules.ts';

/** A ready-made answer for an agent console: what the picker shows, and the text it fills in. */
export interface CannedReply {
  readonly label: string;
  readonly text: string;
}

/**
 * The text answers of a rule/FAQ file as canned replies for the agent console (`handoff({
 * cannedReplies })`): each FAQ entry under its first wording, then each named rule whose reply
 * is text. Replies that are not text (images, news) are left out; several texts are joined by
 * a blank line. Read on each call, so a console page loaded after an edit gets the new answers.
 *
 * ```ts
 * handoff({ token, cannedReplies: () => cannedRepliesFrom('rules.yaml') })
 * ```
 */
export async function cannedRepliesFrom(file: string): Promise<CannedReply[]> {
  const content = await loadRuleFile(file, 'rules');
  const out: CannedReply[] = [];
  for (const entry of content.faq) {
    const label = typeof entry.question === 'string' ? entry.question : entry.question[0];
    const text = textOf(entry.answer);
    if (label && text) out.push({ label, text });
  }
  for (const rule of content.rules) {
    if (rule.label.startsWith('rules[')) continue; // unnamed: nothing to show in a picker
    const text = textOf(rule.reply);
    if (text) out.push({ label: rule.label, text });
  }
  return out;
}

function textOf(reply: RuleReply): string | undefined {
  if (typeof reply === 'function') return undefined;
  const replies: readonly ReplyInput[] = Array.isArray(reply) ? reply : [reply as ReplyInput];
  const texts = replies.map((r) => (typeof r === 'string' ? r : r.type === 'text' ? r.text : undefined));
  if (texts.some((t) => t === undefined)) return undefined;
  const joined = texts.join('\n\n').trim();
  return joined || undefined;
}
