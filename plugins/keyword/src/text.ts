/**
 * Text normalization shared by keyword rules, hand-off words and the FAQ.
 *
 * Users type on phone keyboards that switch between full-width and half-width forms
 * ("ＶＩＰ", "？", "　"), so everything is NFKC-folded first: full-width latin, digits,
 * punctuation and spaces become their ASCII forms and compare equal to what was configured.
 */

/** NFKC, lower-case (only affects scripts with case), whitespace trimmed. */
export function fold(text: string): string {
  return text.normalize('NFKC').toLowerCase().trim();
}

// Punctuation, symbols (emoji included) and whitespace at either end.
const EDGE_NOISE = /^[\p{P}\p{S}\p{Z}\s]+|[\p{P}\p{S}\p{Z}\s]+$/gu;

/**
 * {@link fold}, then punctuation and symbols at either end dropped, so "人工！" and
 * "价格?" compare equal to "人工" and "价格". A text made only of punctuation is kept as
 * folded, so a keyword like "?" still means something.
 */
export function foldExact(text: string): string {
  return stripEdges(fold(text));
}

function stripEdges(folded: string): string {
  const stripped = folded.replace(EDGE_NOISE, '');
  return stripped === '' ? folded : stripped;
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

  constructor(readonly raw: string) {}

  /** {@link fold}ed: what `contains` keywords look for. */
  get folded(): string {
    return (this.#folded ??= fold(this.raw));
  }

  /** {@link foldExact}ed: what `exact` keywords compare with. */
  get exact(): string {
    return (this.#exact ??= stripEdges(this.folded));
  }

  /** NFKC and trimmed, case kept: what regex keywords run on. */
  get nfkc(): string {
    return (this.#nfkc ??= this.raw.normalize('NFKC').trim());
  }
}
