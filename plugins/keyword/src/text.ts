/**
 * Text normalization shared by keyword rules, hand-off words and the FAQ.
 *
 * Users type on phone keyboards that switch between full-width and half-width forms
 * ("ＶＩＰ", "？", "　"), so everything is NFKC-folded first: full-width latin, digits,
 * punctuation and spaces become their ASCII forms and compare equal to what was configured.
 */

import { classesOf, codePointAt, codePointStartBefore, NOISE } from './chars.ts';

/** NFKC, lower-case (only affects scripts with case), whitespace trimmed. */
export function fold(text: string): string {
  return quickNfkc(text, true) ?? text.normalize('NFKC').toLowerCase().trim();
}

/** Whether the last {@link quickNfkc} that answered saw an upper-case letter. */
let quickSawUpper = true;

/**
 * NFKC (lower-cased with `lower`) and trimmed, for a text made only of characters whose
 * NFKC form is known without asking ICU: ASCII, the common CJK ideographs (U+4E00–9FFF), the
 * full-width forms of ASCII (U+FF01–FF5E, NFKC: the ASCII character), the ideographic space
 * (NFKC: a space) and a few CJK punctuation marks NFKC leaves alone (、。《》「」『』【】‘’“”).
 * None of them composes with a neighbour, so the text's NFKC is theirs one by one. Undefined for
 * any other text (the caller normalizes it). Most messages are such texts: `normalize`,
 * `toLowerCase` and `trim` cost ~1.5 µs on the bench's texts, measured; this a fraction.
 */
function quickNfkc(text: string, lower: boolean): string | undefined {
  quickSawUpper = true;
  let out: string | undefined;
  let copied = 0;
  let upper = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    let mapped: number;
    if (c < 0x80) {
      if (c >= 0x41 && c <= 0x5a) upper = true;
      continue;
    } else if (c >= 0x4e00 && c <= 0x9fff) {
      continue;
    } else if (c >= 0xff01 && c <= 0xff5e) {
      mapped = c - 0xfee0;
      if (mapped >= 0x41 && mapped <= 0x5a) upper = true;
    } else if (c === 0x3000) {
      mapped = 0x20;
    } else if (c === 0x3001 || c === 0x3002 || (c >= 0x300a && c <= 0x3011) || c === 0x2018 || c === 0x2019 || c === 0x201c || c === 0x201d) {
      continue;
    } else {
      return undefined;
    }
    out = (out ?? '') + text.slice(copied, i) + String.fromCharCode(mapped);
    copied = i + 1;
  }
  const nfkc = out === undefined ? text : out + text.slice(copied);
  quickSawUpper = upper;
  // Only ASCII letters have case here: toLowerCase (native, and fast) changes nothing else.
  return trimQuick(lower && upper ? nfkc.toLowerCase() : nfkc);
}

/**
 * `trim()` of a text {@link quickNfkc} made, called only when an end is ASCII whitespace or a
 * control character: none of the other characters of such a text is one `trim()` drops, and most
 * texts have none at either end (`trim` was ~130 instructions a message, callgrind).
 */
function trimQuick(text: string): string {
  const last = text.length - 1;
  return last >= 0 && text.charCodeAt(0) > 0x20 && text.charCodeAt(last) > 0x20 ? text : text.trim();
}

/**
 * {@link fold}, then punctuation and symbols at either end dropped, so "人工！" and
 * "价格?" compare equal to "人工" and "价格". A text made only of punctuation is kept as
 * folded, so a keyword like "?" still means something.
 */
export function foldExact(text: string): string {
  return stripEdges(fold(text));
}

/**
 * Punctuation, symbols (emoji included) and whitespace (`[\p{P}\p{S}\p{Z}\s]`) dropped at
 * either end; a text of nothing else is returned whole. Read character by character from
 * each end (most texts stop at the first), not by a RegExp over the text.
 */
function stripEdges(folded: string): string {
  let start = 0;
  let end = folded.length;
  while (start < end) {
    const c = codePointAt(folded, start);
    if ((classesOf(c) & NOISE) === 0) break;
    start += c > 0xffff ? 2 : 1;
  }
  if (start === end) return folded;
  while (end > start) {
    const i = codePointStartBefore(folded, end);
    if ((classesOf(codePointAt(folded, i)) & NOISE) === 0) break;
    end = i;
  }
  return start === 0 && end === folded.length ? folded : folded.slice(start, end);
}

/**
 * A message text with its normal forms computed once, on first use, and shared by every
 * keyword, hand-off word and regex that looks at it. Folding per keyword cost ~10 µs a
 * message with the example rule file (~25 keywords), measured.
 */
export class MatchText {
  #folded: string | undefined;
  #exact: string | undefined;
  #nfkc: string | undefined;
  /** 0: not known; 1: the quick path saw no upper-case letter; 2: it saw one, or did not apply. */
  #case = 0;

  /** The rule set that last looked for its keywords in this text, and the keywords it found (see RuleSet). */
  rulesOf: object | undefined = undefined;
  rulesFound: readonly number[] | undefined = undefined;

  constructor(readonly raw: string) {}

  /**
   * {@link fold}ed: what `contains` keywords look for. The {@link nfkc} form lower-cased (the
   * same: NFKC and trimming commute with lower-casing), so a text is normalized once for both.
   */
  get folded(): string {
    if (this.#folded === undefined) {
      const nfkc = this.nfkc;
      this.#folded = this.#case === 1 ? nfkc : nfkc.toLowerCase();
    }
    return this.#folded;
  }

  /** {@link foldExact}ed: what `exact` keywords compare with. */
  get exact(): string {
    return (this.#exact ??= stripEdges(this.folded));
  }

  /** NFKC and trimmed, case kept: what regex keywords run on. */
  get nfkc(): string {
    if (this.#nfkc === undefined) {
      const quick = quickNfkc(this.raw, false);
      // Known to have no upper-case letter only when the quick path saw none.
      this.#case = quick !== undefined && !quickSawUpper ? 1 : 2;
      this.#nfkc = quick ?? this.raw.normalize('NFKC').trim();
    }
    return this.#nfkc;
  }
}
