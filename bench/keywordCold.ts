/**
 * The keyword plugin's work on a message with cold caches, as over HTTP, in process: before each
 * message the CPU caches are evicted (a read and write of BENCH_EVICT_KB of memory, 2 MiB by
 * default: more than a core's L2), then only the plugin's synchronous part is timed (folding,
 * hand-off words, rules, the FAQ: everything before its middleware returns its promise). Over
 * HTTP the other processes on the 2 cores and the rest of the request take the caches between
 * two messages, and the plugin costs several times what it does in a tight loop: ~6 µs here
 * against ~1 µs warm, as in a CPU profile of the server. A server bench cannot see a change of a
 * few hundred ns in that on this machine; this can.
 *
 *   npx tsx --conditions=@wxbot/source bench/keywordCold.ts [checkout ...]
 *
 * Each checkout's own keyword plugin and core (default: this one) is set up as bot.config.ts
 * sets it up (examples/faq/rules.yaml, the fallback), and run on the callback bench's texts
 * (bench/traffic.ts, numbered, flat strings as the XML parser's owned() makes them), the
 * checkouts taking turns message by message. Prints per checkout the quartiles of the time a
 * message and the mean of the fastest 90 %. BENCH_EVICT_KB=0: warm caches.
 */
import { resolve } from 'node:path';
import type { Context, Message } from '@wxbot/core';

const checkouts = process.argv.length > 2 ? process.argv.slice(2).map((dir) => resolve(dir)) : [resolve(import.meta.dirname, '..')];
const MESSAGES = Number(process.env.BENCH_MESSAGES ?? 20_000);
const WARM_UP = 2000;
const evict = new Int32Array((Number(process.env.BENCH_EVICT_KB ?? 2048) * 1024) / 4);
/** The callback bench's texts (bench/traffic.ts), each with its serial number appended. */
const TEXTS = ['你好，想问一下 wxbot', '这个东西能不能再便宜点', '我的订单 SF-20261130 到哪了', 'hello there', '周末有人吗'];
const channel = { name: 'officialAccount', kind: 'officialAccount' } as const;

type Middleware = (ctx: Context, next: () => Promise<void>) => Promise<void> | void;

/** The checkout's keyword middleware, set up with a scope that records it. */
async function middlewareOf(checkout: string): Promise<Middleware> {
  const core = (await import(`${checkout}/packages/core/src/index.ts`)) as typeof import('@wxbot/core');
  const { keyword } = (await import(`${checkout}/plugins/keyword/src/index.ts`)) as typeof import('@wxbot/plugin-keyword');
  const use: Middleware[] = [];
  const scope = new Proxy(
    {
      use: (m: Middleware) => void use.push(m),
      log: core.createLogger({ level: 'info', destination: { write: () => true } }),
      store: new core.MemoryStore(),
      handoffTargets: () => ({}),
    },
    { get: (target, key) => (key in target ? target[key as keyof typeof target] : () => undefined) },
  );
  const plugin = keyword({ rulesFile: `${checkout}/examples/faq/rules.yaml`, watch: false, fallback: { topics: ['营业时间', '价格'] } });
  await (plugin as unknown as { setup(scope: never): Promise<unknown> }).setup(scope as never);
  if (!use[0]) throw new Error(`${checkout}: the keyword plugin registered no middleware`);
  return use[0];
}

const middlewares = await Promise.all(checkouts.map(middlewareOf));
const sent = () => Promise.resolve();
const LOG = { info() {}, warn() {}, debug() {} };
const I18N = {};
/** Flat, as owned() leaves the XML's texts (a two-part join writes a new sequential string). */
const flat = (s: string) => [s.slice(0, 1), s.slice(1)].join('');
let serial = 0;

/** The least context the plugin uses (as bench/plugins.ts). */
function context(): Context {
  const n = serial++;
  const message = {
    id: String(n),
    channel,
    from: `o_user${n % 5000}`,
    to: 'gh_bench',
    time: new Date(),
    raw: {},
    type: 'text',
    text: flat(`${TEXTS[n % TEXTS.length]} ${n}`),
  } as Message;
  const ctx = {
    message,
    replies: 0,
    canHandoff: true,
    i18n: I18N,
    log: LOG,
    t: (_texts: unknown, key: string) => key,
    reply(): Promise<void> {
      ctx.replies++;
      return sent();
    },
    handoff: sent,
  };
  return ctx as unknown as Context;
}

let sink = 0;
function evictCaches(): void {
  for (let i = 0; i < evict.length; i += 16) sink += evict[i]!++;
}

const times = checkouts.map(() => [] as number[]);
for (let m = 0; m < WARM_UP + MESSAGES; m++) {
  for (let turn = 0; turn < middlewares.length; turn++) {
    const which = (turn + m) % middlewares.length; // who goes first alternates
    const ctx = context();
    evictCaches();
    const start = process.hrtime.bigint();
    const done = middlewares[which]!(ctx, sent);
    const end = process.hrtime.bigint();
    await done;
    if (m >= WARM_UP) times[which]!.push(Number(end - start));
  }
}
if (sink === 0.5) console.log(sink); // keeps the eviction loop from being dropped

const sorted = times.map((t) => [...t].sort((a, b) => a - b));
const at = (t: number[], q: number) => t[Math.floor(t.length * q)]!;
checkouts.forEach((checkout, i) => {
  const t = sorted[i]!;
  const fastest = t.slice(0, Math.floor(t.length * 0.9));
  const mean = fastest.reduce((a, b) => a + b, 0) / fastest.length;
  console.log(
    `${checkout}: ns a message p25 ${at(t, 0.25)} median ${at(t, 0.5)} p75 ${at(t, 0.75)}, mean of the fastest 90 % ${Math.round(mean)} (${MESSAGES} messages, ${evict.length / 256} KiB evicted before each)`,
  );
});
