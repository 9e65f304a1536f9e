/**
 * Which of a fixed list of strings a text contains, in one pass over the text: what `includes`
 * says for each, without a scan of the text per string. Positions are looked up by their first
 * UTF-16 unit (a bit filter, then the strings starting with it), and only there is a string
 * compared, so a text that contains none (most) costs one table read per character.
 */
export class Occurrences {
  readonly #strings: readonly string[];
  /** First code unit → the indexes of the strings starting with it, ascending. */
  readonly #byFirst = new Map<number, number[]>();
  /**
   * Bit `c & FILTER_MASK` set when some string starts with a code unit `c`: bits, not a byte
   * each, so the whole filter is two cache lines (each character of a text reads it).
   */
  readonly #filter = new Uint8Array(FILTER_SIZE / 8);
  /** Indexes of empty strings: every text contains them. */
  readonly #empty: number[] = [];

  constructor(strings: readonly string[]) {
    this.#strings = strings;
    strings.forEach((s, i) => {
      if (s === '') {
        this.#empty.push(i);
        return;
      }
      const first = s.charCodeAt(0);
      let list = this.#byFirst.get(first);
      if (!list) this.#byFirst.set(first, (list = []));
      list.push(i);
      const bit = first & FILTER_MASK;
      this.#filter[bit >> 3]! |= 1 << (bit & 7);
    });
  }

  get size(): number {
    return this.#strings.length;
  }

  /** The indexes of the strings `text` contains, ascending; undefined when none. */
  all(text: string): number[] | undefined {
    let found: number[] | undefined = this.#empty.length > 0 ? [...this.#empty] : undefined;
    const filter = this.#filter;
    for (let p = 0; p < text.length; p++) {
      const c = text.charCodeAt(p);
      const bit = c & FILTER_MASK;
      if ((filter[bit >> 3]! & (1 << (bit & 7))) === 0) continue;
      const list = this.#byFirst.get(c);
      if (list === undefined) continue;
      for (const i of list) {
        if (found?.includes(i) || !text.startsWith(this.#strings[i]!, p)) continue;
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

const FILTER_SIZE = 1024;
const FILTER_MASK = FILTER_SIZE - 1;
