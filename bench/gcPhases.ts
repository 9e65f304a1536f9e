/**
 * latency.ts's scenario for one server, with V8's own GC trace: a fresh server gets WARMUP new
 * messages, sits idle IDLE seconds (as each server does in latency.ts while the other is
 * measured; longer if building the window's messages takes longer), then gets new messages at a
 * fixed rate for SECONDS (or, BENCH_BY_COUNT=1, RATE × SECONDS of them however long they take).
 * The server runs with `--trace-gc-nvp --trace-gc-verbose --trace-incremental-marking`; its trace
 * is kept in a file and summarised: every start of incremental marking with V8's reason and
 * size / limit / slack, beside the new space's capacity, the old generation and the external
 * memory (ArrayBuffers) at the GC before it and how much the external memory grew since the last
 * mark-compact (V8 11.3 counts that growth against the old generation's headroom, and starts
 * marking once the headroom is below the new space's capacity); every mark-compact; every change
 * of the new space's capacity; and per phase the scavenges: how many, what each left alive in
 * the young generation and promoted (KB), the capacities the new space went through. Counts, not
 * wall-clock figures: on a shared machine they hold.
 *
 *   npx tsx --conditions=@wxbot/source bench/gcPhases.ts wxbot safe 4500
 *   npx tsx --conditions=@wxbot/source bench/gcPhases.ts wxbot@/work/wt/base plain 7000
 *   BENCH_IDLE=15 BENCH_SECONDS=10 BENCH_WARMUP=5000 BENCH_BY_COUNT=1 BENCH_TRACE_KEEP=/tmp/trace.txt …
 */
import { fork } from 'node:child_process';
import { closeSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { CryptoMode } from './config.ts';
import { load } from './run.ts';
import { newMessages } from './traffic.ts';

const [name = 'wxbot', mode = 'safe', rateArg = '4500'] = process.argv.slice(2) as [string, CryptoMode, string];
const RATE = Number(rateArg);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const IDLE = Number(process.env.BENCH_IDLE ?? 15);
const WARMUP = Number(process.env.BENCH_WARMUP ?? 5000);
const BY_COUNT = Boolean(process.env.BENCH_BY_COUNT);
const TRACE = ['--trace-gc-nvp', '--trace-gc-verbose', '--trace-incremental-marking'];
const NODE_ARGS = (process.env.BENCH_NODE_ARGS ?? '--conditions=@wxbot/source --import tsx').split(' ').filter(Boolean);

/** One line of V8's trace that the summary reads: its time (ms since the isolate began) and text. */
interface TraceLine {
  ms: number;
  text: string;
}

/** The server's own process with its trace in `file`; resolves once it listens. */
async function start(file: string): Promise<{ port: number; startedAt: number; stop(): Promise<unknown> }> {
  const at = name.indexOf('@');
  const [server, dir] = at < 0 ? [name, resolve(import.meta.dirname, '..')] : [name.slice(0, at), resolve(name.slice(at + 1))];
  const out = openSync(file, 'w');
  const startedAt = performance.now();
  const child = fork(resolve(dir, 'bench', 'servers.ts'), [server, mode], { execArgv: [...NODE_ARGS, ...TRACE], stdio: ['ignore', out, 'inherit', 'ipc'] });
  closeSync(out);
  const port = await new Promise<number>((ok, fail) => {
    child.on('message', (m: { port?: number }) => m.port !== undefined && ok(m.port));
    child.on('exit', (code) => fail(new Error(`${name} exited with ${code}`)));
  });
  // Disconnected, the server exits by itself (servers.ts), and its trace's buffer is written out.
  const stop = () =>
    new Promise<unknown>((ok) => {
      child.once('exit', ok);
      child.disconnect();
    });
  return { port, startedAt, stop };
}

/** `name=value` pairs of an nvp line. */
function nvp(text: string): Map<string, string> {
  const pairs = new Map<string, string>();
  for (const m of text.matchAll(/(\w+)=(\S+)/g)) pairs.set(m[1]!, m[2]!);
  return pairs;
}

const file = process.env.BENCH_TRACE_KEEP ?? join(tmpdir(), `gcPhases-${process.pid}.txt`);
const server = await start(file);
let phases: { name: string; from: number }[] = [];
try {
  const since = () => performance.now() - server.startedAt;
  phases.push({ name: 'start', from: 0 });
  phases.push({ name: 'warm-up', from: since() });
  await load(server.port, newMessages(mode, WARMUP), { amount: WARMUP, connections: 16 });
  phases.push({ name: 'idle', from: since() });
  const traffic = newMessages(mode, Math.ceil(RATE * SECONDS * 1.2)); // built during the idle time
  await sleep(IDLE * 1000 - (since() - phases.at(-1)!.from));
  phases.push({ name: 'window', from: since() });
  // BENCH_BY_COUNT=1: RATE × SECONDS messages however long they take (a busy machine does not keep
  // the rate, and what the rings and the old generation grow by follows the messages, not the time).
  const window = BY_COUNT ? { amount: RATE * SECONDS } : { seconds: SECONDS };
  const result = await load(server.port, traffic, { ...window, connections: 32, rate: RATE });
  phases.push({ name: 'after', from: since() });
  console.log(`${name} ${mode}: ${result.count} requests in the window at ${RATE} req/s (got ${Math.round(result.rps)}), ${result.errors} errors`);
} finally {
  await server.stop();
}

// V8's trace lines start with "[pid:isolate]"; a GC's nvp line also with "   1234 ms: " (ms since
// its isolate began, a few ms after the fork: the phases' times are the driver's, since the fork)
// and is followed by --trace-gc-verbose's heap statistics. tsx's loader runs in a worker (an
// isolate of its own): the server's isolate is the one with the most GCs.
interface Gc {
  ms: number;
  kind: string;
  fields: Map<string, string>;
  /** The new space's capacity (one semi-space) after the GC, in KB. */
  capacityKB: number;
  /** The old generation (old, code and large object spaces) after the GC, in KB. */
  oldKB: number;
  /** External memory (ArrayBuffers' backing stores, mostly) V8 was told of, after the GC, in KB. */
  externalKB: number;
}
const byIsolate = new Map<string, { gcs: Gc[]; marking: TraceLine[] }>();
for (const line of readFileSync(file, 'utf8').split('\n')) {
  const m = /^\[\d+:(0x[0-9a-f]+)\]\s+(?:(\d+) ms: )?(.*)$/.exec(line);
  if (!m) continue;
  let isolate = byIsolate.get(m[1]!);
  if (!isolate) byIsolate.set(m[1]!, (isolate = { gcs: [], marking: [] }));
  const [ms, text] = [Number(m[2]), m[3]!];
  if (text.startsWith('pause=')) {
    const fields = nvp(text);
    isolate.gcs.push({ ms, kind: fields.get('gc')!, fields, capacityKB: 0, oldKB: 0, externalKB: 0 });
  } else if (m[2] === undefined) {
    const last = isolate.gcs.at(-1);
    const kb = (re: RegExp) => Number(re.exec(text)?.[1] ?? 0);
    if (!last) continue;
    if (text.startsWith('New space,')) last.capacityKB = kb(/committed:\s+(\d+) KB/) / 2;
    else if (/^(Old|Code|Large object) space,/.test(text)) last.oldKB += kb(/used:\s+(\d+) KB/);
    else if (text.startsWith('External memory reported:')) last.externalKB = kb(/reported:\s+(\d+) KB/);
  } else {
    isolate.marking.push({ ms, text });
  }
}
if (!process.env.BENCH_TRACE_KEEP) rmSync(file);
const main = [...byIsolate.values()].sort((a, b) => b.gcs.length - a.gcs.length)[0]!;
// The isolate starts some time after the fork (up to ~0.5 s on a loaded machine): the driver's
// phases are moved so that the window begins where the first GC after the idle (the longest gap
// between two GCs) places it: that GC's time less how long the window's allocation rate (the
// next GC's bytes over its mutator time) took to allocate what it found allocated.
let longest = 1;
for (let i = 2; i < main.gcs.length; i++) if (main.gcs[i]!.ms - main.gcs[i - 1]!.ms > main.gcs[longest]!.ms - main.gcs[longest - 1]!.ms) longest = i;
const field = (gc: Gc | undefined, name: string) => Number(gc?.fields.get(name) ?? 0);
const bytesPerMs = field(main.gcs[longest + 1], 'allocated') / Math.max(1, field(main.gcs[longest + 1], 'mutator'));
const loadBegan = main.gcs[longest]!.ms - (bytesPerMs > 0 ? field(main.gcs[longest], 'allocated') / bytesPerMs : 0);
const shift = loadBegan - phases.find((p) => p.name === 'window')!.from;
if (IDLE >= 5 && shift > 0) for (const p of phases) if (p.name !== 'start') p.from += shift;
phases = phases.filter((p, i) => i === 0 || p.from > phases[i - 1]!.from);
const phaseOf = (ms: number) => phases.findLast((p) => p.from <= ms)!.name;
const windowAt = phases.find((p) => p.name === 'window')!.from;
console.log(`phases (ms of the server's trace, moved by ${Math.round(shift)} ms): ${phases.map((p) => `${p.name} ${Math.round(p.from)}`).join(', ')}`);
const at = (ms: number) => `${((ms - windowAt) / 1000).toFixed(2).padStart(7)} s`;
const MB = (bytes: string | undefined) => (Number(bytes) / 2 ** 20).toFixed(1);

console.log(`time from the window's start [phase]; incremental marking's starts, every mark-compact, the new space's capacity as it changes`);
type Row = { phase: string; scavenges: number; survived: number; promoted: number; capacities: number[]; markCompacts: number };
const rows = new Map<string, Row>();
const events = [...main.marking.map((l) => ({ ms: l.ms, text: l.text })), ...main.gcs.map((g) => ({ ms: g.ms, gc: g }))].sort((a, b) => a.ms - b.ms);
let capacity = 0;
let last: Gc | undefined;
let lastMarkCompact: Gc | undefined;
for (const e of events) {
  const phase = phaseOf(e.ms);
  if (!('gc' in e)) {
    // V8 counts ArrayBuffer memory allocated since the last mark-compact against the old
    // generation's headroom (not in the size it prints): shown from the last GC's figures.
    const external =
      last && lastMarkCompact
        ? ` [at the last GC: new space ${last.capacityKB} KB, old generation ${(last.oldKB / 1024).toFixed(1)} MB, external ${(last.externalKB / 1024).toFixed(1)} MB, +${((last.externalKB - lastMarkCompact.externalKB) / 1024).toFixed(1)} since the last mark-compact]`
        : '';
    if (/Start \(/.test(e.text)) console.log(`${at(e.ms)} [${phase}] ${e.text}${external}`);
    continue;
  }
  last = e.gc!;
  if (e.gc!.kind !== 's') lastMarkCompact = e.gc!;
  const { kind, fields, capacityKB } = e.gc!;
  let r = rows.get(phase);
  if (!r) rows.set(phase, (r = { phase, scavenges: 0, survived: 0, promoted: 0, capacities: [], markCompacts: 0 }));
  if (kind === 's') {
    r.scavenges++;
    r.survived += Number(fields.get('new_space_survived') ?? 0);
    r.promoted += Number(fields.get('promoted') ?? 0);
  } else {
    r.markCompacts++;
    console.log(
      `${at(e.ms)} [${phase}] ${kind === 'mc' ? 'mark-compact' : kind}: reduce_memory=${fields.get('reduce_memory')}, heap ${MB(fields.get('total_size_before'))} -> ${MB(fields.get('total_size_after'))} MB, pause ${fields.get('pause')} ms, new space capacity after ${capacityKB} KB`,
    );
  }
  if (capacityKB !== capacity) {
    if (r.capacities.at(-1) !== capacityKB) r.capacities.push(capacityKB);
    console.log(
      `${at(e.ms)} [${phase}] new space capacity ${capacity} -> ${capacityKB} KB after ${kind === 's' ? 'a scavenge' : 'a mark-compact'} (reduce_memory=${fields.get('reduce_memory')})`,
    );
    capacity = capacityKB;
  }
}
console.table(
  [...rows.values()].map((r) => ({
    phase: r.phase,
    scavenges: r.scavenges,
    'survived KB/scavenge': r.scavenges ? Math.round(r.survived / r.scavenges / 1024) : 0,
    'promoted KB/scavenge': r.scavenges ? Math.round(r.promoted / r.scavenges / 1024) : 0,
    'new space capacities KB': r.capacities.join(' '),
    'mark-compacts': r.markCompacts,
  })),
);
