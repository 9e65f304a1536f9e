/**
 * Hand-off words: texts by which a user asks for a human.
 */
import { Occurrences } from './occurrences.ts';
import { fold, foldExact, type MatchText } from './text.ts';

/** `'contains'`: the text contains a word; `'exact'`: the text is one (edge punctuation ignored). */
export type HandoffMatch = 'exact' | 'contains';

/** Returns a function giving the hand-off word a text matches, or undefined. */
export function handoffMatcher(words: readonly string[], mode: HandoffMatch): (text: MatchText) => string | undefined {
  if (mode === 'exact') {
    const wanted = new Map(words.map((w) => [foldExact(w), w]));
    return (text) => wanted.get(text.exact);
  }
  // The first word, in the given order, that the text contains: all looked for in one pass.
  const occurrences = new Occurrences(words.map(fold));
  return (text) => {
    const i = occurrences.first(text.folded);
    return i < 0 ? undefined : words[i];
  };
}
