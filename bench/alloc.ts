/**
 * Bytes allocated per new message by the default bot's `handleCallback` (in-process, as
 * bench/handler.ts runs it), from V8's sampling heap profiler (collected objects included), and
 * where: the functions that allocate most. Load-independent, unlike CPU time on a shared
 * machine, so two versions compare exactly (allocation also drives GC and page clearing).
 *
 *   node --conditions=@wxbot/source --import tsx bench/alloc.ts plain [messages] > /dev/null
 *   BENCH_CALLERS=1 …   # each allocating function with its caller
 *   BENCH_NAMES=1 …     # also count closures named at run time per message (see below)
 *   BENCH_LIVE=1 …      # what is still alive after the pass and a full GC: what each message
 *                       # leaves in the heap (dedup marks, answers kept for retries, histories),
 *                       # which every scavenge copies and promotes
 *   BENCH_LIVE_WAIT=7000 …  # ms between the pass and that GC (default 200): what lives longer
 *
 * BENCH_NAMES: run from sources, tsx's keepNames gives every closure assigned to a const or a
 * property `__name(fn, "x")`, an Object.defineProperty costing ~0.3 µs; this counts those calls
 * per message (by wrapping Object.defineProperty before anything is loaded) and where they are.
 */
import { Session } from 'node:inspector/promises';
import { parse as parseQuery } from 'node:querystring';

const names = new Map<string, number>();
let countingNames = false;
if (process.env.BENCH_NAMES) {
  const define = Object.defineProperty;
  Object.defineProperty = ((target: object, key: PropertyKey, descriptor: PropertyDescriptor) => {
    if (countingNames && key === 'name' && typeof target === 'function') {
      const caller =
        (new Error().stack ?? '')
          .split('\n')[3]
          ?.trim()
          .replace(/^.*\/(packages|plugins|node_modules)\//, '$1/') ?? '';
      const where = `${String(descriptor.value)} @ ${caller}`;
      names.set(where, (names.get(where) ?? 0) + 1);
    }
    return define(target, key, descriptor);
  }) as typeof Object.defineProperty;
}

const { defaultBotEnv } = await import('./config.ts');
const { newMessages } = await import('./traffic.ts');
const mode = (process.argv[2] ?? 'plain') as 'plain' | 'safe';
const COUNT = Number(process.argv[3] ?? 10_000);
Object.assign(process.env, defaultBotEnv(mode));
const { createBot, resolveConfig } = await import('@wxbot/core');
const config = await resolveConfig((await import('../bot.config.ts')).default);
// WXBOT_BENCH_PLUGINS=keyword,voice: only the default bot's plugins named (as servers.ts's wxbot-only), to tell what each costs.
const only = process.env.WXBOT_BENCH_PLUGINS?.split(',');
const bot = createBot(only ? { ...config, plugins: (config.plugins ?? []).filter((p) => only.includes(p.name)) } : config);
await bot.init();
const channel = bot.channels.find((c) => c.path === '/wx');
if (!channel) throw new Error('no channel on /wx');

/** `count` new messages, signed (built before sampling: the profile holds the bot's allocations only). */
function build(count: number) {
  return newMessages(mode, count).map(({ path, body }) => ({ query: parseQuery(path.slice(path.indexOf('?') + 1)) as Record<string, string>, body }));
}

type Callback = ReturnType<typeof build>[number];

/**
 * The callbacks through handleCallback, 32 at a time, back to the event loop between. Each is
 * dropped from the array once handed over, as a server drops a request's body: the bot's parsers
 * flatten a body (a rope of the peer's pieces) into a new string, which the array would keep
 * alive and BENCH_LIVE count as the bot's (~520 B a message in plain mode, ~570 in safe).
 */
async function pass(callbacks: (Callback | undefined)[]): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < callbacks.length) {
      const index = next++;
      const callback = callbacks[index] as Callback;
      callbacks[index] = undefined;
      const answer = await bot.handleCallback(channel as NonNullable<typeof channel>, callback.query, callback.body);
      if (!answer.startsWith('<xml>')) throw new Error(`not a passive reply: ${answer}`);
      await new Promise(setImmediate);
    }
  };
  await Promise.all(Array.from({ length: 32 }, worker));
}

await pass(build(COUNT)); // warm-up: JIT, caches
const measured = build(COUNT);
const session = new Session();
session.connect();
const live = Boolean(process.env.BENCH_LIVE);
await session.post('HeapProfiler.startSampling', { samplingInterval: 256, includeObjectsCollectedByMajorGC: !live, includeObjectsCollectedByMinorGC: !live });
countingNames = true;
await pass(measured);
countingNames = false;
if (live) {
  await new Promise((resolve) => setTimeout(resolve, Number(process.env.BENCH_LIVE_WAIT ?? 200))); // log lines written, windows closed
  await session.post('HeapProfiler.collectGarbage');
}
const { profile } = await session.post('HeapProfiler.stopSampling');

type Node = (typeof profile)['head'];
const label = (f: Node['callFrame']) =>
  `${f.functionName || '(anonymous)'} ${f.url.replace(/^.*\/(node_modules|packages|plugins|bench)\//, '$1/')}:${f.lineNumber + 1}:${f.columnNumber + 1}`;
const bytes = new Map<string, number>();
let total = 0;
const walk = (node: Node, caller: string): void => {
  const here = label(node.callFrame);
  const key = process.env.BENCH_CALLERS ? `${here} ← ${caller}` : here;
  bytes.set(key, (bytes.get(key) ?? 0) + node.selfSize);
  total += node.selfSize;
  for (const child of node.children) walk(child, here);
};
walk(profile.head, '');
console.error(`${mode}: ${(total / COUNT / 1024).toFixed(1)} KB ${live ? 'still alive after GC' : 'allocated'} a message (${COUNT} new messages, sampling every 256 bytes)`);
for (const [where, b] of [...bytes].sort((x, y) => y[1] - x[1]).slice(0, Number(process.env.TOP ?? 25))) console.error(`${(b / COUNT).toFixed(0).padStart(7)} B  ${where}`);
if (process.env.BENCH_NAMES) {
  let named = 0;
  for (const n of names.values()) named += n;
  console.error(`closures named at run time: ${(named / COUNT).toFixed(2)} a message`);
  for (const [where, n] of [...names].sort((x, y) => y[1] - x[1]).slice(0, 20)) console.error(`${(n / COUNT).toFixed(2).padStart(7)}  ${where}`);
}
await bot.stop();
process.exit(0);
