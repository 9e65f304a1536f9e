/**
 * Why a server runs mark-compacts in latency.ts's scenario, from V8's own trace. Each target (a
 * servers.ts name, or `name@checkout` as in run.ts) is started fresh, round after round, under
 * `--trace-gc-nvp --trace-gc-verbose --trace-incremental-marking` with bench/gcTracePreload.mjs
 * (the phases' edges, and ArrayBuffers / RSS / spaces at each, every 250 ms in the window and
 * after each mark-compact); it gets WARMUP new messages, sits idle IDLE seconds (as each server
 * sits while the other is measured in latency.ts; longer if building the window's messages
 * takes longer), then new messages at RATE: RATE × SECONDS of them however long they take
 * (`BENCH_BY=count`, the default: on a busy machine that cannot keep the rate the window holds
 * as many messages, whose bytes are what V8's heuristics count), or for SECONDS
 * (`BENCH_BY=time`, as latency.ts). Its stdout goes to a file, kept, and is summarised
 * (bench/gcTraceRead.ts; the server's isolate only, not tsx's loader worker):
 * - every start of incremental marking with V8's reason and size / limit / slack, the new space's
 *   capacity, the old generation and the external memory at the GC before it and how much the
 *   external memory grew since the last mark-compact (V8 11.3 counts that growth against the old
 *   generation's headroom, and starts marking once the headroom is below the new space's
 *   capacity), and the preload's last state before it;
 * - every mark-compact, with the preload's state after it; every change of the new space's capacity;
 * - per phase (start, warm-up, idle, window, after) the scavenges: how many, what each left alive
 *   in the young generation and promoted (KB), the capacities the new space went through;
 * - at the end, per target and round, the window's mark-compacts and what started them.
 * Counts, not wall-clock figures: on a shared machine they hold.
 *
 *   npx tsx --conditions=@wxbot/source bench/gcTrace.ts safe 4500 wxbot wxbot@/work/wt/base koa
 *   BENCH_ROUNDS=3 BENCH_IDLE=15 BENCH_WARMUP=5000 BENCH_SECONDS=10 BENCH_BY=time …
 *   npx tsx bench/gcTrace.ts --read /tmp/gctrace-*.log      # traces this bench kept before
 * Files: <BENCH_TRACE_DIR, /tmp>/gctrace-<mode>-<target>-<round>.log.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { appendFileSync, closeSync, openSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { CryptoMode } from './config.ts';
import { type Gc, readTrace, type Trace } from './gcTraceRead.ts';
import type { LoadResult } from './run.ts';

const [mode = 'safe', rateArg = '4500', ...targets] = process.argv.slice(2) as [CryptoMode, string, ...string[]];
const RATE = Number(rateArg);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 1);
const IDLE = Number(process.env.BENCH_IDLE ?? 15);
const WARMUP = Number(process.env.BENCH_WARMUP ?? 5000);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const BY_TIME = process.env.BENCH_BY === 'time';
const DIR = process.env.BENCH_TRACE_DIR ?? '/tmp';
const NODE_ARGS = (process.env.BENCH_NODE_ARGS ?? '--conditions=@wxbot/source --import tsx').split(' ').filter(Boolean);
const TRACE = ['--trace-gc-nvp', '--trace-gc-verbose', '--trace-incremental-marking'];
const preload = resolve(import.meta.dirname, 'gcTracePreload.mjs');

/** A server started with the trace on, its stdout in a file. */
interface Traced {
  child: ChildProcess;
  port: number;
  /** Marks a phase's start in the trace; resolves once the preload has written the marker. */
  phase(name: string): Promise<void>;
  /** Disconnects it: servers.ts exits by itself, with its trace written out. */
  stop(): Promise<unknown>;
}

async function start(name: string, file: string): Promise<Traced> {
  const at = name.indexOf('@');
  const [server, dir] = at < 0 ? [name, resolve(import.meta.dirname, '..')] : [name.slice(0, at), resolve(name.slice(at + 1))];
  const out = openSync(file, 'w');
  const child = fork(resolve(dir, 'bench', 'servers.ts'), [server, mode], {
    execArgv: [...NODE_ARGS, '--import', preload, ...TRACE],
    stdio: ['ignore', out, 'inherit', 'ipc'],
  });
  closeSync(out);
  const port = await new Promise<number>((ok, fail) => {
    child.on('message', (m: { port?: number }) => m.port !== undefined && ok(m.port));
    child.on('exit', (code) => fail(new Error(`${name} exited with ${code}`)));
  });
  const phase = (phaseName: string) =>
    new Promise<void>((ok) => {
      const marked = (m: { gcTraceAt?: string }) => {
        if (m.gcTraceAt !== phaseName) return;
        child.off('message', marked);
        ok();
      };
      child.on('message', marked);
      child.send({ gcTrace: phaseName });
    });
  const stop = () =>
    new Promise<unknown>((ok) => {
      child.once('exit', ok);
      child.disconnect();
    });
  return { child, port, phase, stop };
}

const MB = (kb: number) => (kb / 1024).toFixed(1);
const bytesMB = (bytes: string | undefined) => (Number(bytes) / 2 ** 20).toFixed(1);

/** Prints a trace's events (times from the window's start) and its per-phase table. */
function report(trace: Trace): void {
  const windowAt = trace.phases.find((p) => p.name === 'window')?.ms ?? 0;
  const at = (ms: number) => `${((ms - windowAt) / 1000).toFixed(2).padStart(7)} s`;
  const indent = ' '.repeat(10);
  console.log(`phases (ms on the server's trace clock): ${trace.phases.map((p) => `${p.name} ${p.ms}`).join(', ')}`);
  console.log(`time from the window's start [phase]: incremental marking's starts, every mark-compact, the new space's capacity as it changes`);
  let capacity = 0;
  for (const e of trace.events) {
    if (e.type === 'preload') {
      // The phases' edges and the state after each mark-compact; the 250 ms states only before a marking start.
      if (!e.line.text.startsWith('state:')) console.log(`${at(e.line.ms)} [${e.phase}] ${e.line.text}`);
    } else if (e.type === 'marking') {
      console.log(`${at(e.ms)} [${e.phase}] ${e.text}`);
      const gc: Gc | undefined = e.lastGc;
      if (gc) {
        const grown = e.externalSinceMarkCompactKB === undefined ? '' : `, +${MB(e.externalSinceMarkCompactKB)} MB since the last mark-compact`;
        console.log(`${indent}at the last GC: new space ${gc.capacityKB} KB, old generation ${MB(gc.oldKB)} MB, external ${MB(gc.externalKB)} MB${grown}`);
      }
      if (e.lastState) console.log(`${indent}the preload's last line (${e.ms - e.lastState.ms} ms before): ${e.lastState.text}`);
    } else {
      const { kind, fields, capacityKB } = e.gc;
      if (kind !== 's') {
        console.log(
          `${at(e.gc.ms)} [${e.phase}] ${kind === 'mc' ? 'mark-compact' : kind}: reduce_memory=${fields.get('reduce_memory')}, heap ${bytesMB(fields.get('total_size_before'))} -> ${bytesMB(fields.get('total_size_after'))} MB, pause ${fields.get('pause')} ms, new space capacity after ${capacityKB} KB`,
        );
      }
      if (capacityKB !== capacity) {
        console.log(
          `${at(e.gc.ms)} [${e.phase}] new space capacity ${capacity} -> ${capacityKB} KB after ${kind === 's' ? 'a scavenge' : 'a mark-compact'} (reduce_memory=${fields.get('reduce_memory')})`,
        );
        capacity = capacityKB;
      }
    }
  }
  console.table(
    trace.rows.map((r) => ({
      phase: r.phase,
      scavenges: r.scavenges,
      'survived KB/scavenge': r.scavenges ? Math.round(r.survived / r.scavenges / 1024) : 0,
      'promoted KB/scavenge': r.scavenges ? Math.round(r.promoted / r.scavenges / 1024) : 0,
      'new space capacities KB': r.capacities.join(' '),
      'mark-compacts': r.markCompacts,
      'marking started by': r.reasons.join(', '),
    })),
  );
}

/** The window's figures of a trace, for the closing table. */
function windowOf(trace: Trace): Record<string, string | number> {
  const w = trace.rows.find((r) => r.phase === 'window');
  return {
    ...(trace.result && { messages: trace.result.count!, 'req/s': trace.result.rps! }),
    'mark-compacts': w?.markCompacts ?? 0,
    'started by': w?.reasons.join(', ') ?? '',
  };
}

const results: Record<string, string | number>[] = [];
if (mode === ('--read' as string)) {
  for (const file of [rateArg, ...targets]) {
    console.log(`--- ${file}`);
    const trace = readTrace(readFileSync(file, 'utf8'));
    report(trace);
    results.push({ file, ...windowOf(trace) });
  }
} else {
  // Loaded here, not at the top: --read needs neither, nor the packages' source condition they do.
  const { load } = await import('./run.ts');
  const { newMessages } = await import('./traffic.ts');
  for (let round = 0; round < ROUNDS; round++) {
    for (const name of targets) {
      const file = `${DIR}/gctrace-${mode}-${name.replace(/[^\w]+/g, '_')}-${round}.log`;
      const server = await start(name, file);
      let result: LoadResult;
      try {
        await server.phase('warm-up');
        await load(server.port, newMessages(mode, WARMUP), { amount: WARMUP, connections: 16 });
        await server.phase('idle');
        const idleFrom = performance.now();
        const traffic = newMessages(mode, Math.ceil(RATE * SECONDS * 1.2)); // built during the idle
        await sleep(IDLE * 1000 - (performance.now() - idleFrom));
        await server.phase('window');
        server.child.send('watch'); // servers.ts's own window of loop delay and GC pauses, as latency.ts has it
        const window = BY_TIME ? { seconds: SECONDS } : { amount: RATE * SECONDS };
        result = await load(server.port, traffic, { ...window, connections: 32, rate: RATE, more: (count) => newMessages(mode, count) });
        server.child.send('watched');
        await server.phase('after');
        await sleep(300);
      } finally {
        await server.stop();
      }
      const figures = { count: result.count, rps: Math.round(result.rps), errors: result.errors };
      appendFileSync(file, `@@ 0 ms RESULT ${JSON.stringify(figures)}\n`);
      console.log(`--- ${name} ${mode} round ${round}: ${figures.count} messages in the window at ≤ ${RATE} req/s (got ${figures.rps}), ${figures.errors} errors; trace ${file}`);
      const trace = readTrace(readFileSync(file, 'utf8'));
      report(trace);
      results.push({ round, target: name, ...windowOf(trace) });
    }
  }
}
console.table(results);
