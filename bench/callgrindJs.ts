/**
 * Self instructions of a callgrind profile by function, JavaScript functions named: callgrind
 * knows node's C++ and builtins by their symbols but names JIT code by address only; node's
 * `--perf-basic-prof` writes where each compiled function lies (/tmp/perf-PID.map), and this
 * gives each address callgrind saw the name of the code that holds it.
 *
 *   BENCH_CALLGRIND_OUT=/tmp/cg npx tsx --conditions=@wxbot/source bench/instructions.ts safe bot .
 *   npx tsx bench/callgrindJs.ts /tmp/cg/callgrind.botcount.safe.bot [callbacks] [top]
 *
 * (bench/instructions.ts runs node with --perf-basic-prof when it keeps the profile.) With
 * `callbacks`, figures are per callback. Code V8 moved or freed after the map named it may be
 * misnamed; builtins keep their symbols (Builtins_…).
 *
 * BENCH_NATIVE=1: JavaScript functions (and RegExps) only, each with what its calls into native
 * code cost (builtins, V8's runtime, node's C++, inclusive, from the profile's call edges): what a
 * function costs beside the JavaScript it calls. Calls that may run JavaScript again or compile
 * (Call/Construct builtins, promises, microtasks, runtime calls, Sparkplug's prologue…) are left
 * out, so the sum is below the total.
 */
import { readFileSync } from 'node:fs';

const [file, callbacks = '1', top = '60'] = process.argv.slice(2);
if (!file) throw new Error('usage: callgrindJs.ts FILE [callbacks] [top]');
const text = readFileSync(file, 'utf8');
const pid = /^pid: (\d+)/m.exec(text)?.[1];

/** Compiled code ranges from the perf map, sorted by start. */
const ranges: { start: number; end: number; name: string }[] = [];
try {
  for (const line of readFileSync(`/tmp/perf-${pid}.map`, 'utf8').split('\n')) {
    const m = /^([0-9a-f]+) ([0-9a-f]+) (.*)$/.exec(line);
    if (m) ranges.push({ start: Number.parseInt(m[1]!, 16), end: Number.parseInt(m[1]!, 16) + Number.parseInt(m[2]!, 16), name: m[3]! });
  }
} catch {
  console.error(`no /tmp/perf-${pid}.map: JIT code stays unnamed`);
}
ranges.sort((a, b) => a.start - b.start);

/** A profile's function name, JIT code named by the perf map. */
function nameOf(fn: string): string {
  const address = /^0x([0-9a-f]+)/.exec(fn);
  return address ? (codeAt(Number.parseInt(address[1]!, 16)) ?? 'JIT code (unnamed)') : fn;
}

/** The name of the latest code made at `address` (the map lists code in the order it was made). */
function codeAt(address: number): string | undefined {
  let lo = 0;
  let hi = ranges.length - 1;
  let found: string | undefined;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (ranges[mid]!.start <= address) {
      if (address < ranges[mid]!.end) found = ranges[mid]!.name;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  return found;
}

const names = new Map<string, string>();
const self = new Map<string, number>();
/** BENCH_NATIVE: the inclusive cost of calls into native code, by the calling function's name as named below. */
const native = new Map<string, number>();
const withNative = process.env.BENCH_NATIVE === '1';
const isJs = (name: string) => /^(JS|RegExp):/.test(name);
/** Callees whose cost is not the caller's own native work: they may run JavaScript or the compiler. */
const reenters =
  /Compile|Interpreter|JSEntry|Builtins_Call|CallFunction|Construct|RunMicrotasks|StackGuard|Generic|Trampoline|Execution::|Invoke|Builtins_Async|Promise|Resume|^JIT|^JS:|^RegExp:|Runtime_|Deopt|FunctionApply|ReflectApply|OutOfLinePrologue|CEntry|LeaveFrame|Budget/;
let current = '';
let callee = '';
let skipNext = false;
for (const line of text.split('\n')) {
  if (line.startsWith('fn=')) {
    const m = /^fn=\((\d+)\)(?: (.*))?$/.exec(line);
    if (m) {
      if (m[2] !== undefined) names.set(m[1]!, m[2]);
      current = names.get(m[1]!)!;
    } else current = line.slice(3);
    continue;
  }
  if (line.startsWith('cfn=')) {
    const m = /^cfn=\((\d+)\)(?: (.*))?$/.exec(line);
    if (m?.[2] !== undefined) names.set(m[1]!, m[2]);
    if (m) callee = names.get(m[1]!)!;
    continue;
  }
  if (line.startsWith('calls=')) {
    skipNext = true;
    continue;
  }
  if (!/^[0-9+\-*]/.test(line)) continue;
  if (skipNext) {
    skipNext = false;
    if (withNative) {
      const caller = nameOf(current);
      if (isJs(caller) && !reenters.test(nameOf(callee))) native.set(caller, (native.get(caller) ?? 0) + Number(line.split(' ')[1] ?? 0));
    }
    continue;
  }
  const cost = Number(line.split(' ')[1] ?? 0);
  if (cost) self.set(current, (self.get(current) ?? 0) + cost);
}

const byName = new Map<string, number>();
for (const [fn, cost] of self) {
  const name = nameOf(fn);
  byName.set(name, (byName.get(name) ?? 0) + cost);
}
const total = [...byName.values()].reduce((a, b) => a + b, 0);
const per = Number(callbacks);
if (withNative) {
  const rows = [...byName].filter(([name]) => isJs(name)).map(([name, cost]) => [name, cost, native.get(name) ?? 0] as const);
  const f = (n: number) =>
    Math.round(n / per)
      .toLocaleString('en')
      .padStart(10);
  console.log(`${f(total).trim()} instructions${per > 1 ? ' a callback' : ''} (self, all functions); JavaScript's: with native callees, self, native callees`);
  for (const [name, own, calls] of rows.sort((a, b) => b[1] + b[2] - a[1] - a[2]).slice(0, Number(top)))
    console.log(`${f(own + calls)}${f(own)}${f(calls)}  ${name.slice(0, 150)}`);
  process.exit(0);
}
console.log(`${Math.round(total / per).toLocaleString('en')} instructions${per > 1 ? ' a callback' : ''} (self, all functions)`);
for (const [name, cost] of [...byName].sort((a, b) => b[1] - a[1]).slice(0, Number(top))) {
  console.log(
    `${Math.round(cost / per)
      .toLocaleString('en')
      .padStart(10)}  ${((cost / total) * 100).toFixed(1).padStart(5)}%  ${name.slice(0, 150)}`,
  );
}
