/**
 * Hand-off words: texts by which a user asks for a human.
 */
import { fold, foldExact, type MatchText } from './text.ts';

/** `'contains'`: the text contains a word; `'exact'`: the text is one (edge punctuation ignored). */
export type HandoffMatch = 'exact' | 'contains';

/** Returns a function giving the hand-off word a text matches, or undefined. */
export function handoffMatcher(words: readonly string[], mode: HandoffMatch): (text: MatchText) => string | undefined {
  if (mode === 'exact') {
    const wanted = new Map(words.map((w) => [foldExact(w), w]));
    return (text) => wanted.get(text.exact);
  }
  const folded = words.map((w) => [fold(w), w] as const);
  return (text) => {
    const t = text.folded;
    for (const [f, word] of folded) if (t.includes(f)) return word;
    return undefined;
  };
}
