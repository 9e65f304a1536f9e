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
  const folded = fold(text);
  const stripped = folded.replace(EDGE_NOISE, '');
  return stripped === '' ? folded : stripped;
}
