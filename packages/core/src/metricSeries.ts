/**
 * Counters and histograms for the callback path, counted in plain numbers and turned into
 * Prometheus text only when /metrics is scraped. prom-client's own metrics hash the label
 * object and validate it on every observation, even through a cached child (~4 µs a
 * callback, measured); here a series is looked up once by the caller and an observation is
 * a few additions. Both register with a prom-client Registry as custom metrics (`get()`
 * in prom-client's format), so the scrape output is the same as prom-client's.
 */
import type { Registry } from 'prom-client';

type Labels = Readonly<Record<string, string>>;

interface MetricValue {
  labels: Record<string, string | number>;
  value: number;
  metricName?: string;
}

/** One labelled counter series. */
export class CounterSeries {
  value = 0;
  constructor(readonly labels: Labels) {}
  inc(by = 1): void {
    this.value += by;
  }
}

/** One labelled histogram series: per-bucket counts (not cumulative), sum and count. */
export class HistogramSeries {
  readonly counts: Float64Array;
  sum = 0;
  count = 0;
  constructor(
    readonly labels: Labels,
    private readonly upperBounds: readonly number[],
  ) {
    this.counts = new Float64Array(upperBounds.length);
  }
  observe(value: number): void {
    this.sum += value;
    this.count += 1;
    const bounds = this.upperBounds;
    for (let i = 0; i < bounds.length; i++) {
      if (value <= bounds[i]!) {
        this.counts[i]! += 1;
        return;
      }
    }
  }
}

abstract class SeriesMetric<S extends { labels: Labels }> {
  readonly aggregator = 'sum';
  readonly #series = new Map<string, S>();
  constructor(
    readonly name: string,
    readonly help: string,
    registry: Registry,
  ) {
    registry.registerMetric(this as never);
  }
  /** The series for these label values (made on first use); keep it, it is the fast handle. */
  series(labels: Labels): S {
    const key = Object.values(labels).join('\u0000');
    let series = this.#series.get(key);
    if (!series) this.#series.set(key, (series = this.make(labels)));
    return series;
  }
  protected abstract make(labels: Labels): S;
  protected all(): IterableIterator<S> {
    return this.#series.values();
  }
  reset(): void {
    this.#series.clear();
  }
}

/** A counter whose series are {@link CounterSeries}. */
export class SeriesCounter extends SeriesMetric<CounterSeries> {
  readonly type = 'counter';
  protected make(labels: Labels): CounterSeries {
    return new CounterSeries(labels);
  }
  get(): { name: string; help: string; type: string; aggregator: string; values: MetricValue[] } {
    const values = [...this.all()].map((s) => ({ labels: { ...s.labels }, value: s.value }));
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }
}

/** A histogram whose series are {@link HistogramSeries}; buckets are made cumulative at scrape. */
export class SeriesHistogram extends SeriesMetric<HistogramSeries> {
  readonly type = 'histogram';
  constructor(
    name: string,
    help: string,
    readonly upperBounds: readonly number[],
    registry: Registry,
  ) {
    super(name, help, registry);
  }
  protected make(labels: Labels): HistogramSeries {
    return new HistogramSeries(labels, this.upperBounds);
  }
  get(): { name: string; help: string; type: string; aggregator: string; values: MetricValue[] } {
    const values: MetricValue[] = [];
    for (const s of this.all()) {
      let cumulative = 0;
      this.upperBounds.forEach((le, i) => {
        cumulative += s.counts[i]!;
        values.push({ labels: { le, ...s.labels }, value: cumulative, metricName: `${this.name}_bucket` });
      });
      values.push({ labels: { le: '+Inf', ...s.labels }, value: s.count, metricName: `${this.name}_bucket` });
      values.push({ labels: { ...s.labels }, value: s.sum, metricName: `${this.name}_sum` });
      values.push({ labels: { ...s.labels }, value: s.count, metricName: `${this.name}_count` });
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }
}
