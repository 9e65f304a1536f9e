/**
 * CPU per message of the default bot's two per-message plugins alone, without the core: the
 * hand-off plugin (history of every message and reply, redelivery check) in front of the
 * keyword plugin (hand-off words, keyword rules, FAQ, fallback) as bot.config.ts sets them
 * up (examples/faq/rules.yaml), run by their own middleware and reply hook on the messages of
 * the callback bench (bench/traffic.ts: all new, 5,000 users, texts the rules and FAQ mostly
 * do not answer, so the fallback replies). The core's pipeline is replaced by the least that
 * runs them: one context object a message, `next()` chaining the two, `ctx.reply` going
 * through the hand-off plugin's reply hook.
 *
 *   npx tsx --conditions=@wxbot/source bench/plugins.ts
 *
 * Prints per pass the process CPU µs a message (user + system) for `harness` (a context and a
 * reply, no plugin: what the others include besides the plugins), `keyword` alone, `handoff`
 * alone (its `next()` answers with one reply, as the fallback does) and `both`; then the median
 * of each; per pass also the minor page faults a message (the hand-off's off-heap history log
 * takes a fresh page every ~16 messages until it has gone round once). Passes alternate the three, so a change in the machine's load hits all alike.
 */
import { fileURLToPath } from 'node:url';
import { createLogger, MemoryStore, type Context, type Message, type Reply } from '@wxbot/core';
import { handoff } from '@wxbot/plugin-handoff';
import { keyword } from '@wxbot/plugin-keyword';
import { median } from './run.ts';

const PASSES = Number(process.env.BENCH_PASSES ?? 7);
const PER_PASS = Number(process.env.BENCH_MESSAGES ?? 50_000);
/** The callback bench's texts (bench/traffic.ts), each with its serial number appended. */
const TEXTS = ['你好，想问一下 wxbot', '这个东西能不能再便宜点', '我的订单 SF-20261130 到哪了', 'hello there', '周末有人吗'];
const USERS = 5000;

type Middleware = (ctx: Context, next: () => Promise<void>) => Promise<void> | void;
type ReplyHook = (out: { channel: string; to: { user: string }; reply: Reply; answers?: string }, next: () => Promise<void>) => Promise<void> | void;

/** The plugin's middleware and reply hooks, from its setup with a scope that records them. */
async function setUp(plugin: { setup(scope: never): unknown }): Promise<{ use: Middleware[]; onReply: ReplyHook[] }> {
  const use: Middleware[] = [];
  const onReply: ReplyHook[] = [];
  const log = createLogger({ level: 'info', destination: { write: () => true } });
  const scope = new Proxy(
    {
      use: (m: Middleware) => void use.push(m),
      onReply: (h: ReplyHook) => void onReply.push(h),
      log,
      store: new MemoryStore(),
      handoffTargets: () => ({}),
      subscribe: () => ({ ready: Promise.resolve() }),
      publish: () => Promise.resolve(),
    },
    { get: (target, key) => (key in target ? target[key as keyof typeof target] : () => undefined) },
  );
  await plugin.setup(scope as never);
  return { use, onReply };
}

const faqFile = fileURLToPath(new URL('../examples/faq/rules.yaml', import.meta.url));
const kw = await setUp(keyword({ rulesFile: faqFile, watch: false, fallback: { topics: ['营业时间', '价格'] } }) as never);
const ho = await setUp(handoff({ token: 'bench-agent-token', stateFile: false }) as never);
const [keywordMiddleware] = kw.use;
const [handoffMiddleware] = ho.use;
const [replyHook] = ho.onReply;
if (!keywordMiddleware || !handoffMiddleware || !replyHook) throw new Error('a plugin registered no middleware or reply hook');

const channel = { name: 'officialAccount', kind: 'officialAccount' } as const;
const sent = () => Promise.resolve();
let serial = 0;

function message(): Message {
  const n = serial++;
  const text = `${TEXTS[n % TEXTS.length]} ${n}`;
  return { id: String(7_000_000_000_000_000_000n + BigInt(n)), channel, from: `o_user${n % USERS}`, to: 'gh_bench', time: new Date(), raw: {}, type: 'text', text } as Message;
}

/** The least context the two plugins use; `withHook`: replies go through the hand-off reply hook. */
function context(msg: Message, withHook: boolean): Context {
  const ctx = {
    message: msg,
    replies: 0,
    canHandoff: true,
    i18n: I18N,
    log: LOG,
    t: (_texts: unknown, key: string) => key,
    reply(input: string | Reply): Promise<void> {
      ctx.replies++;
      if (!withHook) return sent();
      const reply: Reply = typeof input === 'string' ? { type: 'text', text: input } : input;
      return Promise.resolve(replyHook!({ channel: msg.channel.name, to: { user: msg.from }, reply, answers: 'passive' }, sent));
    },
    handoff: () => Promise.resolve(),
  };
  return ctx as unknown as Context;
}
const I18N = {};
const LOG = createLogger({ level: 'info', destination: { write: () => true } });

const runs: Record<string, (msg: Message) => Promise<void> | void> = {
  // The harness alone (a context and a reply a message): subtract it from the others.
  harness: (msg: Message) => context(msg, false).reply('没听懂'),
  keyword: (msg: Message) => keywordMiddleware(context(msg, false), sent),
  handoff: (msg: Message) => {
    const ctx = context(msg, true);
    return handoffMiddleware(ctx, () => ctx.reply('没听懂'));
  },
  both: (msg: Message) => {
    const ctx = context(msg, true);
    return handoffMiddleware(ctx, () => Promise.resolve(keywordMiddleware(ctx, sent)));
  },
};

/** CPU µs and minor page faults a message (pages the system gives on first write: the hand-off's history log in its first lap). */
async function pass(run: (msg: Message) => Promise<void> | void): Promise<{ us: number; faults: number }> {
  const messages = Array.from({ length: PER_PASS }, message);
  const faults = process.resourceUsage().minorPageFault;
  const cpu = process.cpuUsage();
  for (const msg of messages) await run(msg);
  const used = process.cpuUsage(cpu);
  return { us: (used.user + used.system) / PER_PASS, faults: (process.resourceUsage().minorPageFault - faults) / PER_PASS };
}

// BENCH_ONLY=keyword,both: only these (to profile one).
const only = process.env.BENCH_ONLY?.split(',');
if (only) for (const name of Object.keys(runs)) if (!only.includes(name)) delete runs[name];
const results: Record<string, number[]> = Object.fromEntries(Object.keys(runs).map((name) => [name, []]));
for (let p = 0; p < PASSES + 1; p++) {
  for (const [name, run] of Object.entries(runs)) {
    const { us, faults } = await pass(run);
    if (p === 0) continue; // warm-up
    results[name]!.push(us);
    console.error(`pass ${p} ${name}: CPU ${us.toFixed(2)} µs/msg, ${faults.toFixed(3)} minor faults/msg`);
  }
}
for (const [name, values] of Object.entries(results)) {
  console.log(
    `${name}: median CPU ${median(values).toFixed(2)} µs/msg (range ${Math.min(...values).toFixed(2)}–${Math.max(...values).toFixed(2)}, ${PASSES} × ${PER_PASS} messages)`,
  );
}
