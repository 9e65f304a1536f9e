/**
 * FAQ cost as the FAQ grows: µs per message for 10, 1,000 and 10,000 entries (3 wordings
 * each), measured in the same run as (a) turning the message into features, which any
 * index pays, and (b) scoring every paraphrase that shares a feature, as `best()` did before
 * (a threshold of 0 prunes nothing). Messages: half rewordings of an entry, half unrelated.
 * Goal: under 200 µs a message at 10,000 entries.
 *
 *   npx tsx bench/faq.ts
 */
import { FaqIndex, featuresOf } from '@wxbot/plugin-keyword';
import { syntheticFaq } from '../plugins/keyword/test/fixtures/synthetic.ts';

const SIZES = (process.env.BENCH_FAQ_SIZES ?? '10,1000,10000').split(',').map(Number);
const THRESHOLD = 0.5;

/**
 * µs per message of each function over `texts`: passes interleaved (so a change in the
 * machine's load hits all alike), two warm-up passes, then the fastest pass: on a shared
 * machine interference only ever adds time, so the minimum is the least disturbed figure.
 */
function perCall(texts: readonly string[], fns: Record<string, (text: string) => unknown>): Record<string, number> {
  const passes: Record<string, number[]> = Object.fromEntries(Object.keys(fns).map((k) => [k, []]));
  for (let pass = 0; pass < 12; pass++) {
    for (const [name, fn] of Object.entries(fns)) {
      const started = process.hrtime.bigint();
      for (const text of texts) fn(text);
      if (pass > 1) passes[name]!.push(Number(process.hrtime.bigint() - started) / 1000 / texts.length);
    }
  }
  return Object.fromEntries(Object.entries(passes).map(([k, v]) => [k, Math.min(...v)]));
}

const rows = [];
for (const size of SIZES) {
  const faq = syntheticFaq(size, 100);
  const built = process.hrtime.bigint();
  const index = new FaqIndex(faq.entries);
  const buildMs = Number(process.hrtime.bigint() - built) / 1e6;
  const texts = [...faq.hits.map(([t]) => t), ...faq.misses];
  const t = perCall(texts, { features: (x) => featuresOf(x), best: (x) => index.best(x, THRESHOLD), all: (x) => index.best(x, 0) });
  const answered = faq.hits.filter(([x, v]) => index.best(x, THRESHOLD)?.value === v).length;
  rows.push({
    entries: size,
    wordings: index.size,
    'build ms': Math.round(buildMs),
    'features only µs': Math.round(t['features']!),
    'best() µs/msg': Math.round(t['best']!),
    'score all µs/msg': Math.round(t['all']!),
    'score all / best()': (t['all']! / t['best']!).toFixed(1),
    'rewordings answered': `${answered}/${faq.hits.length}`,
  });
}
console.table(rows);
