import type { Command } from './types.ts';

/** Parses `/name a b` into a command; undefined when the text is not one. */
export function parseCommand(text: string): Command | undefined {
  // Most texts are not commands: skip the regex unless a '/' leads (after spaces). A first
  // character that \s cannot match (U+0021-U+009F, above U+3000 but U+FEFF: a word, a CJK
  // character) settles it without the regex (~300 instructions a message).
  const first = text.charCodeAt(0);
  if (first !== 0x2f && ((first > 0x20 && first < 0xa0) || (first > 0x3000 && first !== 0xfeff) || !/^\s+\//.test(text))) return undefined;
  const match = /^\/([^\s/]+)(?:\s+([\s\S]*))?$/.exec(text.trim());
  if (!match) return undefined;
  const argsText = (match[2] ?? '').trim();
  return { name: match[1]!.toLowerCase(), args: argsText ? argsText.split(/\s+/) : [], argsText };
}
