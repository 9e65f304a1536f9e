/**
 * CPU profile of one server of servers.ts under the callback bench's traffic (all new
 * messages): `npx tsx --conditions=@wxbot/source bench/profile.ts [server] [plain|safe]`.
 * Writes a .cpuprofile into bench/profiles/ (open it in Chrome DevTools) and prints the
 * functions with the most self time.
 */
import { fork } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { CryptoMode } from './config.ts';
import { load } from './run.ts';
import { messagesFor, newMessages } from './traffic.ts';

const [server = 'wxbot', mode = 'plain'] = process.argv.slice(2) as [string, CryptoMode];
const seconds = Number(process.env.BENCH_SECONDS ?? 8);
const dir = resolve(import.meta.dirname, 'profiles');
mkdirSync(dir, { recursive: true });
const before = new Set(readdirSync(dir));
const nodeArgs = (process.env.BENCH_NODE_ARGS ?? '--conditions=@wxbot/source --import tsx').split(' ').filter(Boolean);
const child = fork(resolve(import.meta.dirname, 'servers.ts'), [server, mode], {
  execArgv: [...nodeArgs, '--cpu-prof', `--cpu-prof-dir=${dir}`],
  stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
});
const port = await new Promise<number>((ok) => child.on('message', (m: { port?: number }) => m.port !== undefined && ok(m.port)));
const warmup = await load(port, newMessages(mode, 2000), { amount: 2000, connections: 16 }); // JIT
// BENCH_RATE: a fixed rate (req/s) instead of as fast as it answers, to compare servers at the
// same load (a slower server's writev costs more per response: the client is more often asleep).
const rate = process.env.BENCH_RATE ? Number(process.env.BENCH_RATE) : undefined;
// New messages for the whole profile (repeats would be answered from dedup's cache): a fixed
// rate is kept to within a few per cent; as fast as it answers, up to twice the warm-up's (cold
// JIT). More are built if they run out (this process busy meanwhile: said below).
const callbacks = newMessages(mode, rate !== undefined ? messagesFor(rate, seconds, 1.1) : messagesFor(warmup.rate, seconds, 2));
const more = (count: number) => newMessages(mode, count);
const result = await load(port, callbacks, { seconds, connections: 32, more, ...(rate !== undefined && { rate }) });
if (result.built > 0) console.warn(`${result.built} messages were built during the load (this process busy meanwhile)`);
console.log(`${server} ${mode}: ${Math.round(result.rps)} req/s`);
const exited = new Promise((ok) => child.on('exit', ok));
child.disconnect(); // servers.ts exits on disconnect, which writes the profile
await exited;
const file = readdirSync(dir).find((f) => !before.has(f) && f.endsWith('.cpuprofile'));
if (!file) throw new Error('no profile written');
type Node = { id: number; callFrame: { functionName: string; url: string; lineNumber: number }; hitCount: number };
const profile = JSON.parse(readFileSync(join(dir, file), 'utf8')) as { nodes: Node[] };
const self = new Map<string, number>();
let total = 0;
for (const node of profile.nodes) {
  const { functionName, url, lineNumber } = node.callFrame;
  const where = `${functionName || '(anonymous)'} ${url.replace(/^.*\/(node_modules|packages|plugins)\//, '$1/')}:${lineNumber + 1}`;
  self.set(where, (self.get(where) ?? 0) + node.hitCount);
  total += node.hitCount;
}
console.log(`profile: ${join(dir, file)}`);
for (const [where, hits] of [...self].sort((a, b) => b[1] - a[1]).slice(0, Number(process.env.TOP ?? 40))) {
  console.log(`${((100 * hits) / total).toFixed(1).padStart(5)}%  ${where}`);
}
