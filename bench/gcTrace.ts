/**
 * Why a server runs mark-compacts in latency.ts's scenario, from V8's own trace: each target
 * (a servers.ts name, or `name@checkout` as in run.ts) is started fresh with `--trace-gc
 * --trace-incremental-marking`, sent WARMUP new messages, left idle IDLE seconds (as each server
 * sits while the other is measured in latency.ts), then sent RATE × SECONDS new messages at RATE
 * (by count, not time: on a busy machine that cannot keep the rate the window holds as many
 * messages, whose bytes are what V8's heuristics count, and lasts longer); its stdout (V8's
 * trace and gcTracePreload.mjs's lines: the window's edges, ArrayBuffers and young-generation
 * capacity after each mark-compact) goes to a file, and the mark-compacts inside the window are
 * printed with what started them.
 *
 *   npx tsx --conditions=@wxbot/source bench/gcTrace.ts safe 4500 wxbot wxbot@/work/wt/base koa
 *   BENCH_ROUNDS=3 BENCH_IDLE=15 BENCH_WARMUP=5000 BENCH_SECONDS=10 …
 *   npx tsx bench/gcTrace.ts --read /tmp/gctrace-*.log      # the windows of traces written before
 * Files: /tmp/gctrace-<mode>-<target>-<round>.log (BENCH_TRACE_DIR).
 */
import { fork } from 'node:child_process';
import { openSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { CryptoMode } from './config.ts';
import { load } from './run.ts';
import { newMessages } from './traffic.ts';

const [mode = 'safe', rateArg = '4500', ...targets] = process.argv.slice(2) as [CryptoMode, string, ...string[]];
const RATE = Number(rateArg);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 1);
const IDLE = Number(process.env.BENCH_IDLE ?? 15);
const WARMUP = Number(process.env.BENCH_WARMUP ?? 5000);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const DIR = process.env.BENCH_TRACE_DIR ?? '/tmp';
const NODE_ARGS = (process.env.BENCH_NODE_ARGS ?? '--conditions=@wxbot/source --import tsx').split(' ').filter(Boolean);
const preload = resolve(import.meta.dirname, 'gcTracePreload.mjs');

/** Starts `name` with the trace on, stdout to `file`; resolves its port and IPC handle. */
async function start(name: string, file: string) {
  const at = name.indexOf('@');
  const [server, dir] = at < 0 ? [name, resolve(import.meta.dirname, '..')] : [name.slice(0, at), resolve(name.slice(at + 1))];
  const out = openSync(file, 'w');
  const child = fork(resolve(dir, 'bench', 'servers.ts'), [server, mode], {
    execArgv: [...NODE_ARGS, '--import', preload, '--trace-gc', '--trace-incremental-marking'],
    stdio: ['ignore', out, 'inherit', 'ipc'],
  });
  const port = await new Promise<number>((ok, fail) => {
    child.on('message', (m: { port?: number }) => m.port !== undefined && ok(m.port));
    child.on('exit', (code) => fail(new Error(`${name} exited with ${code}`)));
  });
  return { child, port };
}

/** The window's lines of a trace: mark-compacts, incremental-marking starts and the preload's states. */
function summarize(file: string): { lines: string[]; markCompacts: number; reasons: string[] } {
  const text = readFileSync(file, 'utf8').split('\n');
  const from = text.findIndex((l) => l.includes('WINDOW START'));
  const to = text.findIndex((l) => l.includes('WINDOW END'));
  // Only the main thread's isolate: tsx's module loader runs in a worker with its own heap and
  // GCs, traced too (lines are "[pid:isolate]"); the main one is the isolate that scavenges most.
  const isolates = new Map<string, number>();
  for (const l of text) {
    const isolate = /^\[\d+:(0x[0-9a-f]+)\].*Scavenge/.exec(l)?.[1];
    if (isolate) isolates.set(isolate, (isolates.get(isolate) ?? 0) + 1);
  }
  const main = [...isolates].sort((a, b) => b[1] - a[1])[0]?.[0] ?? '';
  const window = text.slice(from, to + 1).filter((l) => !/^\[\d+:0x/.test(l) || l.includes(`:${main}]`));
  // Each incremental marking's start and mark-compact, with the last state before it.
  const lines: string[] = [];
  let last = '';
  for (const l of window) {
    if (l.includes('state: ')) last = l;
    else if (/WINDOW|Mark-Compact|IncrementalMarking\] Start \(|after mark-compact/.test(l)) {
      if (last && /Start \(/.test(l)) lines.push(`   before: ${last}`);
      lines.push(l.length > 300 ? `${l.slice(0, 300)}…` : l);
    }
  }
  const reasons = window.filter((l) => l.includes('[IncrementalMarking] Start (')).map((l) => /Start \(([^)]*)\)/.exec(l)?.[1] ?? '?');
  return { lines, markCompacts: window.filter((l) => /Mark-Compact/.test(l)).length, reasons };
}

const results: Record<string, string | number>[] = [];
if (mode === ('--read' as string)) {
  // `gcTrace.ts --read <files…>`: the window of traces already written.
  for (const file of [rateArg, ...targets]) {
    const s = summarize(file);
    results.push({ file, 'mark-compacts': s.markCompacts, 'started by': s.reasons.join(', ') });
  }
}
for (let round = 0; round < (mode === ('--read' as string) ? 0 : ROUNDS); round++) {
  for (const name of targets) {
    const file = `${DIR}/gctrace-${mode}-${name.replace(/[^\w]+/g, '_')}-${round}.log`;
    const { child, port } = await start(name, file);
    try {
      await load(port, newMessages(mode, WARMUP), { amount: WARMUP, connections: 16 });
      child.send('mark');
      await sleep(IDLE * 1000);
      const traffic = newMessages(mode, Math.ceil(RATE * SECONDS * 1.2));
      child.send('watch');
      const r = await load(port, traffic, { amount: RATE * SECONDS, connections: 32, rate: RATE });
      child.send('watched');
      await sleep(300);
      const s = summarize(file);
      console.log(`--- ${name} ${mode} round ${round} (${r.count} messages, ${Math.round(r.rps)} req/s, errors ${r.errors}): ${file}`);
      for (const l of s.lines) console.log(l);
      results.push({ round, target: name, 'req/s': Math.round(r.rps), 'mark-compacts': s.markCompacts, 'started by': s.reasons.join(', ') });
    } finally {
      child.kill('SIGKILL');
    }
  }
}
console.table(results);
