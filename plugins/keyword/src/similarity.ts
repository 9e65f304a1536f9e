/**
 * FAQ matching by surface similarity, built for Chinese (no spaces between words).
 *
 * A text becomes a bag of weighted features:
 * - character bigrams of every run of CJK characters ("几点开门" → 几点, 点开, 开门): a bigram
 *   is the cheapest stand-in for a Chinese word, and needs no dictionary;
 * - character unigrams at a lower weight. They carry very short texts ("价格" vs "价钱"
 *   share only 价) and near-synonyms that differ in one character; in longer texts the
 *   bigrams outnumber and outweigh them. (They are on for every text, not only short
 *   ones, because both sides of a comparison need the same kinds of feature.)
 * - each latin/digit run as one token ("vip", "618"), since their letters mean nothing alone.
 *
 * Question words and politeness ("请问", "怎么", "可以", "吗") say nothing about the topic
 * but appear in most questions, so politeness and sentence particles are dropped, and
 * bigrams made only of function characters ("怎么", "了怎", "么办") are down-weighted;
 * otherwise "密码忘了怎么办" would look like "地址填错了怎么办". On top of that, each
 * feature is weighted by its inverse document frequency over the FAQ entries, so what
 * many entries share counts less.
 *
 * The score is the cosine of the two weighted vectors, in [0, 1].
 */
import * as chars from './chars.ts';
import { fold } from './text.ts';

/**
 * chars.ts's exports as this module's own constants. TurboFan's code reads an imported binding
 * from its cell at every use, with a check that it is initialized (`HAN` and `LETTER_OR_NUMBER`
 * a few times a character in {@link scan}, `classesOf` compared with the function it inlined,
 * ~25 instructions a character); a module's own `const` it folds into the code.
 */
const { classesOf, codePointAt, HAN, LETTER_OR_NUMBER, MARK_1, MARK_2, MARK_3, markCharacters } = chars;

/** Politeness and filler that never identifies a question; removed before tokenizing. */
const FILLERS = ['请问一下', '请问', '问一下', '麻烦问下', '麻烦', '你好', '您好', '谢谢', '打扰了', '想问下', '想问'];
/**
 * Modal particles: removed at the end of a run of Han characters (吗, 吧, 呢 …), and 呀/啊/啦
 * anywhere, as they are practically never part of a content word.
 */
const PARTICLES = /[吗嘛呢吧啊呀哦哈啦]+(?=$|[^\p{Script=Han}])|[呀啊啦]/gu;
/**
 * Characters that build questions and sentences rather than topics (pronouns, question
 * words, modal verbs, aspect and structural particles). A bigram made only of them
 * ("怎么", "可以", "了怎", "么办", "你们") is a function bigram; alone they are not features.
 */
const FUNCTION_CHARS = '的了是我你您们他她它这那哪里么怎什吗呢吧啊呀哦嘛可以能会要想得在有没不就都也还和与或如何样多少个些请问下办';

/** Weight of a function bigram relative to a content bigram. */
const FUNCTION_WEIGHT = 0.3;
/** Weight of a character unigram relative to a bigram. */
const UNIGRAM_WEIGHT = 0.6;
/** Weight of a latin/digit word. */
const WORD_WEIGHT = 1;

/**
 * What the tokenizer asks of a character, by its UTF-16 unit (all of these are in the BMP):
 * a function character, a particle ({@link PARTICLES}: at a run's end, or anywhere).
 */
const FUNCTION = MARK_1;
const PARTICLE = MARK_2;
const PARTICLE_ANYWHERE = MARK_3;
markCharacters(FUNCTION_CHARS, FUNCTION);
markCharacters('吗嘛呢吧啊呀哦哈啦', PARTICLE);
markCharacters('呀啊啦', PARTICLE_ANYWHERE);
/**
 * Whether a text has a filler's first character, asked of a RegExp (a search V8 runs as native
 * code) rather than by a loop reading each character's classes, ~700 instructions for a
 * ~17-character text (callgrind): most texts have none, and skip {@link dropFillers}.
 */
const FILLER_START_RE = new RegExp(`[${[...new Set(FILLERS.map((filler) => filler[0]))].join('')}]`);

/** The text as the similarity sees it: folded, fillers, particles and punctuation gone. */
export function normalizeForSimilarity(text: string): string {
  let t = fold(text);
  for (const filler of FILLERS) t = t.replaceAll(filler, ' ');
  return t.replace(PARTICLES, ' ');
}

/** A sparse feature vector: feature → weight. */
export type Features = Map<string, number>;

/**
 * The tokenizer's output for one text, in a scratch array reused by every text (the scan is
 * synchronous): each feature occurrence in order, as three numbers side by side (one array,
 * not one per number: over HTTP a message meets cold caches, and each array is more lines to
 * fetch): its kind, which also says its weight, and two numbers. A Han unigram is its code
 * point (`b` = -1), a bigram its two code points, a word its start and end in the folded
 * text. Nothing is built per occurrence: no feature string, no segment string, no Map.
 */
const UNIGRAM = 0;
const BIGRAM = 1;
/** A bigram of two function characters (weighs {@link FUNCTION_WEIGHT}). */
const FUNCTION_BIGRAM = 2;
const WORD = 3;
/** Numbers an occurrence takes in {@link occurrence}: kind, a, b. */
const OCCURRENCE = 3;
let occurrence = new Int32Array(64 * OCCURRENCE);
let occurrences = 0;

/** An occurrence's weight, by its kind (a table, not a chain of comparisons a feature). */
const WEIGHT = Float64Array.of(UNIGRAM_WEIGHT, 1, FUNCTION_WEIGHT, WORD_WEIGHT);
/**
 * Code units of the folded text dropped as a filler or particle (they separate segments): unit
 * `i` is dropped in the scan numbered `dropped[i]` ({@link scanGeneration}), so a scan starts
 * without clearing it.
 */
let dropped = new Int32Array(64);
/**
 * Whether the last {@link scan} may have seen a Han character twice: false only when no two of its
 * Han characters fell in the same slot of {@link hanSeen} (their code point modulo its size),
 * so all of them differ. Then no Han feature occurs twice (a unigram is its character, a bigram
 * starts with one), and a query adds a feature no entry has without looking for it among the
 * others it has seen (most texts: a hash table's add and get per such feature saved).
 */
let hanMayRepeat = true;
const HAN_SEEN_SIZE = 1024;
/** Slot `c % HAN_SEEN_SIZE` holds the number of the last scan that saw a Han character `c` there. */
const hanSeen = new Int32Array(HAN_SEEN_SIZE);
let scanGeneration = 0;

/**
 * Tokenizes a folded text into the scratch arrays: fillers and particles dropped as
 * {@link normalizeForSimilarity} drops them (each filler in turn, leftmost first, never across
 * one already dropped; then the particles), then the segments of `\p{Script=Han}+` and of
 * non-Han `[\p{L}\p{N}]+`, in one pass over the text, character classes read from a table.
 * The occurrences come in the order the first version's `featuresOf` added them.
 */
function scan(folded: string): void {
  hanMayRepeat = false;
  if (++scanGeneration === 0x7fffffff) {
    hanSeen.fill(0);
    dropped.fill(0);
    scanGeneration = 1;
  }
  const generation = scanGeneration;
  const n = folded.length;
  if (dropped.length < n) dropped = new Int32Array(Math.max(n, dropped.length * 2));
  // A code unit gives at most two occurrences (a Han character's bigram and unigram; a word, one
  // for its units): room for them all is made here, instead of a check at each occurrence.
  const room = (2 * n + 1) * OCCURRENCE;
  if (occurrence.length < room) occurrence = new Int32Array(Math.max(room, occurrence.length * 2));
  // Locals, not the module's `let`s and `const`s: those are read with a check that they are
  // initialized at each use.
  const out = occurrence;
  const drop = dropped;
  const seen = hanSeen;
  if (FILLER_START_RE.test(folded)) dropFillers(folded, generation);
  let at = 0; // where the next occurrence goes in `out`
  let segment = 0; // 0: between segments; HAN; LETTER_OR_NUMBER
  let segmentStart = 0;
  let previous = -1; // the previous character of this Han segment
  let previousIsFunction = false;
  let particlesDecidedTo = 0; // the particle runs before this are decided
  for (let i = 0; i < n; ) {
    // The code point at i (a surrogate pair read as one, a lone surrogate as itself), read here
    // rather than by a call a character.
    let c = folded.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < n) {
      const d = folded.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) c = (c - 0xd800) * 0x400 + (d - 0xdc00) + 0x10000;
    }
    const classes = classesOf(c);
    if (i >= particlesDecidedTo && (classes & PARTICLE) !== 0 && drop[i] !== generation) {
      // The run of particles from here ({@link PARTICLES}): all dropped when the run ends the text
      // or is followed by a non-Han character (a dropped filler counts as a space); else only its
      // 呀/啊/啦. Decided here, in the scan, not by a function of its own: one function fewer for
      // a fresh process to run slowly and compile (a fifth of the bench's texts have a particle,
      // and that function reached TurboFan only ~6 000 messages in).
      let end = i;
      while (end < n && drop[end] !== generation && (classesOf(folded.charCodeAt(end)) & PARTICLE) !== 0) end++;
      const atEnd = end === n || drop[end] === generation || (classesOf(codePointAt(folded, end)) & HAN) === 0;
      for (let j = i; j < end; j++) if (atEnd || (classesOf(folded.charCodeAt(j)) & PARTICLE_ANYWHERE) !== 0) drop[j] = generation;
      particlesDecidedTo = end;
    }
    const kind = drop[i] === generation ? 0 : classes & HAN ? HAN : classes & LETTER_OR_NUMBER ? LETTER_OR_NUMBER : 0;
    if (kind !== segment) {
      if (segment === LETTER_OR_NUMBER) {
        out[at] = WORD;
        out[at + 1] = segmentStart;
        out[at + 2] = i;
        at += OCCURRENCE;
      }
      segment = kind;
      segmentStart = i;
      previous = -1;
    }
    if (kind === HAN) {
      const bucket = c & (HAN_SEEN_SIZE - 1);
      if (seen[bucket] === generation) hanMayRepeat = true;
      else seen[bucket] = generation;
      // Each character's bigram with the previous, then its unigram: the order the index was built in.
      const isFunction = (classes & FUNCTION) !== 0;
      if (previous >= 0) {
        out[at] = previousIsFunction && isFunction ? FUNCTION_BIGRAM : BIGRAM;
        out[at + 1] = previous;
        out[at + 2] = c;
        at += OCCURRENCE;
      }
      if (!isFunction) {
        out[at] = UNIGRAM;
        out[at + 1] = c;
        out[at + 2] = -1;
        at += OCCURRENCE;
      }
      previous = c;
      previousIsFunction = isFunction;
    }
    i += c > 0xffff ? 2 : 1;
  }
  if (segment === LETTER_OR_NUMBER) {
    out[at] = WORD;
    out[at + 1] = segmentStart;
    out[at + 2] = n;
    at += OCCURRENCE;
  }
  occurrences = at / OCCURRENCE;
}

/** Marks the fillers, as `replaceAll` of each in turn would replace them (see {@link scan}). */
function dropFillers(folded: string, generation: number): void {
  for (const filler of FILLERS) {
    let from = 0;
    for (;;) {
      const at = folded.indexOf(filler, from);
      if (at < 0) break;
      const end = at + filler.length;
      let free = true;
      for (let i = at; i < end; i++) if (dropped[i] === generation) free = false;
      if (!free) {
        from = at + 1;
        continue;
      }
      for (let i = at; i < end; i++) dropped[i] = generation;
      from = end;
    }
  }
}

/** The weighted features of a text, before inverse document frequency. */
export function featuresOf(text: string): Features {
  const folded = fold(text);
  scan(folded);
  const features: Features = new Map();
  for (let o = 0; o < occurrences; o++) {
    const kind = occurrence[o * OCCURRENCE]!;
    const a = occurrence[o * OCCURRENCE + 1]!;
    const b = occurrence[o * OCCURRENCE + 2]!;
    const key = kind === WORD ? `w:${folded.slice(a, b)}` : kind === UNIGRAM ? `u:${String.fromCodePoint(a)}` : `b:${String.fromCodePoint(a, b)}`;
    features.set(key, (features.get(key) ?? 0) + WEIGHT[kind]!);
  }
  return features;
}

function norm(v: Features | Map<number, number>): number {
  let sum = 0;
  for (const w of v.values()) sum += w * w;
  return Math.sqrt(sum);
}

function dot(a: Features, b: Features): number {
  const [small, large] = a.size <= b.size ? [a, b] : [b, a];
  let sum = 0;
  for (const [k, w] of small) {
    const other = large.get(k);
    if (other !== undefined) sum += w * other;
  }
  return sum;
}

/** Cosine similarity of two texts without corpus statistics (for tools and tests). */
export function similarity(a: string, b: string): number {
  const fa = featuresOf(a);
  const fb = featuresOf(b);
  const n = norm(fa) * norm(fb);
  return n === 0 ? 0 : dot(fa, fb) / n;
}

/** One FAQ entry as the index sees it: its paraphrases and what it stands for. */
export interface FaqIndexEntry<T> {
  readonly questions: readonly string[];
  readonly value: T;
}

/** The best FAQ entry for a text. */
export interface FaqHit<T> {
  readonly value: T;
  /** Cosine similarity in [0, 1]. */
  readonly score: number;
  /** The paraphrase that scored best. */
  readonly question: string;
}

interface IndexedQuestion<T> {
  readonly question: string;
  readonly value: T;
  readonly norm: number;
  /** The paraphrase's weighted vector (feature number → weight), to finish a candidate's score. */
  readonly vector: Map<number, number>;
}

/**
 * Han unigrams and bigrams as pairs of code points (a unigram's second is -1) → a number, in
 * an open-addressing table: looked up without building the feature's string. A slot's four
 * numbers (a, b, value, generation) are side by side in one array, so a probe reads one cache
 * line, not one in each of four arrays (a message's lookups mostly meet cold caches over HTTP).
 * `clear()` empties it in O(1) (entries of an older generation count as free).
 */
class PairTable {
  /** Slot `i` is `[i * 4]`: a, b, value, generation. */
  #slots = new Int32Array(16 * SLOT);
  /** The number of slots less one (a power of two): a probe's mask, kept, not divided out of the array's length a lookup. */
  #mask = 15;
  #current = 1;
  #size = 0;

  get(a: number, b: number): number {
    const slots = this.#slots;
    const mask = this.#mask;
    for (let i = pairHash(a, b) & mask; ; i = (i + 1) & mask) {
      const at = i * SLOT;
      if (slots[at + 3] !== this.#current) return -1;
      if (slots[at] === a && slots[at + 1] === b) return slots[at + 2]!;
    }
  }

  /** Sets a pair not in the table. */
  add(a: number, b: number, value: number): void {
    if (2 * (this.#size + 1) > this.#slots.length / SLOT) this.#grow();
    const slots = this.#slots;
    const mask = this.#mask;
    let i = pairHash(a, b) & mask;
    while (slots[i * SLOT + 3] === this.#current) i = (i + 1) & mask;
    const at = i * SLOT;
    slots[at] = a;
    slots[at + 1] = b;
    slots[at + 2] = value;
    slots[at + 3] = this.#current;
    this.#size++;
  }

  clear(): void {
    this.#size = 0;
    if (++this.#current === 0x7fffffff) {
      this.#slots.fill(0);
      this.#current = 1;
    }
  }

  #grow(): void {
    const [old, current] = [this.#slots, this.#current];
    this.#slots = new Int32Array(old.length * 2);
    this.#mask = (old.length * 2) / SLOT - 1;
    this.#current = 1;
    this.#size = 0;
    for (let at = 0; at < old.length; at += SLOT) if (old[at + 3] === current) this.add(old[at]!, old[at + 1]!, old[at + 2]!);
  }
}

/** Numbers a {@link PairTable} slot holds. */
const SLOT = 4;

function pairHash(a: number, b: number): number {
  const h = Math.imul(a ^ Math.imul(b, 0x27d4eb2d), 0x9e3779b1);
  return h ^ (h >>> 15);
}

/**
 * A message's distinct features in order of first occurrence, with their numbers in the index
 * (-1: no entry has it) and their summed weights: feature `s` at `[s * 2]`, its weight next to
 * it (one array, as the occurrences). Scratch shared by every index (a query is synchronous).
 * Features no entry has are told apart by `unseenPairs` and `unseenWords`. A feature is read
 * back with `| 0`: as a double it would be boxed to key a Map (best() at 10,000 entries took
 * ~60 -> ~100 µs that way).
 */
let query = new Float64Array(64 * 2);
/**
 * The query's features some entry has, sorted for {@link FaqIndex.best}: term `t` at `[t * 3]`
 * is the feature, its weight and the length of its posting list.
 */
let term = new Float64Array(64 * 3);
const unseenPairs = new PairTable();
/**
 * The first few unseen words of a query as ranges of its text (compared in place), the rest in
 * a map: range `r` is start, end and slot at `[r * 3]` (one array: fewer cache lines to fetch).
 */
const UNSEEN_WORD_RANGES = 16;
const unseenWordRanges = new Int32Array(UNSEEN_WORD_RANGES * 3);
const unseenWords = new Map<string, number>();

/** Whether `text[a … b]` and `text[c … d]` are the same characters. */
function sameRange(text: string, a: number, b: number, c: number, d: number): boolean {
  if (b - a !== d - c) return false;
  for (let i = 0; i < b - a; i++) if (text.charCodeAt(a + i) !== text.charCodeAt(c + i)) return false;
  return true;
}

/**
 * The FAQ side, precomputed once per (re)load: every paraphrase's TF-IDF vector, its norm,
 * and an inverted index (feature → the paraphrases that have it).
 *
 * {@link FaqIndex.best} scores only candidates. Common features (a frequent character, a
 * question-word bigram) are shared by most paraphrases, and following their posting lists
 * would score nearly all of them (1.8 ms a message at 10,000 entries). By Cauchy–Schwarz a
 * paraphrase sharing only a set S of the query's features scores at most |q_S| / |q|; so
 * the longest posting lists are skipped while the query weight they carry stays below the
 * threshold, candidates come from the remaining (rarer, mostly bigram) lists, and each
 * candidate's score is then finished exactly with the skipped features. Same answer as
 * scoring everything, measured in bench/faq.ts.
 *
 * Features are numbered when the index is built; a message's are looked up by their code
 * points (Han) or text (latin and digit words) without building a feature string, summed in
 * typed arrays, and its dot products are added up in typed arrays: a message allocates
 * nothing but its words' strings. The arithmetic is the first version's, in the same order,
 * so the scores are the same to the last bit (tested).
 */
export class FaqIndex<T> {
  /** Feature number → its inverse document frequency. */
  readonly #idf: Float64Array;
  /** The weight of a query feature no entry has. */
  readonly #unseenIdf: number;
  readonly #questions: IndexedQuestion<T>[] = [];
  /** Han unigram or bigram → feature number. */
  readonly #pairs = new PairTable();
  /** Latin/digit word → feature number. */
  readonly #words = new Map<string, number>();
  /** The longest of `#words` (a longer word is surely not one). */
  #longestWord = 0;
  /** Feature `f`'s postings are `#postingQuestion[#postingStart[f] … #postingStart[f + 1]]`, in paraphrase order. */
  readonly #postingStart: Int32Array;
  readonly #postingQuestion: Int32Array;
  readonly #postingWeight: Float64Array;
  /** Per query, feature `f` at `[f * 2]`: the generation of the query that saw it last, and where in its list. */
  readonly #featureMarks: Int32Array;
  /** Per query: the candidates' partial dot products (valid when `#dotSeen` is the generation). */
  readonly #dots: Float64Array;
  readonly #dotSeen: Int32Array;
  readonly #candidates: Int32Array;
  #generation = 0;
  /** Each entry's first wording, to tell users what can be asked. */
  readonly #firstWordings: string[];

  /** The first wording of the first `max` entries, in order. */
  firstWordings(max: number): string[] {
    return this.#firstWordings.slice(0, max);
  }

  constructor(entries: readonly FaqIndexEntry<T>[]) {
    this.#firstWordings = entries.flatMap((e) => (e.questions[0] ? [e.questions[0]] : []));
    const perEntry = entries.map((e) => e.questions.map((q) => ({ question: q, features: featuresOf(q) })));
    // Document frequency counts entries, not paraphrases: five wordings of the refund
    // question must not make "退款" look common.
    const df = new Map<string, number>();
    for (const questions of perEntry) {
      const seen = new Set<string>();
      for (const { features } of questions) for (const k of features.keys()) seen.add(k);
      for (const k of seen) df.set(k, (df.get(k) ?? 0) + 1);
    }
    // Smoothed idf as scikit-learn's: ln((1+N)/(1+df)) + 1, never zero.
    const n = entries.length;
    const numbers = new Map<string, number>();
    this.#idf = new Float64Array(df.size);
    for (const [k, d] of df) {
      const f = numbers.size;
      numbers.set(k, f);
      this.#idf[f] = Math.log((1 + n) / (1 + d)) + 1;
      if (k.startsWith('w:')) {
        this.#words.set(k.slice(2), f);
        this.#longestWord = Math.max(this.#longestWord, k.length - 2);
      } else {
        const a = k.codePointAt(2)!;
        this.#pairs.add(a, k.startsWith('b:') ? k.codePointAt(a > 0xffff ? 4 : 3)! : -1, f);
      }
    }
    // A query word no entry has cannot match, but it does dilute the score. How rare it
    // really is is unknown, so it weighs as a word shared by half of the entries: neither
    // as heavy as the rarest FAQ word (long questions with extra words would score too low)
    // nor as light as the commonest.
    this.#unseenIdf = Math.log((1 + n) / (1 + n / 2)) + 1;
    const postings: Array<Array<readonly [number, number]>> = Array.from({ length: df.size }, () => []);
    entries.forEach((entry, i) => {
      for (const { question, features } of perEntry[i] ?? []) {
        const vector = new Map<number, number>();
        for (const [k, w] of features) {
          const f = numbers.get(k)!;
          vector.set(f, w * this.#idf[f]!);
        }
        const length = norm(vector);
        if (length === 0) continue; // only fillers and punctuation: nothing to match on
        const id = this.#questions.push({ question, value: entry.value, norm: length, vector }) - 1;
        for (const [f, w] of vector) postings[f]!.push([id, w]);
      }
    });
    this.#postingStart = new Int32Array(df.size + 1);
    let total = 0;
    postings.forEach((list, f) => {
      this.#postingStart[f] = total;
      total += list.length;
    });
    this.#postingStart[df.size] = total;
    this.#postingQuestion = new Int32Array(total);
    this.#postingWeight = new Float64Array(total);
    postings.forEach((list, f) => {
      list.forEach(([id, w], j) => {
        this.#postingQuestion[this.#postingStart[f]! + j] = id;
        this.#postingWeight[this.#postingStart[f]! + j] = w;
      });
    });
    this.#featureMarks = new Int32Array(df.size * 2);
    this.#dots = new Float64Array(this.#questions.length);
    this.#dotSeen = new Int32Array(this.#questions.length);
    this.#candidates = new Int32Array(this.#questions.length);
  }

  /** How many paraphrases are indexed. */
  get size(): number {
    return this.#questions.length;
  }

  /** Every paraphrase sharing a feature with `text`, with its score, best first (for tuning). */
  scores(text: string): FaqHit<T>[] {
    const folded = fold(text);
    const count = this.#query(folded);
    const queryNorm = this.#queryNorm(count);
    if (queryNorm === 0) return [];
    const generation = this.#generation;
    let candidates = 0;
    for (let s = 0; s < count; s++) {
      const f = query[s * 2]! | 0;
      if (f < 0) continue;
      candidates = this.#addPostings(f, query[s * 2 + 1]! * this.#idf[f]!, generation, candidates);
    }
    const hits: (FaqHit<T> & { id: number })[] = [];
    for (let c = 0; c < candidates; c++) {
      const id = this.#candidates[c]!;
      const q = this.#questions[id]!;
      hits.push({ id, value: q.value, question: q.question, score: this.#dots[id]! / (queryNorm * q.norm) });
    }
    return hits.sort((a, b) => b.score - a.score || a.id - b.id).map(({ id: _, ...hit }) => hit);
  }

  /**
   * The best-scoring paraphrase at or above `threshold`, if any; of equal scores, the one
   * indexed first (earlier entry, earlier wording). Scores only candidates (see the class).
   * `folded`: the text already {@link fold}ed, when the caller has it.
   */
  best(text: string, threshold: number, folded: string = fold(text)): FaqHit<T> | undefined {
    const count = this.#query(folded);
    // In one pass: the query's norm ({@link #queryNorm}'s sum, in the same order) and the features
    // some entry has, as terms (feature, weight), in order of first occurrence.
    const idf = this.#idf;
    const unseenIdf = this.#unseenIdf;
    const start = this.#postingStart;
    if (term.length < count * 3) term = new Float64Array((query.length / 2) * 3);
    // The module's scratch arrays as locals (as in #query: a module's `let` is read with a check
    // that it is initialized at each use); `terms3` holds three numbers a term.
    const features = query;
    const terms3 = term;
    let squares = 0;
    let terms = 0;
    for (let s = 0; s < count; s++) {
      const f = features[s * 2]! | 0;
      const weight = features[s * 2 + 1]! * (f >= 0 ? idf[f]! : unseenIdf);
      squares += weight * weight;
      if (f < 0 || start[f + 1]! === start[f]!) continue;
      terms3[terms * 3] = f;
      terms3[terms * 3 + 1] = weight;
      terms3[terms++ * 3 + 2] = start[f + 1]! - start[f]!;
    }
    const queryNorm = Math.sqrt(squares);
    if (queryNorm === 0) return undefined;
    // Longest lists first (of equal lengths, the first occurring first); skip them while a
    // paraphrase sharing only those stays below the bar.
    sortTerms(terms);
    const bar = threshold * queryNorm;
    let skipped = 0;
    let skippedSquares = 0;
    while (skipped < terms) {
      const w = terms3[skipped * 3 + 1]!;
      if (Math.sqrt(skippedSquares + w * w) >= bar) break;
      skippedSquares += w * w;
      skipped++;
    }
    const generation = this.#generation;
    let candidates = 0;
    for (let t = skipped; t < terms; t++) candidates = this.#addPostings(terms3[t * 3]! | 0, terms3[t * 3 + 1]!, generation, candidates);
    let bestId = -1;
    let bestScore = -1;
    for (let c = 0; c < candidates; c++) {
      const id = this.#candidates[c]!;
      const q = this.#questions[id]!;
      let d = this.#dots[id]!;
      for (let t = 0; t < skipped; t++) {
        const other = q.vector.get(terms3[t * 3]! | 0);
        if (other !== undefined) d += terms3[t * 3 + 1]! * other;
      }
      const score = d / (queryNorm * q.norm);
      if (score >= threshold && (score > bestScore || (score === bestScore && id < bestId))) {
        bestScore = score;
        bestId = id;
      }
    }
    if (bestId < 0) return undefined;
    const q = this.#questions[bestId]!;
    return { value: q.value, question: q.question, score: bestScore };
  }

  /**
   * Tokenizes the query into `query`: its distinct features in order of
   * first occurrence, weights summed; starts a new generation. Returns how many.
   */
  #query(folded: string): number {
    scan(folded);
    if (++this.#generation === 0x7fffffff) {
      this.#featureMarks.fill(0);
      this.#dotSeen.fill(0);
      this.#generation = 1;
    }
    const generation = this.#generation;
    const marks = this.#featureMarks;
    if (query.length < occurrences * 2) query = new Float64Array((occurrence.length / OCCURRENCE) * 2);
    // The scratch arrays and the scan's answers as locals: a module's `let` is read with a check
    // that it is initialized at each use, and again after each call.
    const out = query;
    const occ = occurrence;
    const total = occurrences;
    const mayRepeat = hanMayRepeat;
    unseenPairs.clear();
    let unseenRanges = 0;
    let count = 0;
    const words = this.#words;
    for (let o = 0; o < total; o++) {
      const kind = occ[o * OCCURRENCE]!;
      const a = occ[o * OCCURRENCE + 1]!;
      const b = occ[o * OCCURRENCE + 2]!;
      const w = WEIGHT[kind]!;
      let f: number;
      if (kind === WORD) {
        f = words.size > 0 && b - a <= this.#longestWord ? (words.get(folded.slice(a, b)) ?? -1) : -1;
        if (f < 0) {
          // A word no entry has: it weighs in the query's norm, once however often it occurs.
          let at = -1;
          for (let r = 0; r < unseenRanges * 3; r += 3) {
            if (sameRange(folded, a, b, unseenWordRanges[r]!, unseenWordRanges[r + 1]!)) {
              at = unseenWordRanges[r + 2]!;
              break;
            }
          }
          if (at < 0 && unseenRanges === UNSEEN_WORD_RANGES) at = unseenWords.get(folded.slice(a, b)) ?? -1;
          if (at >= 0) out[at * 2 + 1]! += w;
          else {
            if (unseenRanges < UNSEEN_WORD_RANGES) {
              unseenWordRanges[unseenRanges * 3] = a;
              unseenWordRanges[unseenRanges * 3 + 1] = b;
              unseenWordRanges[unseenRanges++ * 3 + 2] = count;
            } else unseenWords.set(folded.slice(a, b), count);
            out[count * 2] = -1;
            out[count++ * 2 + 1] = w;
          }
          continue;
        }
      } else {
        f = this.#pairs.get(a, b);
      }
      if (f >= 0) {
        if (marks[f * 2] === generation) out[marks[f * 2 + 1]! * 2 + 1]! += w;
        else {
          marks[f * 2] = generation;
          marks[f * 2 + 1] = count;
          out[count * 2] = f;
          out[count++ * 2 + 1] = w;
        }
        continue;
      }
      // A Han feature no entry has: likewise (known to be its first occurrence when no Han character repeats).
      if (!mayRepeat) {
        out[count * 2] = -1;
        out[count++ * 2 + 1] = w;
        continue;
      }
      const at = unseenPairs.get(a, b);
      if (at >= 0) out[at * 2 + 1]! += w;
      else {
        unseenPairs.add(a, b, count);
        out[count * 2] = -1;
        out[count++ * 2 + 1] = w;
      }
    }
    if (unseenWords.size > 0) unseenWords.clear();
    return count;
  }

  /** The query's norm, its features' squares summed in order of first occurrence. */
  #queryNorm(count: number): number {
    let squares = 0;
    for (let s = 0; s < count; s++) {
      const f = query[s * 2]! | 0;
      const weight = query[s * 2 + 1]! * (f >= 0 ? this.#idf[f]! : this.#unseenIdf);
      squares += weight * weight;
    }
    return Math.sqrt(squares);
  }

  /** Adds feature `f`'s postings × `weight` to the candidates' dot products; returns the candidate count. */
  #addPostings(f: number, weight: number, generation: number, candidates: number): number {
    const dots = this.#dots;
    const dotSeen = this.#dotSeen;
    const end = this.#postingStart[f + 1]!;
    for (let p = this.#postingStart[f]!; p < end; p++) {
      const id = this.#postingQuestion[p]!;
      const x = weight * this.#postingWeight[p]!;
      if (dotSeen[id] === generation) dots[id]! += x;
      else {
        dotSeen[id] = generation;
        dots[id] = x;
        this.#candidates[candidates++] = id;
      }
    }
    return candidates;
  }
}

/** Sorts the first `count` terms by posting list length, longest first, stably. */
function sortTerms(count: number): void {
  if (count > 32) {
    const order = Array.from({ length: count }, (_, t) => t).sort((x, y) => term[y * 3 + 2]! - term[x * 3 + 2]! || x - y);
    const before = term.slice(0, count * 3);
    order.forEach((t, i) => {
      term.set(before.subarray(t * 3, t * 3 + 3), i * 3);
    });
    return;
  }
  // Insertion sort: a message has a few terms.
  for (let i = 1; i < count; i++) {
    const f = term[i * 3]!;
    const w = term[i * 3 + 1]!;
    const l = term[i * 3 + 2]!;
    let j = i - 1;
    for (; j >= 0 && term[j * 3 + 2]! < l; j--) {
      term[(j + 1) * 3] = term[j * 3]!;
      term[(j + 1) * 3 + 1] = term[j * 3 + 1]!;
      term[(j + 1) * 3 + 2] = term[j * 3 + 2]!;
    }
    term[(j + 1) * 3] = f;
    term[(j + 1) * 3 + 1] = w;
    term[(j + 1) * 3 + 2] = l;
  }
}
