/**
 * Page faults and CPU a request of servers over HTTP at a fixed rate, every request a new
 * message, read from the server's /proc/PID/stat (Linux): minor faults, user and system CPU.
 *
 *   npx tsx --conditions=@wxbot/source bench/faults.ts [plain|safe] [rate] server ...
 *   npx tsx --conditions=@wxbot/source bench/faults.ts plain 4000 koa wxbot wxbot@/path/to/other/checkout
 *
 * Why: on a VM whose host takes back the memory the guest frees (this one: Firecracker with free
 * page reporting), a page the process writes for the first time costs ~25–40 µs (measured: a
 * 64 MiB array written once every 4 KiB, 0.4–0.7 s; written again, under 3 ms), in the kernel's
 * time of whoever touched it. A server that keeps writing fresh memory pays that at its message
 * rate: the default bot's off-heap rings (answers kept for retries, the hand-off's history,
 * dedup marks) until they are full. Faults are counted exactly; CPU swings with the machine's load.
 *
 * Each server is started fresh and warmed up with BENCH_WARMUP new messages (5000, as
 * latency.ts), then loaded for BENCH_WINDOWS windows of BENCH_SECONDS (3 × 5 s), the first after
 * BENCH_IDLE idle seconds (0; BENCH_IDLE=15 BENCH_SECONDS=1 shows the faults of the first seconds
 * after an idle); the servers take turns, BENCH_ROUNDS times (1), the order swapped every round.
 */
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import type { CryptoMode } from './config.ts';
import { load, startServer } from './run.ts';
import { newMessages } from './traffic.ts';

const [mode = 'plain', rateArg = '4000', ...names] = process.argv.slice(2) as [CryptoMode, string, ...string[]];
const servers = names.length > 0 ? names : ['koa', 'wxbot'];
const rate = Number(rateArg);
const WARMUP = Number(process.env.BENCH_WARMUP ?? 5000);
const WINDOWS = Number(process.env.BENCH_WINDOWS ?? 3);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 1);
/** Seconds each server sits idle before its first window (as latency.ts's servers sit while the other is measured). */
const IDLE = Number(process.env.BENCH_IDLE ?? 0);
/** Clock ticks a second of /proc/PID/stat's CPU times (USER_HZ: 100 on Linux). */
const TICKS = 100;

/** Minor faults and CPU ticks of a process so far (fields 10, 14 and 15 of /proc/PID/stat). */
function stat(pid: number): { faults: number; user: number; system: number } {
  const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' '); // from field 3 on: the name may hold spaces
  return { faults: Number(fields[7]), user: Number(fields[11]), system: Number(fields[12]) };
}

for (let round = 0; round < ROUNDS; round++) {
  for (const name of round % 2 ? [...servers].reverse() : servers) {
    const server = await startServer(name, mode);
    try {
      for (let done = 0; done < WARMUP; done += 10_000) {
        const amount = Math.min(10_000, WARMUP - done);
        await load(server.port, newMessages(mode, amount), { amount, connections: 16 });
      }
      const windows = Array.from({ length: WINDOWS }, () => newMessages(mode, Math.ceil(rate * SECONDS * 1.2)));
      if (IDLE > 0) await sleep(IDLE * 1000);
      for (let window = 1; window <= WINDOWS; window++) {
        const traffic = windows[window - 1]!;
        const before = stat(server.pid);
        const result = await load(server.port, traffic, { seconds: SECONDS, connections: 16, rate });
        const after = stat(server.pid);
        if (result.errors) throw new Error(`${name}: ${result.errors} errors`);
        const per = (ticks: number) => ((ticks * 1e6) / TICKS / result.count).toFixed(1);
        console.log(
          `${name} ${mode} window ${window}: ${result.count} requests, ${((after.faults - before.faults) / result.count).toFixed(3)} minor faults a request, ` +
            `CPU user ${per(after.user - before.user)} + system ${per(after.system - before.system)} µs a request (load ${readFileSync('/proc/loadavg', 'utf8').split(' ')[0]})`,
        );
      }
    } finally {
      server.stop();
    }
  }
}
