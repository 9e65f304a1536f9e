/**
 * Which of a fixed list of strings a text contains, in one pass over the text: what `includes`
 * says for each, without a scan of the text per string. The positions where some string could
 * start (its first UTF-16 unit) are found by a RegExp of one character class, which V8 runs as
 * native code, and only there are the strings starting with that unit compared: a text that
 * contains none (most) costs one regex search. (A JavaScript loop reading each character and a
 * bit filter was ~1.6k instructions for a ~17-character text, callgrind; the search a few hundred.)
 */
export class Occurrences {
  readonly #strings: readonly string[];
  /** First code unit → the indexes of the strings starting with it, ascending. */
  readonly #byFirst = new Map<number, number[]>();
  /**
   * `[…]` of every first code unit, global so `test` resumes at `lastIndex`; no `u` flag, so it
   * matches code units (a first unit may be half of a surrogate pair). Undefined when no string
   * has a first unit.
   */
  readonly #starts: RegExp | undefined;
  /** Indexes of empty strings: every text contains them. */
  readonly #empty: number[] = [];
  /**
   * String `i` was found by the call numbered `#seen[i]` (see {@link all}): a repeat is told by
   * this check, run at every candidate position, instead of `found.includes(i)`, a branch first
   * run only when a text has a second candidate after a found string — in the bench's traffic
   * ~6 000 messages in, where it deoptimized RuleSet.firstMatch (all inlined) for want of feedback.
   */
  readonly #seen: Int32Array;
  #call = 0;

  constructor(strings: readonly string[]) {
    this.#strings = strings;
    this.#seen = new Int32Array(strings.length);
    strings.forEach((s, i) => {
      if (s === '') {
        this.#empty.push(i);
        return;
      }
      const first = s.charCodeAt(0);
      let list = this.#byFirst.get(first);
      if (!list) this.#byFirst.set(first, (list = []));
      list.push(i);
    });
    const units = [...this.#byFirst.keys()].map((unit) => `\\u${unit.toString(16).padStart(4, '0')}`);
    this.#starts = units.length > 0 ? new RegExp(`[${units.join('')}]`, 'g') : undefined;
  }

  get size(): number {
    return this.#strings.length;
  }

  /**
   * The last stamp {@link all} used: its calls counted (not those of a list of empty strings
   * only, which search nothing) until the count reaches 2^31 − 1, where the stamps start again
   * from 1 over cleared ones. Settable so that a test can take the stamp to that wrap without
   * two billion calls.
   */
  get calls(): number {
    return this.#call;
  }

  set calls(made: number) {
    this.#call = made;
  }

  /** The indexes of the strings `text` contains, ascending; undefined when none. */
  all(text: string): number[] | undefined {
    let found: number[] | undefined = this.#empty.length > 0 ? [...this.#empty] : undefined;
    const starts = this.#starts;
    if (starts === undefined) return found;
    // The search is synchronous, so one RegExp serves every call: lastIndex set here, and left
    // at 0 by the test that finds nothing more.
    starts.lastIndex = 0;
    const seen = this.#seen;
    if (++this.#call === 0x7fffffff) {
      seen.fill(0);
      this.#call = 1;
    }
    const call = this.#call;
    while (starts.test(text)) {
      const p = starts.lastIndex - 1;
      for (const i of this.#byFirst.get(text.charCodeAt(p))!) {
        if (seen[i] === call || !text.startsWith(this.#strings[i]!, p)) continue;
        seen[i] = call;
        (found ??= []).push(i);
      }
    }
    if (found && found.length > 1) found.sort((a, b) => a - b);
    return found;
  }

  /**
   * The lowest index of a string `text` contains, or -1. The same pass as {@link all}: a text
   * that contains none (nearly every one) costs the same, and one that does, an array.
   */
  first(text: string): number {
    const found = this.all(text);
    return found === undefined ? -1 : found[0]!;
  }
}
