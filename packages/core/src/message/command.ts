import type { Command } from './types.ts';

/** Parses `/name a b` into a command; undefined when the text is not one. */
export function parseCommand(text: string): Command | undefined {
  // Most texts are not commands: skip the regex unless a '/' leads (after spaces).
  if (text.charCodeAt(0) !== 0x2f && !/^\s+\//.test(text)) return undefined;
  const match = /^\/([^\s/]+)(?:\s+([\s\S]*))?$/.exec(text.trim());
  if (!match) return undefined;
  const argsText = (match[2] ?? '').trim();
  return { name: match[1]!.toLowerCase(), args: argsText ? argsText.split(/\s+/) : [], argsText };
}
