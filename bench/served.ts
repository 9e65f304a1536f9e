/**
 * Preloaded into every bench server (run.ts: `--import <this file>`, after tsx): how long the
 * server itself took over each request of a watched window, the same hook whatever the server
 * (bare node:http, Koa, co-wechat, the bot's callback path on node:http ahead of Koa, another
 * checkout's bot). A preload, not servers.ts or watch.ts, because `server@dir` runs that
 * checkout's servers.ts and watch.ts (bench/scripts.ts is preloaded for the same reason).
 *
 * Timed from node:http's diagnostics channel 'http.server.request.start' (published as the
 * parser hands the request over, just before the server's 'request' event, so before any
 * listener of the server under test runs) to 'http.server.response.finish' (published from
 * node:http's own 'finish' listener of the response: the last byte handed to the OS). It
 * excludes what comes before the request is parsed (the kernel's accept and socket queue, the
 * wait for the loop, the HTTP parser) and after `finish` (the kernel's send); a server whose loop
 * is busy elsewhere when bytes arrive shows that delay in the client's latency, not here.
 *
 * Subscribed from the start, recording only from the 'watch' ask to the 'served' ask (IPC, as
 * servers.ts's own asks). Subscribing is what costs: node:http's functions that publish are
 * deoptimized and compiled again (in a window's first requests, measured), so that happens at
 * start-up and in the warm-up, not in the window. Outside a window a request costs the two
 * publishes and two early returns (counted by bench/servedInstructions.ts). 'served' answers
 * `{ served }` (see {@link Served}) and ends the window; requests started before the window or
 * still running at its end are not counted.
 */
import { subscribe } from 'node:diagnostics_channel';
import { createHistogram, performance, type RecordableHistogram } from 'node:perf_hooks';

/** Server-side latency of the window's requests (ms, 2 decimals) and how many were timed. */
export interface Served {
  count: number;
  p50: number;
  p99: number;
  max: number;
}

/** What node:http publishes on both channels (only the response is used). */
interface HttpMessage {
  response: object;
}

/** When each request of the window started (performance.now() ms), by its response. */
const started = new Map<object, number>();
/** The window's durations; undefined outside a window. */
let histogram: RecordableHistogram | undefined;

function onStart(message: unknown): void {
  if (histogram) started.set((message as HttpMessage).response, performance.now());
}

function onFinish(message: unknown): void {
  if (!histogram) return;
  const response = (message as HttpMessage).response;
  const at = started.get(response);
  if (at === undefined) return;
  started.delete(response);
  // Nanoseconds, at least 1 (the histogram takes integers ≥ 1).
  histogram.record(Math.max(1, Math.round((performance.now() - at) * 1e6)));
}

subscribe('http.server.request.start', onStart);
subscribe('http.server.response.finish', onFinish);

/** Starts (or restarts) a window. */
export function start(): void {
  histogram = createHistogram();
  started.clear();
}

/** Ends the window: what its requests took. All zero when none was timed (or no window ran). */
export function stop(): Served {
  const h = histogram;
  histogram = undefined;
  started.clear();
  const ms = (ns: number) => Math.round(ns / 1e4) / 100;
  return h && h.count > 0 ? { count: h.count, p50: ms(h.percentile(50)), p99: ms(h.percentile(99)), max: ms(h.max) } : { count: 0, p50: 0, p99: 0, max: 0 };
}

process.on('message', (ask) => {
  if (ask === 'watch') start();
  else if (ask === 'served') process.send?.({ served: stop() });
});
