import { Counter, Histogram, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { SeriesCounter, SeriesHistogram } from '../src/metricSeries.ts';

/** The scrape text of a registry without its HELP/TYPE header lines' order mattering. */
const scrape = async (registry: Registry) => (await registry.metrics()).trim();

describe('series metrics scrape exactly as prom-client metrics do', () => {
  it('a histogram: cumulative buckets, +Inf, sum and count per label set', async () => {
    const ours = new Registry();
    const theirs = new Registry();
    const buckets = [0.005, 0.01, 0.05, 0.1, 0.5, 1, 2, 4, 5];
    const mine = new SeriesHistogram('h_seconds', 'help text', buckets, ours);
    const reference = new Histogram({ name: 'h_seconds', help: 'help text', labelNames: ['channel'], buckets, registers: [theirs] });
    const values = [0, 0.004, 0.005, 0.0051, 0.2, 0.7, 3, 4.5, 5, 9, 120];
    for (const [i, v] of values.entries()) {
      const channel = i % 3 ? 'wecomApp' : 'officialAccount "a"';
      mine.series({ channel }).observe(v);
      reference.observe({ channel }, v);
    }
    expect(await scrape(ours)).toBe(await scrape(theirs));
  });

  it('a counter per label set', async () => {
    const ours = new Registry();
    const theirs = new Registry();
    const mine = new SeriesCounter('c_total', 'counted', ours);
    const reference = new Counter({ name: 'c_total', help: 'counted', labelNames: ['channel', 'outcome'], registers: [theirs] });
    for (const outcome of ['passive', 'retry', 'passive', 'refused', 'passive']) {
      mine.series({ channel: 'oa', outcome }).inc();
      reference.inc({ channel: 'oa', outcome });
    }
    expect(await scrape(ours)).toBe(await scrape(theirs));
  });
});
