import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { ApiCallObserver } from './api/client.ts';
import { SeriesCounter, SeriesHistogram, type CounterSeries, type HistogramSeries } from './metricSeries.ts';

/** Where a reply went: in the HTTP response, or through the active API. */
export type ReplyMode = 'passive' | 'active';

/**
 * The bot's Prometheus metrics (prom-client), in a registry of its own so several bots in
 * one process (tests) never collide. Served at `GET /metrics`.
 */
export class Metrics {
  readonly registry = new Registry();
  // The three metrics every callback touches are counted in plain numbers (metricSeries.ts)
  // and formatted when scraped; the rest are prom-client's own.
  readonly #callbacks = new SeriesCounter('wxbot_callbacks_total', 'Callbacks received, by channel and outcome (passive, no-reply, retry, ack, refused).', this.registry);
  readonly #callbackSeconds = new SeriesHistogram(
    'wxbot_callback_duration_seconds',
    'Time from request to HTTP answer, by channel.',
    [0.005, 0.01, 0.05, 0.1, 0.5, 1, 2, 4, 5],
    this.registry,
  );
  readonly #replySeconds = new SeriesHistogram(
    'wxbot_reply_latency_seconds',
    'Time from a message entering the pipeline to each reply leaving, by channel and mode.',
    [0.01, 0.05, 0.1, 0.5, 1, 2, 4, 8, 15, 30, 60],
    this.registry,
  );
  readonly #apiCalls = new Counter({
    name: 'wxbot_api_calls_total',
    help: 'WeChat API calls by endpoint and result (ok, or the errcode; -1 = network/HTTP).',
    labelNames: ['endpoint', 'result'] as const,
    registers: [this.registry],
  });
  readonly #apiSeconds = new Histogram({
    name: 'wxbot_api_call_duration_seconds',
    help: 'WeChat API call time (with retries), by endpoint.',
    labelNames: ['endpoint'] as const,
    buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10],
    registers: [this.registry],
  });
  readonly #kfSyncLag = new Gauge({
    name: 'wxbot_kf_sync_lag_seconds',
    help: 'Age of the last KF message handed to the pipeline (now - send_time), by channel.',
    labelNames: ['channel'] as const,
    registers: [this.registry],
  });
  readonly #kfCursorDropped = new Counter({
    name: 'wxbot_kf_cursor_dropped_total',
    help: 'KF sync cursors WeChat rejected (errcode 50100, invalid or expired) that were dropped, the sync starting again from now, by channel.',
    labelNames: ['channel'] as const,
    registers: [this.registry],
  });
  readonly #pluginErrors = new Counter({
    name: 'wxbot_plugin_errors_total',
    help: 'Errors thrown by plugins (or middleware), by plugin.',
    labelNames: ['plugin'] as const,
    registers: [this.registry],
  });

  // Series looked up by their label values, one map level a label, so a callback builds no
  // labels object, no key string and no closure (the label values are the channel's name and
  // constant outcomes, whose hashes V8 keeps).
  readonly #callbackSeries = new Map<string, Map<string, CounterSeries>>();
  readonly #callbackSecondsSeries = new Map<string, HistogramSeries>();
  readonly #replySeries = new Map<string, Map<string, HistogramSeries>>();

  constructor(options: { processMetrics?: boolean } = {}) {
    if (options.processMetrics) collectDefaultMetrics({ register: this.registry, prefix: 'wxbot_' });
  }

  callback(channel: string, outcome: string, seconds: number): void {
    let byOutcome = this.#callbackSeries.get(channel);
    if (!byOutcome) this.#callbackSeries.set(channel, (byOutcome = new Map()));
    let count = byOutcome.get(outcome);
    if (!count) byOutcome.set(outcome, (count = this.#callbacks.series({ channel, outcome })));
    count.inc();
    let duration = this.#callbackSecondsSeries.get(channel);
    if (!duration) this.#callbackSecondsSeries.set(channel, (duration = this.#callbackSeconds.series({ channel })));
    duration.observe(seconds);
  }

  reply(channel: string, mode: ReplyMode, seconds: number): void {
    let byMode = this.#replySeries.get(channel);
    if (!byMode) this.#replySeries.set(channel, (byMode = new Map()));
    let latency = byMode.get(mode);
    if (!latency) byMode.set(mode, (latency = this.#replySeconds.series({ channel, mode })));
    latency.observe(seconds);
  }

  pluginError(plugin: string | undefined): void {
    this.#pluginErrors.inc({ plugin: plugin ?? '(middleware)' });
  }

  kfSyncLag(channel: string, seconds: number): void {
    this.#kfSyncLag.set({ channel }, seconds);
  }

  kfCursorDropped(channel: string): void {
    this.#kfCursorDropped.inc({ channel });
  }

  /** An observer for {@link WeChatApiClient}. */
  readonly apiObserver: ApiCallObserver = ({ endpoint, ms, errcode, error }) => {
    this.#apiCalls.inc({ endpoint, result: error ? String(errcode ?? -1) : 'ok' });
    this.#apiSeconds.observe({ endpoint }, ms / 1000);
  };
}
