/**
 * FAQ cost as the FAQ grows: µs per message for 10, 1,000 and 10,000 entries (3 wordings
 * each), with `best()` (candidates only) against scoring every paraphrase that shares a
 * feature (`scores()`, what `best()` did before) in the same run. Messages: half rewordings
 * of an entry, half unrelated. Goal: under 200 µs a message at 10,000 entries.
 *
 *   npx tsx bench/faq.ts
 */
import { FaqIndex } from '@wxbot/plugin-keyword';
import { syntheticFaq } from '../plugins/keyword/test/fixtures/synthetic.ts';
import { median } from './run.ts';

const SIZES = (process.env.BENCH_FAQ_SIZES ?? '10,1000,10000').split(',').map(Number);
const THRESHOLD = 0.5;

/** µs per call of `fn` over `texts`, the median of 5 passes (after one warm-up pass). */
function perCall(texts: readonly string[], fn: (text: string) => unknown): number {
  const passes: number[] = [];
  for (let pass = 0; pass < 6; pass++) {
    const started = process.hrtime.bigint();
    for (const text of texts) fn(text);
    if (pass > 0) passes.push(Number(process.hrtime.bigint() - started) / 1000 / texts.length);
  }
  return median(passes);
}

const rows = [];
for (const size of SIZES) {
  const faq = syntheticFaq(size, 200);
  const built = process.hrtime.bigint();
  const index = new FaqIndex(faq.entries);
  const buildMs = Number(process.hrtime.bigint() - built) / 1e6;
  const texts = [...faq.hits.map(([t]) => t), ...faq.misses];
  const best = perCall(texts, (t) => index.best(t, THRESHOLD));
  const all = perCall(texts, (t) => index.scores(t));
  const answered = faq.hits.filter(([t, v]) => index.best(t, THRESHOLD)?.value === v).length;
  rows.push({ entries: size, wordings: index.size, 'build ms': Math.round(buildMs), 'best() µs/msg': Math.round(best), 'score-all µs/msg': Math.round(all), speed_up: (all / best).toFixed(1), 'rewordings answered': `${answered}/${faq.hits.length}` });
}
console.table(rows);
