/**
 * CPU per LLM answer of the LLM plugin outside the model: its middleware for one text message
 * (memory read, request, answer, reply, log line, memory write) against a fake
 * OpenAI-compatible server that answers at once, in the driver process (its CPU is not
 * counted). Against the floor: a hand-written `node:http` POST of the same JSON.
 *
 *   npx tsx --conditions=@wxbot/source bench/llm.ts
 *   BENCH_TARGETS=wxbot@/path/to/other/checkout,wxbot,bare npx tsx --conditions=@wxbot/source bench/llm.ts
 *
 * Each target runs in its own process; the driver alternates them pass by pass (order rotated,
 * so only same-run ratios count on a busy machine) and prints the target process's CPU µs
 * (user + system, log-writing and GC threads included) per answer, per pass and the median.
 * Every pass has new users, 10 messages each, a user's next message sent once the previous
 * one is answered, so the remembered history (and the JSON sent) grows the same way in every
 * pass and every target: 0 to 9 earlier turns. Targets:
 *
 * - `wxbot`: the plugin as bot.config.ts sets it up (`llm({ baseURL, apiKey, systemPrompt })`,
 *   the defaults otherwise: memory of 10 turns in a `MemoryStore`, info logs to stdout, i.e.
 *   /dev/null), its `bot.on` middleware called with the least context it uses (an Official
 *   Account text; `ctx.reply` records the answer). `BENCH_STREAM=1`: a channel that shows
 *   streams (`ctx.canStream`, the WeCom AI bot), `ctx.replyStream` reads the stream whole.
 *   `wxbot@dir`: the plugin and core of another checkout (no bench file needed there, so any
 *   commit can be measured; its own node_modules, openai included).
 * - `bare`: the floor, what a hand-written handler does: the same messages (system prompt,
 *   last 10 turns from a `Map`, the text) as `JSON.stringify`, POSTed with a keep-alive
 *   `node:http` agent, the answer parsed and its text taken; no logs.
 *
 * Each answer is checked (the fake's `回答: <text>`) and the driver checks that every target
 * sent the same number of chat messages per pass. Options: `BENCH_MESSAGES` per pass (default
 * 4000), `BENCH_PASSES` (default 5), `BENCH_CONCURRENCY` (answers in flight, default 16),
 * `BENCH_NODE_ARGS` (node flags of the targets, e.g. add `--cpu-prof`).
 */
import { fork, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const API_KEY = 'sk-bench-llm-0123456789abcdef';
const SYSTEM_PROMPT = '你是客服助手，回答简洁。';
const MODEL = 'gpt-4o-mini';
/** The plugin's default memory.turns. */
const TURNS = 10;
/** Messages per user in a pass: the history grows from 0 to TURNS - 1 turns. */
const PER_USER = 10;
const TEXTS = ['你好，想问一下 wxbot', '这个东西能不能再便宜点', '我的订单 SF-20261130 到哪了', 'hello there', '周末有人吗'];

interface RunRequest {
  run: number;
  prefix: string;
  concurrency: number;
}
interface RunResult {
  cpu: number;
  error?: string;
}

if (process.argv[2] === '--target') await target(process.argv[3] ?? 'wxbot', process.argv[4] ?? '', process.argv[5] ?? '');
else await drive();

/** The driver: fake OpenAI here, targets in child processes, alternated pass by pass. */
async function drive(): Promise<void> {
  const { startFakeOpenAI } = await import('@wxbot/testing');
  const { endTargets, printMedians } = await import('./targets.ts');
  const MESSAGES = Number(process.env.BENCH_MESSAGES ?? 4000);
  const PASSES = Number(process.env.BENCH_PASSES ?? 5);
  const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 16);
  const NODE_ARGS = (process.env.BENCH_NODE_ARGS ?? '--conditions=@wxbot/source --import tsx').split(' ').filter(Boolean);
  const names = (process.env.BENCH_TARGETS ?? 'wxbot,bare').split(',');
  const fake = await startFakeOpenAI({ apiKey: API_KEY });

  interface Target {
    name: string;
    child: ChildProcess;
    run: (request: RunRequest) => Promise<RunResult>;
    results: number[];
    /** Chat messages sent per pass (the same in every target, or the comparison is off). */
    sent: number[];
  }
  const targets: Target[] = [];
  for (const name of names) {
    const at = name.indexOf('@');
    const [kind, dir] = at < 0 ? [name, resolve(import.meta.dirname, '..')] : [name.slice(0, at), resolve(name.slice(at + 1))];
    // This file, run in the other checkout's directory: its tsx, its packages.
    const child = fork(import.meta.filename, ['--target', kind, dir, fake.url], {
      cwd: dir,
      execArgv: NODE_ARGS,
      stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
    });
    const answers: ((m: RunResult) => void)[] = [];
    child.on('message', (m: RunResult) => answers.shift()?.(m));
    await new Promise((ok) => answers.push(ok));
    targets.push({
      name,
      child,
      results: [],
      sent: [],
      run: (request) =>
        new Promise((ok) => {
          answers.push(ok);
          child.send(request);
        }),
    });
  }

  let serial = 0;
  async function pass(t: Target, count: number): Promise<{ cpu: number; sent: number }> {
    fake.chat.requests.splice(0);
    const result = await t.run({ run: count, prefix: `p${++serial}`, concurrency: CONCURRENCY });
    if (result.error) throw new Error(`${t.name}: ${result.error}`);
    if (fake.chat.requests.length !== count) throw new Error(`${t.name}: ${fake.chat.requests.length} chat requests for ${count} messages`);
    return { cpu: result.cpu / count, sent: fake.chat.requests.reduce((n, r) => n + r.messages.length, 0) };
  }

  for (const t of targets) await pass(t, Math.min(MESSAGES, 2000)); // warm-up: JIT, connections
  for (let i = 0; i < PASSES; i++) {
    for (let k = 0; k < targets.length; k++) {
      const t = targets[(i + k) % targets.length]!;
      const { cpu, sent } = await pass(t, MESSAGES);
      t.results.push(cpu);
      t.sent.push(sent);
      console.error(`pass ${i + 1} ${t.name}: ${cpu.toFixed(1)} µs CPU/answer`);
    }
  }
  const sent = new Set(targets.flatMap((t) => t.sent));
  if (sent.size !== 1) throw new Error(`targets sent different chat messages per pass: ${targets.map((t) => `${t.name} ${t.sent.join('/')}`).join(', ')}`);
  printMedians(targets, `per answer (${PASSES} × ${MESSAGES}, ${CONCURRENCY} in flight)`);
  console.error(`chat messages sent per pass: ${[...sent][0]} (system prompt, history, text) for ${MESSAGES} answers`);
  await endTargets(targets);
  await fake.close();
  process.exit(0);
}

/** A target process: runs a pass when asked and answers its CPU. */
async function target(kind: string, dir: string, url: string): Promise<void> {
  const answer = kind === 'bare' ? bare(url) : await plugin(dir, url);
  process.on('disconnect', () => process.exit(0));
  process.on('message', async (m: RunRequest) => {
    const texts = Array.from({ length: m.run }, (_, i) => ({ user: `${m.prefix}-u${i % Math.ceil(m.run / PER_USER)}`, text: `${TEXTS[i % TEXTS.length]} ${i}` }));
    let next = 0;
    let error: string | undefined;
    // A user's next message waits for the answer to the one before (as a user who reads it
    // before writing again): two of a user's messages in flight at once made the turns a
    // prompt holds depend on timing (300 messages: 30 users, a user's next message 30 places
    // on, within reach of 16 in flight), and the targets' chat messages differ.
    const answering = new Map<string, Promise<string | undefined>>();
    const worker = async () => {
      while (next < texts.length && error === undefined) {
        const { user, text } = texts[next++]!;
        const before = answering.get(user);
        const reply = before ? before.then(() => answer(user, text)) : answer(user, text);
        answering.set(user, reply);
        const got = await reply;
        if (got !== `回答: ${text}`) error = `answered ${JSON.stringify(got)} to ${JSON.stringify(text)}`;
      }
    };
    const cpu = process.cpuUsage();
    await Promise.all(Array.from({ length: m.concurrency }, worker));
    const used = process.cpuUsage(cpu);
    process.send?.({ cpu: used.user + used.system, ...(error && { error }) } satisfies RunResult);
  });
  process.send?.({ cpu: 0 });
}

type Answer = (user: string, text: string) => Promise<string | undefined>;

/** The plugin's middleware from its setup, called with the least context it uses. */
async function plugin(dir: string, url: string): Promise<Answer> {
  const file = (path: string) => pathToFileURL(resolve(dir, path)).href;
  const core = (await import(file('packages/core/src/index.ts'))) as typeof import('@wxbot/core');
  const { llm } = (await import(file('plugins/llm/src/index.ts'))) as typeof import('@wxbot/plugin-llm');
  type Middleware = (ctx: unknown, next: () => Promise<void>) => Promise<void>;
  let middleware: Middleware | undefined;
  const log = core.createLogger({ level: 'info' });
  const scope = { log, on: (_types: unknown, m: Middleware) => void (middleware = m), command: () => {}, use: () => {} };
  await llm({ baseURL: url, apiKey: API_KEY, systemPrompt: SYSTEM_PROMPT }).setup(scope as never);
  if (!middleware) throw new Error('the plugin registered no middleware');
  const run = middleware;
  const store = new core.MemoryStore();
  const channel = { name: 'officialAccount', kind: process.env.BENCH_STREAM ? 'wecomAiBot' : 'officialAccount' };
  const canStream = Boolean(process.env.BENCH_STREAM);
  let serial = 0;
  return async (user, text) => {
    let answered: string | undefined;
    const message = { id: String(++serial), channel, from: user, to: 'gh_bench', time: new Date(), raw: {}, type: 'text', text };
    const ctx = {
      message,
      channel,
      store,
      log,
      canStream,
      t: (_catalog: unknown, key: string) => key,
      reply: async (reply: string) => void (answered = reply),
      replyStream: async (pieces: AsyncIterable<string>) => {
        let whole = '';
        for await (const piece of pieces) whole += piece;
        answered = whole;
      },
    };
    await run(ctx, async () => {});
    return answered;
  };
}

/** The floor: the same request by hand, with node:http and JSON. */
function bare(url: string): Answer {
  const agent = new http.Agent({ keepAlive: true });
  const { hostname, port, pathname } = new URL(`${url}/chat/completions`);
  const memory = new Map<string, { role: 'user' | 'assistant'; content: string }[]>();
  return (user, text) =>
    new Promise((ok, fail) => {
      const history = memory.get(user) ?? [];
      const data = JSON.stringify({ model: MODEL, messages: [{ role: 'system', content: SYSTEM_PROMPT }, ...history, { role: 'user', content: text }] });
      const req = http.request(
        {
          host: hostname,
          port,
          path: pathname,
          agent,
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${API_KEY}`, 'content-length': Buffer.byteLength(data) },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const completion = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { choices: { message: { content: string } }[] };
            const content = completion.choices[0]?.message.content.trim() ?? '';
            memory.set(user, [...history, { role: 'user' as const, content: text }, { role: 'assistant' as const, content }].slice(-2 * TURNS));
            ok(content);
          });
        },
      );
      req.on('error', fail);
      req.end(data);
    });
}
