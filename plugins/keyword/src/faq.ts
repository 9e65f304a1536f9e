/**
 * FAQ entries and their index.
 */
import type { ReplyInput } from '@wxbot/core';
import { FaqIndex, type FaqHit } from './similarity.ts';

/** A question (with paraphrases) and its answer. */
export interface FaqEntry {
  /** The question, or several wordings of it; more wordings catch more paraphrases. */
  question: string | readonly string[];
  /** One reply or several, sent in order. */
  answer: ReplyInput | readonly ReplyInput[];
}

/** What an FAQ hit answers with, and where the entry came from (for logs). */
export interface FaqAnswer {
  readonly answer: readonly ReplyInput[];
  readonly source: string;
}

/** Default minimum similarity for an FAQ answer; see the README for how it was chosen. */
export const DEFAULT_FAQ_THRESHOLD = 0.5;

/** Builds the index over every entry (options first, then files); done once per (re)load. */
export function buildFaqIndex(groups: readonly { source: string; entries: readonly FaqEntry[] }[]): FaqIndex<FaqAnswer> {
  return new FaqIndex(
    groups.flatMap(({ source, entries }) =>
      entries.map((entry) => ({
        questions: typeof entry.question === 'string' ? [entry.question] : entry.question,
        value: { source, answer: typeof entry.answer === 'string' || !Array.isArray(entry.answer) ? [entry.answer as ReplyInput] : entry.answer },
      })),
    ),
  );
}

export type { FaqHit };
