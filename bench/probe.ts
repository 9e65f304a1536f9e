/**
 * Where a server's CPU per request goes outside its JavaScript: one server of servers.ts at a
 * fixed rate (every request a new message), then per thread (main, V8 and libuv workers) CPU µs
 * per request, how much of it in the kernel, and context switches per request. Options:
 * BENCH_STRACE=1 adds system calls per request (strace -c -f; slows the server, counts only);
 * BENCH_PERF=file records an on-CPU profile of every thread with `perf record -e cpu-clock -g`
 * (start the server with BENCH_NODE_ARGS="… --perf-basic-prof-only-functions" for JS names).
 * An on-CPU profile, unlike --cpu-prof's wall-clock samples, does not count the time a server
 * was preempted inside `writev` (loopback wakes the load generator) as its own.
 *
 *   npx tsx --conditions=@wxbot/source bench/probe.ts wxbot plain 2000
 *   npx tsx --conditions=@wxbot/source bench/probe.ts wxbot-echo-silent plain 2000   # attribution
 */
import { execFileSync, fork, spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { CryptoMode } from './config.ts';
import { load } from './run.ts';
import { newMessages } from './traffic.ts';

const [name = 'wxbot', mode = 'plain', rateArg = '2000'] = process.argv.slice(2) as [string, CryptoMode, string];
const rate = Number(rateArg);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 4);
const at = name.indexOf('@');
const [server, dir] = at < 0 ? [name, resolve(import.meta.dirname, '..')] : [name.slice(0, at), resolve(name.slice(at + 1))];
const nodeArgs = (process.env.BENCH_NODE_ARGS ?? '--conditions=@wxbot/source --import tsx').split(' ').filter(Boolean);
const child = fork(resolve(dir, 'bench', 'servers.ts'), [server, mode], { execArgv: nodeArgs, stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
const port = await new Promise<number>((ok) => child.on('message', (m: { port?: number }) => m.port !== undefined && ok(m.port)));
const pid = child.pid as number;

interface ThreadStat {
  comm: string;
  ticks: number;
  sys: number;
  voluntary: number;
  involuntary: number;
}

/** Every thread of the server: CPU ticks (user + system), system ticks, context switches. */
function threads(): Map<string, ThreadStat> {
  const out = new Map<string, ThreadStat>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
    const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const status = readFileSync(`/proc/${pid}/task/${tid}/status`, 'utf8');
    const count = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+)`, 'm').exec(status)?.[1] ?? 0);
    out.set(tid, {
      comm,
      ticks: Number(fields[11]) + Number(fields[12]),
      sys: Number(fields[12]),
      voluntary: count('voluntary_ctxt_switches'),
      involuntary: count('nonvoluntary_ctxt_switches'),
    });
  }
  return out;
}

await load(port, newMessages(mode, 4000), { amount: 4000, connections: 16 }); // warm-up
const traffic = newMessages(mode, Math.ceil(rate * SECONDS * 1.2));
const tracer = process.env.BENCH_STRACE ? spawn('strace', ['-c', '-f', '-p', String(pid), '-o', '/tmp/wxbot-probe-strace.txt'], { stdio: 'ignore' }) : undefined;
const perf = process.env.BENCH_PERF
  ? spawn('perf', ['record', '-e', 'cpu-clock', '-F', '4000', '-g', '-p', String(pid), '-o', process.env.BENCH_PERF], { stdio: 'ignore' })
  : undefined;
if (tracer || perf) await new Promise((ok) => setTimeout(ok, 500));
const before = threads();
const result = await load(port, traffic, { seconds: SECONDS, connections: 16, rate });
const after = threads();
for (const tool of [tracer, perf]) {
  if (!tool) continue;
  tool.kill('SIGINT');
  await new Promise((ok) => tool.on('exit', ok));
}
child.kill('SIGKILL');

const µs = 1e6 / Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }));
const n = result.count;
console.log(`${name} ${mode} at ${rate} req/s: ${n} requests, ${result.errors} errors, p99 ${result.p99} ms`);
const byThread = new Map<string, { cpu: number; sys: number; voluntary: number; involuntary: number }>();
let total = 0;
for (const [tid, a] of after) {
  const b = before.get(tid) ?? { ticks: 0, sys: 0, voluntary: 0, involuntary: 0 };
  const key = tid === String(pid) ? 'main thread' : `other threads (${a.comm})`;
  const e = byThread.get(key) ?? { cpu: 0, sys: 0, voluntary: 0, involuntary: 0 };
  e.cpu += ((a.ticks - b.ticks) * µs) / n;
  e.sys += ((a.sys - b.sys) * µs) / n;
  e.voluntary += (a.voluntary - b.voluntary) / n;
  e.involuntary += (a.involuntary - b.involuntary) / n;
  byThread.set(key, e);
  total += ((a.ticks - b.ticks) * µs) / n;
}
for (const [key, e] of byThread) {
  console.log(
    `  ${key.padEnd(24)} CPU ${e.cpu.toFixed(1).padStart(6)} µs/req (kernel ${e.sys.toFixed(1)}), context switches ${e.voluntary.toFixed(2)} voluntary ${e.involuntary.toFixed(2)} involuntary /req`,
  );
}
console.log(`  total CPU ${total.toFixed(1)} µs/req`);
if (tracer) {
  for (const line of readFileSync('/tmp/wxbot-probe-strace.txt', 'utf8').split('\n')) {
    const m = /^\s*[\d.]+\s+[\d.]+\s+\d+\s+(\d+)\s+(?:\d+\s+)?(\w+)$/.exec(line);
    if (m) console.log(`  ${(m[2] as string).padEnd(16)} ${(Number(m[1]) / n).toFixed(2)} calls/req`);
  }
}
if (perf) console.log(`  perf data: ${process.env.BENCH_PERF} (perf report -i … --no-children --sort sym)`);
process.exit(0);
