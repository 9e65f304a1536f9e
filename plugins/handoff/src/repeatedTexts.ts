/**
 * The bot's reply texts that come again and again (the keyword plugin's fallback, FAQ answers,
 * rule replies), numbered so that the in-process history (recent.ts) writes a number instead of
 * the text. Most of a default bot's replies are the same fallback text of ~57 characters: 114 of
 * the ~240 bytes the history's log took a message and its reply, bytes that are copied in one
 * unit at a time and, in the log's first lap, fresh pages the system gives at a fault each.
 *
 * A text is numbered the second time it is seen among the last {@link RECENT} distinct texts
 * (a few string comparisons a reply, most of them a pointer or a length): a text seen once (an
 * LLM's answer) is never hashed nor kept past those few slots. Numbers are never taken back, so
 * an entry's number means its text for as long as the entry lives; there are at most
 * {@link MAX_TEXTS} numbers, of texts up to {@link MAX_LENGTH} characters (at most 512 KiB kept).
 */
export class RepeatedTexts {
  /** The texts numbered so far, by number. */
  readonly #texts: string[] = [];
  readonly #numbers = new Map<string, number>();
  /** The last {@link RECENT} distinct texts seen and their numbers (-1: none yet), a ring. */
  readonly #recent: (string | undefined)[] = new Array(RECENT).fill(undefined);
  readonly #recentNumbers = new Int32Array(RECENT).fill(-1);
  #next = 0;

  /** The number of `text` if it is a repeated one (numbered now if this is its second time), else -1. */
  numberOf(text: string): number {
    if (text.length > MAX_LENGTH) return -1;
    const recent = this.#recent;
    for (let i = 0; i < RECENT; i++) {
      if (recent[i] !== text) continue;
      let number = this.#recentNumbers[i]!;
      if (number < 0) {
        number = this.#numbers.get(text) ?? this.#number(text);
        this.#recentNumbers[i] = number;
      }
      return number;
    }
    const slot = this.#next;
    this.#next = (slot + 1) % RECENT;
    recent[slot] = text;
    this.#recentNumbers[slot] = -1;
    return -1;
  }

  /** The text numbered `number`. */
  textOf(number: number): string {
    const text = this.#texts[number];
    if (text === undefined) throw new RangeError(`no repeated text numbered ${number}`);
    return text;
  }

  /** A new number for `text`, or -1 once {@link MAX_TEXTS} are numbered. */
  #number(text: string): number {
    if (this.#texts.length >= MAX_TEXTS) return -1;
    const number = this.#texts.length;
    this.#texts.push(text);
    this.#numbers.set(text, number);
    return number;
  }
}

/** Distinct texts a repeat is looked for among: a bot's few canned replies in turn. */
export const RECENT = 4;
/** Numbered texts at most; past them, texts are written whole. */
export const MAX_TEXTS = 256;
/** The longest text numbered, in UTF-16 units. */
export const MAX_LENGTH = 1024;
