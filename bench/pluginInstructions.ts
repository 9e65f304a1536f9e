/**
 * Machine instructions per message of the default bot's per-message plugins alone (the hand-off
 * in front of the keyword plugin, set up as bot.config.ts sets them up), counted by valgrind
 * (callgrind), for checkouts side by side: a count, not a time, so it holds on a shared machine
 * where bench/plugins.ts's µs swing with the load. As bench/instructions.ts: each checkout runs in
 * a process of its own under callgrind twice, over N1 and over N2 messages; the difference
 * divided by N2 − N1 is one message once the JIT has settled, start-up and loading cancelled out.
 *
 *   npx tsx --conditions=@wxbot/source bench/pluginInstructions.ts [scope] /work/wt/base .
 *
 * Scope: `both` (default: hand-off middleware, keyword middleware, the fallback reply through the
 * hand-off's reply hook, as a new message of the callback bench takes), `keyword` (its middleware
 * and fallback, no hand-off), `handoff` (its middleware, `next()` replying the fallback's text
 * through its reply hook) or `harness` (a context and a reply: what the others include besides
 * the plugins). Messages as bench/traffic.ts makes them (5 000 users, numbered texts), their
 * strings flat as core's `owned()` leaves them. BENCH_COUNTS="2000 8000" (N1 N2), counted after
 * BENCH_WARMUP (6 000) messages and a full GC, uncounted.
 * Prints the instructions a message, and of them the collector's, the compilers' and the rest
 * (the code's own: a mark-compact or a compilation falls in or out of the window by thresholds).
 * BENCH_CALLGRIND_DIR=dir keeps the callgrind files there (callgrind.<scope>.<checkout name>.<N>)
 * for `callgrind_annotate --inclusive=yes`: V8's builtins and runtime functions are named,
 * JIT-compiled JavaScript is not: the kept processes write /tmp/perf-PID.map, and
 * `npx tsx bench/callgrindJs.ts FILE N` names it (N: the file's message count).
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Context, Message, Reply } from '@wxbot/core';
import { countedNode } from './callgrindWindow.ts';

/** Functions of V8's garbage collector (and the page zeroing and freeing it does). */
const GC =
  /v8::internal::(Heap|Scavenger|Scavenge|MarkCompact|Marking|Mark|Sweeper|Sweep|Evacuat|Concurrent|Minor|Young|Full|BodyDescriptor|IterateObjectCache|RememberedSet|SlotSet|TypedSlot|MemoryAllocator|MemoryChunk|Page|PagedSpace|NewSpace|SemiSpace|LargeObject|IncrementalMarking|GlobalHandles|.*Visitor|.*Collector|.*Evacuator|.*Sweeper|heap::|.*Updating)|^heap::|HeapObject::SizeFromMap|cppgc::/;
/** Functions of V8's compilers (TurboFan, Maglev, the baseline compiler) and the bytecode compiler. */
const COMPILER = /v8::internal::(compiler::|maglev::|baseline::|interpreter::Bytecode|Parser|ParserBase|Scanner|Zone|AstNode|.*Compil)/;

type Scope = 'both' | 'keyword' | 'handoff' | 'harness';

if (process.argv[2] === '--run') {
  const [dir, count, scope] = process.argv.slice(3) as [string, string, Scope];
  await run(resolve(dir), Number(count), scope);
} else {
  await main();
}

async function main(): Promise<void> {
  const [scope = 'both', ...dirs] = process.argv.slice(2) as [Scope, ...string[]];
  const [n1, n2] = (process.env.BENCH_COUNTS ?? '2000 8000').split(' ').map(Number) as [number, number];
  const work = mkdtempSync(join(tmpdir(), 'wxbot-plugin-instructions-'));
  const keepDir = process.env.BENCH_CALLGRIND_DIR ? resolve(process.env.BENCH_CALLGRIND_DIR) : work;
  try {
    for (const dir of dirs.length > 0 ? dirs : ['.']) {
      const file = (n: number) => join(keepDir, `callgrind.${scope}.${basename(resolve(dir))}.${n}`);
      await instructions(dir, n1, scope, file(n1));
      await instructions(dir, n2, scope, file(n2));
      const [c1, c2] = [split(file(n1)), split(file(n2))];
      const per = (part: keyof Split) => Math.round((c2[part] - c1[part]) / (n2 - n1)).toLocaleString('en');
      console.log(
        `${dir} ${scope}: ${per('total')} instructions a message: ${per('rest')} the code's own (JavaScript, builtins, runtime), ${per('gc')} the collector, ${per('compiler')} the compiler (${c1.total.toLocaleString('en')} / ${c2.total.toLocaleString('en')} over ${n1} / ${n2})`,
      );
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

interface Split {
  total: number;
  gc: number;
  compiler: number;
  rest: number;
}

/**
 * A callgrind file's instructions by who ran them: V8's collector and its compilers run at
 * thresholds (a mark-compact inside or just past the counted window is ±5k instructions a
 * message over 6 000), so the code's own share is the figure to compare a change by.
 */
function split(file: string): Split {
  const { stdout } = spawnSync('callgrind_annotate', ['--threshold=100', file], { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 });
  const out: Split = { total: 0, gc: 0, compiler: 0, rest: 0 };
  for (const line of stdout.split('\n')) {
    const match = /^\s*([\d,]+) \([^)]*\)\s+(.*)$/.exec(line);
    if (!match) continue;
    const count = Number(match[1]!.replaceAll(',', ''));
    const name = match[2]!;
    if (name.includes('PROGRAM TOTALS')) {
      out.total = count;
      continue;
    }
    if (GC.test(name)) out.gc += count;
    else if (COMPILER.test(name)) out.compiler += count;
  }
  out.rest = out.total - out.gc - out.compiler;
  return out;
}

/**
 * Instructions callgrind counted over the first `count` messages: instrumentation is switched
 * on (`callgrind_control -i on`) only once the process has loaded and set the plugins up, so
 * start-up (~7 billion instructions, whose run-to-run spread was larger than the messages'
 * work) is not in the count.
 */
function instructions(dir: string, count: number, scope: Scope, keep: string): Promise<number> {
  // One thread, as bench/instructions.ts: V8's compiler and collector work at points the work
  // sets, not at points set by how fast helper threads ran under valgrind.
  // Kept files come with where the JIT code lies (/tmp/perf-PID.map), for bench/callgrindJs.ts to name it.
  const node = countedNode(import.meta.filename, [dir, count, scope], { perf: Boolean(process.env.BENCH_CALLGRIND_DIR) });
  const child = spawn('valgrind', ['--tool=callgrind', '--instr-atstart=no', `--callgrind-out-file=${keep}`, ...node], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    if (!chunk.includes('ready')) return;
    const on = spawnSync('callgrind_control', ['-i', 'on', String(child.pid)], { encoding: 'utf8' });
    if (on.status !== 0) child.kill();
    child.stdin.end('go\n');
  });
  return new Promise((done, fail) =>
    child.on('close', (status) => {
      const collected = /Collected : (\d+)/.exec(stderr);
      if (status !== 0 || !collected) fail(new Error(`valgrind over ${dir} failed (${status}): ${stderr.slice(-2000)}`));
      else done(Number(collected[1]));
    }),
  );
}

type Middleware = (ctx: Context, next: () => Promise<void>) => Promise<void> | void;
type ReplyHook = (out: { channel: string; to: { user: string }; reply: Reply; answers?: string }, next: () => Promise<void>) => Promise<void> | void;

/** The measured process: `count` messages through the checkout's plugins. */
async function run(dir: string, count: number, scope: Scope): Promise<void> {
  const load = async <T>(path: string) => (await import(pathToFileURL(join(dir, path)).href)) as T;
  const core = await load<typeof import('@wxbot/core')>('packages/core/src/index.ts');
  const { handoff } = await load<typeof import('@wxbot/plugin-handoff')>('plugins/handoff/src/index.ts');
  const { keyword } = await load<typeof import('@wxbot/plugin-keyword')>('plugins/keyword/src/index.ts');
  const log = core.createLogger({ level: 'info', destination: { write: () => true } });
  const state = mkdtempSync(join(tmpdir(), 'wxbot-plugin-instructions-'));

  /** The plugin's middleware and reply hooks, from its setup with a scope that records them. */
  async function setUp(plugin: unknown): Promise<{ use: Middleware[]; onReply: ReplyHook[] }> {
    const use: Middleware[] = [];
    const onReply: ReplyHook[] = [];
    const scopeObject = new Proxy(
      {
        use: (m: Middleware) => void use.push(m),
        onReply: (h: ReplyHook) => void onReply.push(h),
        log,
        store: new core.MemoryStore(),
        handoffTargets: () => ({}),
        subscribe: () => ({ ready: Promise.resolve() }),
        publish: () => Promise.resolve(),
      },
      { get: (target, key) => (key in target ? target[key as keyof typeof target] : () => undefined) },
    );
    await (plugin as { setup(scope: never): Promise<unknown> }).setup(scopeObject as never);
    return { use, onReply };
  }

  // As bot.config.ts: the FAQ file's rules, its topics in the fallback, the hand-off's state file.
  const kw = await setUp(
    keyword({ rulesFile: join(dir, 'examples/faq/rules.yaml'), watch: false, fallback: { topics: ['营业时间', '价格', '发货和快递', '退款', '发票', '优惠活动'] } }),
  );
  const ho = await setUp(handoff({ token: 'bench-agent-token', stateFile: join(state, 'handoff.json') }));
  const [keywordMiddleware] = kw.use;
  const [handoffMiddleware] = ho.use;
  const [replyHook] = ho.onReply;
  if (!keywordMiddleware || !handoffMiddleware || !replyHook) throw new Error('a plugin registered no middleware or reply hook');

  const TEXTS = ['你好，想问一下 wxbot', '这个东西能不能再便宜点', '我的订单 SF-20261130 到哪了', 'hello there', '周末有人吗'];
  const channel = { name: 'officialAccount', kind: 'officialAccount' } as const;
  const sent = () => Promise.resolve();
  const I18N = {};
  let replies = 0;
  // Flat, as owned() leaves the XML's strings (a two-part join writes a new sequential string).
  const flat = (s: string) => [s.slice(0, 1), s.slice(1)].join('');

  function context(n: number, withHook: boolean): Context {
    const msg = {
      id: flat(String(7_000_000_000_000_000_000n + BigInt(n))),
      channel,
      from: flat(`o_user${n % 5000}`),
      to: 'gh_bench00000000',
      time: new Date(),
      raw: {},
      type: 'text',
      text: flat(`${TEXTS[n % TEXTS.length]} ${n}`),
    } as Message;
    const ctx = {
      message: msg,
      replies: 0,
      canHandoff: true,
      i18n: I18N,
      log,
      t: (_texts: unknown, key: string) => key,
      reply(input: string | Reply): Promise<void> {
        ctx.replies++;
        replies++;
        if (!withHook) return sent();
        const reply: Reply = typeof input === 'string' ? { type: 'text', text: input } : input;
        return Promise.resolve(replyHook!({ channel: msg.channel.name, to: { user: msg.from }, reply, answers: 'passive' }, sent));
      },
      handoff: sent,
    };
    return ctx as unknown as Context;
  }

  const runs: Record<Scope, (n: number) => Promise<void> | void> = {
    harness: (n) => context(n, false).reply('没听懂'),
    keyword: (n) => keywordMiddleware(context(n, false), sent),
    handoff: (n) => {
      const ctx = context(n, true);
      return handoffMiddleware(ctx, () => ctx.reply('没听懂'));
    },
    both: (n) => {
      const ctx = context(n, true);
      return handoffMiddleware(ctx, () => Promise.resolve(keywordMiddleware(ctx, sent)));
    },
  };
  const step = runs[scope];
  if (!step) throw new Error(`unknown scope ${scope}`);
  // Warmed up (the JIT's compilations of the plugins' code would otherwise be most of the
  // count: 104k instructions a message over 3 000 / 9 000 cold, TurboFan's passes on top), the
  // heap collected, then tell the parent, which switches callgrind's instrumentation on, and go.
  // A timer keeps the process running meanwhile (callgrind takes commands while its client runs).
  const warmUp = Number(process.env.BENCH_WARMUP ?? 6000);
  for (let n = 0; n < warmUp; n++) await step(n);
  (globalThis as { gc?: () => void }).gc?.();
  process.stdout.write('ready\n');
  const ticking = setInterval(() => {}, 10);
  await new Promise((go) => process.stdin.once('data', go));
  clearInterval(ticking);
  for (let n = warmUp; n < warmUp + count; n++) await step(n);
  // Every message of this traffic is answered (the fallback, or a rule or FAQ entry).
  if (replies < warmUp + count) throw new Error(`${warmUp + count} messages, ${replies} replies`);
  rmSync(state, { recursive: true, force: true });
  // The hand-off's sweeper and file store would keep the process alive.
  process.exit(0);
}
