/**
 * The callback dedup on Redis (RedisStore), alone: per new message a claim and a recorded
 * passive answer (the XML body of an encrypted reply, ~600 bytes), as a bot behind a shared
 * Redis does it, with `BENCH_RETRIES` (default 0.1) of the messages retried afterwards through
 * a second store (another process's view: it reads the answer). 16 messages in flight.
 *
 *   redis-server --port 6391 --save '' --appendonly no --daemonize yes
 *   BENCH_REDIS_URL=redis://127.0.0.1:6391 npx tsx --conditions=@wxbot/source bench/redisDedup.ts
 *
 * Prints per pass, and the median of the passes: this process's CPU µs a message (user +
 * system) and commands it sent a message (each one a reply to wait for and parse), and from
 * the server's INFO, Redis commands run a message (by name; a script's own calls counted too)
 * and Redis CPU µs a message. The server counts are of the whole server: exact only
 * on a Redis of your own. To compare two versions, run this file from each checkout in turn.
 */
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { RedisStore } from '@wxbot/redis';
import { CallbackDedup } from '../packages/core/src/delivery/dedup.ts';
import { median } from './run.ts';

const URL = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';
const PASSES = Number(process.env.BENCH_PASSES ?? 5);
const PER_PASS = Number(process.env.BENCH_MESSAGES ?? 20_000);
const RETRIES = Number(process.env.BENCH_RETRIES ?? 0.1);
const IN_FLIGHT = 16;
const PREFIX = `wxbot-bench:${randomUUID()}:`;
const BODY = `<xml><Encrypt><![CDATA[${'q'.repeat(560)}]]></Encrypt><MsgSignature><![CDATA[${'0'.repeat(40)}]]></MsgSignature><TimeStamp>1764547200</TimeStamp><Nonce><![CDATA[1234567890]]></Nonce></xml>`;

const stores = [new RedisStore({ url: URL, prefix: PREFIX, durable: false }), new RedisStore({ url: URL, prefix: PREFIX, durable: false })];
const [bot, other] = stores.map((store) => new CallbackDedup(store, 300_000));
const admin = new Redis(URL);
/** Answers the store failed to record (a command past its deadline on a busy machine): their retries get `success`. */
let failed = 0;
bot!.onError = () => failed++;
let unanswered = 0;

/** Calls of each command, and the server's CPU µs, from INFO. */
async function serverCounts(): Promise<{ calls: Map<string, number>; cpuUs: number }> {
  const info = await admin.info('all');
  const calls = new Map<string, number>();
  for (const [, name, n] of info.matchAll(/^cmdstat_(\w+):calls=(\d+)/gm)) calls.set(name!, Number(n));
  const cpu = (field: string) => Number(new RegExp(`^${field}:([\\d.]+)`, 'm').exec(info)?.[1] ?? 0);
  return { calls, cpuUs: (cpu('used_cpu_user') + cpu('used_cpu_sys')) * 1e6 };
}

/** Commands this process sent (both stores): what it waits for and parses. */
let sent = 0;
for (const store of stores) {
  const client = store.client as Redis & { sendCommand: (...args: unknown[]) => unknown };
  const send = client.sendCommand.bind(client);
  client.sendCommand = (...args) => {
    sent += 1;
    return send(...args);
  };
}

let serial = 0;
async function message(): Promise<void> {
  const n = ++serial;
  const key = `dedup:oa:${n}`;
  const claim = await bot!.claim(key);
  if (!claim.first) throw new Error(`${key}: claimed before`);
  await bot!.complete(key, BODY);
  if (RETRIES > 0 && n % Math.round(1 / RETRIES) === 0) {
    const retry = await other!.claim(key);
    if (retry.first) throw new Error(`${key}: a retry handled again`);
    if ((await retry.response) !== BODY) unanswered += 1;
  }
}

async function pass(count: number): Promise<{ cpu: number; sent: number; commands: Map<string, number>; redisCpu: number }> {
  const before = await serverCounts();
  const sentBefore = sent;
  const start = process.cpuUsage();
  let left = count;
  await Promise.all(
    Array.from({ length: IN_FLIGHT }, async () => {
      while (left-- > 0) await message();
    }),
  );
  const used = process.cpuUsage(start);
  const after = await serverCounts();
  const commands = new Map<string, number>();
  for (const [name, n] of after.calls) {
    const d = n - (before.calls.get(name) ?? 0);
    if (d > 0 && name !== 'info') commands.set(name, d / count);
  }
  return { cpu: (used.user + used.system) / count, sent: (sent - sentBefore) / count, commands, redisCpu: (after.cpuUs - before.cpuUs) / count };
}

try {
  await pass(2000); // warm-up: connections, the script loaded, JIT
  const results: Awaited<ReturnType<typeof pass>>[] = [];
  for (let p = 1; p <= PASSES; p++) {
    const r = await pass(PER_PASS);
    results.push(r);
    const total = [...r.commands.values()].reduce((a, b) => a + b, 0);
    const byName = [...r.commands].map(([name, n]) => `${name} ${n.toFixed(2)}`).join(', ');
    console.log(
      `pass ${p}: CPU ${r.cpu.toFixed(1)} µs/msg, ${r.sent.toFixed(2)} commands sent/msg; Redis ${total.toFixed(2)} commands run/msg (${byName}), Redis CPU ${r.redisCpu.toFixed(1)} µs/msg`,
    );
  }
  const total = (r: (typeof results)[number]) => [...r.commands.values()].reduce((a, b) => a + b, 0);
  if (failed || unanswered) console.log(`${failed} answers not recorded (store failures), ${unanswered} retries without the answer`);
  console.log(
    `median of ${PASSES} × ${PER_PASS}: CPU ${median(results.map((r) => r.cpu)).toFixed(1)} µs/msg, ${median(results.map((r) => r.sent)).toFixed(2)} commands sent/msg, Redis ${median(results.map(total)).toFixed(2)} commands run/msg, Redis CPU ${median(results.map((r) => r.redisCpu)).toFixed(1)} µs/msg`,
  );
} finally {
  const keys = await admin.keys(`${PREFIX}*`);
  for (let i = 0; i < keys.length; i += 500) await admin.del(...keys.slice(i, i + 500));
  admin.disconnect();
  await Promise.all(stores.map((s) => s.close()));
}
