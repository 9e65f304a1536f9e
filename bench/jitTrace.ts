/**
 * What V8's optimizing compiler (TurboFan) does while the default bot, the floor or a bench
 * server handles new messages: compiles and deoptimizations per window of messages, by function,
 * from Node's `--trace-opt --trace-deopt --print-opt-code` (bench/instructions.ts counts what the
 * compiles cost: at 0a4274e ~260k instructions a message of the bot's 461k in callbacks
 * 3001–6000, safe mode). Each checkout runs the same new messages in a process of its own:
 * scope `bot`, `floor`, `channel` or `receive` as instructions.ts's (in process, one callback at a time, the event
 * loop turning between them, `--single-threaded` so each compile happens when asked for), or
 * `server:NAME`, bench/servers.ts's NAME (`koa`, `wxbot`, …) sent them one at a time over HTTP.
 *
 *   npx tsx --conditions=@wxbot/source bench/jitTrace.ts [safe|plain] [bot|floor|channel|receive|server:koa] /work/wt/base .
 *
 * BENCH_COUNTS="N W" (default "9000 1000"): N messages in windows of W. Prints per window the
 * compiles, the KB of machine code they made (a size the same from run to run, where compile
 * times follow the machine's load; what a compile costs grows with it) and the deopts; then each
 * function compiled or deoptimized once the messages came: the window and code bytes of each of
 * its compiles, its deopts' windows and reasons, what its last compile inlined. Sorted by the
 * bytes compiled after the first window. BENCH_JIT_LOG=FILE keeps the raw trace (the last
 * checkout's); `node --trace-deopt-verbose` on the `--run` process names each deopt's source
 * position. Not the same run as under valgrind: timers fire by the wall clock (the log's 100 ms
 * hand-over, a full log buffer here), so a path that depends on time may differ.
 */
import { fork, spawnSync } from 'node:child_process';
import { appendFileSync, closeSync, mkdtempSync, openSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { CryptoMode } from './config.ts';
import { channelHandler, defaultBot, floorHandler, type Prepared, prepareCallbacks } from './inProcess.ts';

/** In process as instructions.ts's scopes, or `server:NAME`: bench/servers.ts's NAME over HTTP. */
type Scope = 'bot' | 'floor' | 'channel' | 'receive' | `server:${string}`;

/** Written to stderr between windows: the trace goes to stdout, with the bot's log lines. */
const MARK = '@@jitTrace window ';

/**
 * --print-opt-code: each compile's machine code and what it inlined, a size the same from run
 * to run, where the trace's milliseconds follow the machine's load.
 */
const TRACE = ['--trace-opt', '--trace-deopt', '--print-opt-code'];

if (process.argv[2] === '--run') {
  const [dir, file, w, scope] = process.argv.slice(3) as [string, string, string, Scope];
  await run(resolve(dir), JSON.parse(readFileSync(file, 'utf8')) as Prepared, Number(w), scope);
} else {
  await main();
}

async function main(): Promise<void> {
  const [mode = 'safe', scope = 'bot', ...dirs] = process.argv.slice(2) as [CryptoMode, Scope, ...string[]];
  const [n, w] = (process.env.BENCH_COUNTS ?? '9000 1000').split(' ').map(Number) as [number, number];
  const work = mkdtempSync(join(tmpdir(), 'wxbot-jittrace-'));
  const file = join(work, 'callbacks.json');
  try {
    for (const dir of dirs.length > 0 ? dirs : ['.']) {
      // Fresh for the replay window (see prepareCallbacks): a run over HTTP on a loaded machine takes minutes.
      const { callbacks } = await prepareCallbacks(mode, n);
      writeFileSync(file, JSON.stringify({ mode, callbacks } satisfies Prepared));
      const log = join(work, 'trace.log');
      const trace = scope.startsWith('server:') ? await overHttp(dir, scope.slice(7), mode, callbacks, w, log) : inProcess(dir, file, w, scope, log);
      if (process.env.BENCH_JIT_LOG) renameSync(log, process.env.BENCH_JIT_LOG);
      report(`${dir} ${mode} ${scope}`, trace, w);
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** The bot or the floor in a process of its own ({@link run}); its trace. */
function inProcess(dir: string, file: string, w: number, scope: Scope, log: string): string {
  const node = ['--single-threaded', ...TRACE, '--conditions=@wxbot/source', '--import', 'tsx', import.meta.filename, '--run', dir, file, String(w), scope];
  // One file for stdout and stderr (a pipe is non-blocking in Node, and V8's writes to it were
  // lost), V8's stdio unbuffered (stdbuf): the window marks in order with the trace.
  const fd = openSync(log, 'w');
  const { status } = spawnSync('stdbuf', ['-o0', process.execPath, ...node], { stdio: ['ignore', fd, fd] });
  closeSync(fd);
  const trace = readFileSync(log, 'utf8');
  if (status !== 0) throw new Error(`${dir} failed (${status}): ${trace.slice(-2000)}`);
  return trace;
}

/**
 * bench/servers.ts's `server` of checkout `dir` (its helper threads compiling as in the
 * benches), sent the callbacks one at a time over one keep-alive connection; the window marks
 * are appended to its trace file between requests, when it is idle.
 */
async function overHttp(dir: string, server: string, mode: CryptoMode, callbacks: Prepared['callbacks'], w: number, log: string): Promise<string> {
  // Appended to by the server and by this process (the marks).
  writeFileSync(log, '');
  const fd = openSync(log, 'a');
  const child = fork(resolve(dir, 'bench', 'servers.ts'), [server, mode], {
    execPath: 'stdbuf',
    execArgv: ['-o0', process.execPath, ...TRACE, '--conditions=@wxbot/source', '--import', 'tsx'],
    stdio: ['ignore', fd, fd, 'ipc'],
  });
  try {
    const port = await new Promise<number>((done, fail) => {
      child.once('message', (m) => done((m as { port: number }).port));
      child.once('exit', (code) => fail(new Error(`${server} exited (${code})`)));
    });
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    for (let i = 0; i < callbacks.length; i++) {
      if (i % w === 0) {
        await new Promise((done) => setTimeout(done, 50)); // compiles on the helper threads finish
        appendFileSync(log, `${MARK}${i / w}\n`);
      }
      const { query, body } = callbacks[i]!;
      const path = `/wx?${new URLSearchParams(query).toString()}`;
      const answer = await new Promise<string>((done, fail) => {
        const req = request({ port, path, method: 'POST', agent, headers: { 'content-type': 'text/xml' } }, (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => (text += chunk));
          res.on('end', () => done(text));
        });
        req.on('error', fail);
        req.end(body);
      });
      if (!answer.startsWith('<xml>')) throw new Error(`${server}: not a passive reply: ${answer.slice(0, 200)}`);
    }
    agent.destroy();
  } finally {
    child.kill();
    await new Promise((done) => child.once('exit', done));
    closeSync(fd);
  }
  return readFileSync(log, 'utf8');
}

interface Fn {
  opts: number[];
  /** Milliseconds of its compiles after the first window (the trace's "took", the middle one: optimizing the graph). */
  ms: number;
  /** Machine code bytes of each compile (--print-opt-code), and what the last one inlined. */
  bytes: number[];
  inlined: string[];
  deopts: { window: number; reason: string }[];
}

/** Counts the trace's compiles (`[completed compiling`: once each, concurrent or not) and deopts. */
function report(title: string, trace: string, w: number): void {
  let window = -1; // before the first message: start-up
  const fns = new Map<string, Fn>();
  const perWindow = new Map<number, { opts: number; ms: number; bytes: number; deopts: number }>();
  const fn = (name: string) => {
    let f = fns.get(name);
    if (!f) fns.set(name, (f = { opts: [], ms: 0, bytes: [], inlined: [], deopts: [] }));
    return f;
  };
  const tally = () => {
    let t = perWindow.get(window);
    if (!t) perWindow.set(window, (t = { opts: 0, ms: 0, bytes: 0, deopts: 0 }));
    return t;
  };
  let code: { name: string; inlined: string[]; size: number } | undefined;
  let inlining = false;
  let source = false;
  let firstLine = '';
  for (const line of trace.split('\n')) {
    // The loader's thread (tsx) traces too, and its lines and ours can meet mid-line.
    const at = line.indexOf(MARK);
    if (at >= 0) {
      const next = Number.parseInt(line.slice(at + MARK.length), 10);
      window = Number.isNaN(next) ? window + 1 : next; // its number cut off by the other thread's line
      continue;
    }
    if (line.startsWith('--- Raw source ---')) source = true;
    else if (source) {
      // An anonymous function is named by its source's start.
      firstLine = line.slice(0, 60);
      source = false;
    }
    // --print-opt-code's block of a compile: its name, code size, then the functions it inlined.
    if (line.startsWith('--- Optimized code ---')) code = { name: '?', inlined: [], size: 0 };
    else if (code && line.startsWith('name = ')) code.name = line.slice(7) || firstLine;
    else if (code && line.startsWith('Instructions (size = ')) code.size = Number(line.slice(21, -1));
    else if (code && line.startsWith('Inlined functions (count = ')) inlining = true;
    else if (code && inlining) {
      const inlined = /<SharedFunctionInfo ?([^>]*)>/.exec(line);
      if (inlined) code.inlined.push(inlined[1] || '(anonymous)');
      else {
        inlining = false;
        const f = fn(code.name);
        f.bytes.push(code.size);
        f.inlined = code.inlined;
        tally().bytes += code.size;
        code = undefined;
      }
    }
    const name = /<JSFunction ([^ >(]*)/.exec(line)?.[1] || firstLine;
    if (line.includes('[completed compiling')) {
      const ms = Number(/took [\d.]+, ([\d.]+), ([\d.]+) ms/.exec(line)?.[1] ?? 0);
      fn(name).opts.push(window);
      if (window >= 1) fn(name).ms += ms;
      tally().opts++;
      tally().ms += ms;
    } else if (line.includes('[bailout')) {
      const reason = /reason: ([^)]*)\)/.exec(line)?.[1] ?? '?';
      fn(name).deopts.push({ window, reason });
      tally().deopts++;
    }
  }
  console.log(`\n${title}: per window of ${w} messages, optimizations (KB of machine code, ms of compiling) / deoptimizations`);
  for (const [k, t] of [...perWindow].sort((a, b) => a[0] - b[0])) {
    const kb = (t.bytes / 1024).toFixed(1);
    console.log(`  ${k === -1 ? 'start-up' : `${k * w + 1}–${(k + 1) * w}`}: ${t.opts} (${kb} KB, ${t.ms.toFixed(1)} ms) / ${t.deopts}`);
  }
  // Start-up's (tsx's loader, the modules' top levels) left out: the bot's message work only.
  const listed = [...fns].filter(([, f]) => f.opts.some((k) => k >= 0) || f.deopts.some((d) => d.window >= 0));
  const late = (f: Fn) => f.bytes.reduce((sum, bytes, i) => sum + ((f.opts[i] ?? -1) >= 1 ? bytes : 0), 0);
  listed.sort((a, b) => late(b[1]) - late(a[1]) || b[1].opts.length - a[1].opts.length);
  console.log('  function: window:bytes of each optimization | its deopts (window: reason) | what its last compile inlined');
  for (const [name, f] of listed) {
    const opts = f.opts.map((k, i) => `${k}:${f.bytes[i] ?? '?'}`).join(' ');
    const reasons = f.deopts.map((d) => `${d.window}: ${d.reason}`).join('; ');
    console.log(`  ${name}: ${opts}${reasons ? ` | ${reasons}` : ''}${f.inlined.length > 0 ? ` | ${f.inlined.join(' ')}` : ''}`);
  }
}

/** The measured process: the default bot (or the floor) over the callbacks, a mark each `w`. */
async function run(dir: string, prepared: Prepared, w: number, scope: Scope): Promise<void> {
  const mark = (i: number) => {
    if (i % w === 0) process.stderr.write(`${MARK}${i / w}\n`);
  };
  let sink = 0;
  if (scope === 'floor' || scope === 'channel' || scope === 'receive') {
    const handle = scope === 'floor' ? await floorHandler(dir, prepared.mode) : await channelHandler(dir, prepared.mode, scope === 'receive');
    for (let i = 0; i < prepared.callbacks.length; i++) {
      mark(i);
      sink += handle(prepared.callbacks[i]!);
      await new Promise(setImmediate);
    }
  } else {
    const bot = await defaultBot(dir, prepared.mode);
    for (let i = 0; i < prepared.callbacks.length; i++) {
      mark(i);
      sink += await bot.handle(prepared.callbacks[i]!);
      await new Promise(setImmediate);
    }
    await bot.stop();
  }
  if (sink === 0) throw new Error('nothing was done');
}
