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
import { fold } from './text.ts';

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
const FUNCTION_CHARS = new Set([...'的了是我你您们他她它这那哪里么怎什吗呢吧啊呀哦嘛可以能会要想得在有没不就都也还和与或如何样多少个些请问下办']);

/** Weight of a function bigram relative to a content bigram. */
const FUNCTION_WEIGHT = 0.3;
/** Weight of a character unigram relative to a bigram. */
const UNIGRAM_WEIGHT = 0.6;
/** Weight of a latin/digit word. */
const WORD_WEIGHT = 1;

const SEGMENTS = /\p{Script=Han}+|(?:(?!\p{Script=Han})[\p{L}\p{N}])+/gu;
const HAN = /^\p{Script=Han}/u;

/**
 * The first characters of the fillers: a text with none of them has no filler (and removing
 * one leaves a space, which starts none), so it skips the eleven `replaceAll` scans.
 */
const FILLER_START = new RegExp(`[${[...new Set(FILLERS.map((filler) => filler[0]))].join('')}]`);

/** The text as the similarity sees it: folded, fillers, particles and punctuation gone. */
export function normalizeForSimilarity(text: string): string {
  return normalizeFolded(fold(text));
}

/** {@link normalizeForSimilarity} of a text already {@link fold}ed. */
function normalizeFolded(folded: string): string {
  let t = folded;
  if (FILLER_START.test(t)) for (const filler of FILLERS) t = t.replaceAll(filler, ' ');
  return t.replace(PARTICLES, ' ');
}

/** A sparse feature vector: feature → weight. */
export type Features = Map<string, number>;

/** The weighted features of a text, before inverse document frequency. */
export function featuresOf(text: string): Features {
  return featuresOfFolded(fold(text));
}

/** {@link featuresOf} a text already {@link fold}ed (the keyword plugin folds each message once). */
function featuresOfFolded(folded: string): Features {
  const features: Features = new Map();
  // match() with the global flag: the segments as strings, without an iterator and a match array each.
  for (const segment of normalizeFolded(folded).match(SEGMENTS) ?? []) {
    if (!HAN.test(segment)) {
      addFeature(features, `w:${segment}`, WORD_WEIGHT);
      continue;
    }
    // Character by character (code points: a Han character may take two code units), each
    // one's bigram with the previous, then its unigram: the order the index was built in.
    // Read in place, not as an array of the characters (this runs for every text message).
    let previous: string | undefined;
    for (let i = 0; i < segment.length; ) {
      const c = (segment.codePointAt(i) as number) > 0xffff ? segment.slice(i, i + 2) : (segment[i] as string);
      i += c.length;
      if (previous !== undefined) addFeature(features, `b:${previous}${c}`, FUNCTION_CHARS.has(previous) && FUNCTION_CHARS.has(c) ? FUNCTION_WEIGHT : 1);
      if (!FUNCTION_CHARS.has(c)) addFeature(features, `u:${c}`, UNIGRAM_WEIGHT);
      previous = c;
    }
  }
  return features;
}

function addFeature(features: Features, key: string, weight: number): void {
  features.set(key, (features.get(key) ?? 0) + weight);
}

function norm(v: Features): number {
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
  /** The paraphrase's weighted vector, to finish a candidate's score. */
  readonly vector: Features;
}

/** A query feature with the paraphrases that have it. */
interface QueryTerm {
  readonly weight: number;
  readonly postings: ReadonlyArray<readonly [number, number]>;
  readonly key: string;
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
 */
export class FaqIndex<T> {
  readonly #idf = new Map<string, number>();
  /** The weight of a query feature no entry has. */
  readonly #unseenIdf: number;
  readonly #questions: IndexedQuestion<T>[] = [];
  /** feature → [paraphrase index, weight] pairs, in paraphrase order. */
  readonly #postings = new Map<string, Array<readonly [number, number]>>();
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
    for (const [k, d] of df) this.#idf.set(k, Math.log((1 + n) / (1 + d)) + 1);
    // A query word no entry has cannot match, but it does dilute the score. How rare it
    // really is is unknown, so it weighs as a word shared by half of the entries: neither
    // as heavy as the rarest FAQ word (long questions with extra words would score too low)
    // nor as light as the commonest.
    this.#unseenIdf = Math.log((1 + n) / (1 + n / 2)) + 1;
    entries.forEach((entry, i) => {
      for (const { question, features } of perEntry[i] ?? []) {
        const vector = this.#weigh(features);
        const length = norm(vector);
        if (length === 0) continue; // only fillers and punctuation: nothing to match on
        const id = this.#questions.push({ question, value: entry.value, norm: length, vector }) - 1;
        for (const [k, w] of vector) {
          let list = this.#postings.get(k);
          if (!list) this.#postings.set(k, (list = []));
          list.push([id, w]);
        }
      }
    });
  }

  /** How many paraphrases are indexed. */
  get size(): number {
    return this.#questions.length;
  }

  /** Every paraphrase sharing a feature with `text`, with its score, best first (for tuning). */
  scores(text: string): FaqHit<T>[] {
    const query = this.#weigh(featuresOf(text));
    const queryNorm = norm(query);
    if (queryNorm === 0) return [];
    const dots = new Map<number, number>();
    for (const [k, w] of query) {
      for (const [id, qw] of this.#postings.get(k) ?? []) dots.set(id, (dots.get(id) ?? 0) + w * qw);
    }
    const hits: (FaqHit<T> & { id: number })[] = [];
    for (const [id, d] of dots) {
      const q = this.#questions[id]!;
      hits.push({ id, value: q.value, question: q.question, score: d / (queryNorm * q.norm) });
    }
    return hits.sort((a, b) => b.score - a.score || a.id - b.id).map(({ id: _, ...hit }) => hit);
  }

  /**
   * The best-scoring paraphrase at or above `threshold`, if any; of equal scores, the one
   * indexed first (earlier entry, earlier wording). Scores only candidates (see the class).
   * `folded`: the text already {@link fold}ed, when the caller has it.
   */
  best(text: string, threshold: number, folded: string = fold(text)): FaqHit<T> | undefined {
    const terms: QueryTerm[] = [];
    let squares = 0;
    for (const [key, w] of featuresOfFolded(folded)) {
      const weight = w * (this.#idf.get(key) ?? this.#unseenIdf);
      squares += weight * weight;
      const postings = this.#postings.get(key);
      if (postings) terms.push({ key, weight, postings });
    }
    const queryNorm = Math.sqrt(squares);
    if (queryNorm === 0) return undefined;
    // Longest lists first: skip them while a paraphrase sharing only those stays below the bar.
    terms.sort((a, b) => b.postings.length - a.postings.length);
    const bar = threshold * queryNorm;
    let skipped = 0;
    let skippedSquares = 0;
    while (skipped < terms.length) {
      const w = terms[skipped]!.weight;
      if (Math.sqrt(skippedSquares + w * w) >= bar) break;
      skippedSquares += w * w;
      skipped++;
    }
    const dots = new Map<number, number>();
    for (let t = skipped; t < terms.length; t++) {
      const { weight, postings } = terms[t]!;
      for (const [id, qw] of postings) dots.set(id, (dots.get(id) ?? 0) + weight * qw);
    }
    let bestId = -1;
    let bestScore = -1;
    for (const [id, partial] of dots) {
      const q = this.#questions[id]!;
      let d = partial;
      for (let t = 0; t < skipped; t++) {
        const other = q.vector.get(terms[t]!.key);
        if (other !== undefined) d += terms[t]!.weight * other;
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

  #weigh(features: Features): Features {
    const out: Features = new Map();
    for (const [k, w] of features) out.set(k, w * (this.#idf.get(k) ?? this.#unseenIdf));
    return out;
  }
}
