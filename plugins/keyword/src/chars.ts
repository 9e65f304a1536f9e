/**
 * Character classes the per-message scans ask about, answered from a table instead of a
 * Unicode-property RegExp run over the text. A character's classes come from those same
 * RegExps, asked once per character the first time it is seen (a 64 KiB table for the Basic
 * Multilingual Plane, a small cache beyond it), so they are exactly the RegExps' answers.
 *
 * The same table holds the FAQ tokenizer's marks on its own lists of characters (function
 * characters, particles: see similarity.ts), so a scan reads one table a character, not two;
 * over HTTP each line of them is a cache miss.
 */

/** `\p{Script=Han}` */
export const HAN = 1;
/** `[\p{L}\p{N}]` */
export const LETTER_OR_NUMBER = 2;
/** `[\p{P}\p{S}\p{Z}\s]`: what is trimmed from the edges of an exact keyword and a text. */
export const NOISE = 4;
/** Marks set by {@link markCharacters} (similarity.ts: a function character, a particle …). */
export const MARK_1 = 8;
export const MARK_2 = 16;
export const MARK_3 = 32;
export const MARK_4 = 64;
const KNOWN = 128;

const HAN_RE = /^\p{Script=Han}$/u;
const LETTER_OR_NUMBER_RE = /^[\p{L}\p{N}]$/u;
const NOISE_RE = /^[\p{P}\p{S}\p{Z}\s]$/u;

/** Classes of the BMP characters seen so far (without KNOWN: not asked yet), and their marks. */
const bmp = new Uint8Array(0x10000);
/** Classes of characters beyond the BMP (emoji, rare Han), bounded. */
const astral = new Map<number, number>();
const MAX_ASTRAL = 4096;

function classify(codePoint: number): number {
  const c = String.fromCodePoint(codePoint);
  return KNOWN | (HAN_RE.test(c) ? HAN : 0) | (LETTER_OR_NUMBER_RE.test(c) ? LETTER_OR_NUMBER : 0) | (NOISE_RE.test(c) ? NOISE : 0);
}

/** The classes of a code point (a lone surrogate is its own code point, as in a `u` RegExp). */
export function classesOf(codePoint: number): number {
  if (codePoint < 0x10000) {
    const known = bmp[codePoint]!;
    if ((known & KNOWN) !== 0) return known;
    return (bmp[codePoint] = known | classify(codePoint));
  }
  let known = astral.get(codePoint);
  if (known === undefined) {
    known = classify(codePoint);
    if (astral.size < MAX_ASTRAL) astral.set(codePoint, known);
  }
  return known;
}

/** Sets `mark` (one of MARK_1 … MARK_4) on each of `characters` (all in the BMP), for {@link classesOf} to return. */
export function markCharacters(characters: string, mark: number): void {
  for (let i = 0; i < characters.length; i++) bmp[characters.charCodeAt(i)]! |= mark;
}

/** The code point at `i` of `text` (a surrogate pair read as one, a lone surrogate as itself). */
export function codePointAt(text: string, i: number): number {
  const c = text.charCodeAt(i);
  if (c < 0xd800 || c > 0xdbff || i + 1 >= text.length) return c;
  const d = text.charCodeAt(i + 1);
  return d < 0xdc00 || d > 0xdfff ? c : (c - 0xd800) * 0x400 + (d - 0xdc00) + 0x10000;
}

/** The start of the code point that ends just before `end` (a surrogate pair read as one). */
export function codePointStartBefore(text: string, end: number): number {
  const i = end - 1;
  const c = text.charCodeAt(i);
  if (c < 0xdc00 || c > 0xdfff || i === 0) return i;
  const h = text.charCodeAt(i - 1);
  return h >= 0xd800 && h <= 0xdbff ? i - 1 : i;
}
