/**
 * Hand-off words: texts by which a user asks for a human.
 */
import { fold, foldExact } from './text.ts';

/** `'contains'`: the text contains a word; `'exact'`: the text is one (edge punctuation ignored). */
export type HandoffMatch = 'exact' | 'contains';

/** Returns a function giving the hand-off word a text matches, or undefined. */
export function handoffMatcher(words: readonly string[], mode: HandoffMatch): (text: string) => string | undefined {
  if (mode === 'exact') {
    const wanted = new Map(words.map((w) => [foldExact(w), w]));
    return (text) => wanted.get(foldExact(text));
  }
  const folded = words.map((w) => [fold(w), w] as const);
  return (text) => {
    const t = fold(text);
    return folded.find(([f]) => t.includes(f))?.[1];
  };
}
