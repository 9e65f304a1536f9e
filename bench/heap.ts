/**
 * Heap after GC as new messages keep coming: the default bot (safe mode, every feature on)
 * gets STEP new messages at a time up to TOTAL, and after each step reports the heap in use
 * after a full GC. Flat means nothing grows per message (dedup answers expire, no per-message
 * leftovers), and the ArrayBuffers outside it (the dedup's marks and answers, the hand-off's
 * history: bounded by their budgets, so flat once full). Default 200k steps to 1M; on a small shared machine try BENCH_HEAP_STEP=20000.
 * BENCH_HEAP_PAD=1000 pads every text by that many characters: a dedup mark that kept its
 * message alive would then show as ~1 KB a message until the dedup space is full.
 *
 *   npx tsx bench/heap.ts
 */
import { load, startServer } from './run.ts';
import { newMessages } from './traffic.ts';

const STEP = Number(process.env.BENCH_HEAP_STEP ?? 200_000);
const TOTAL = Number(process.env.BENCH_HEAP_TOTAL ?? 1_000_000);
const BATCH = 20_000;
const PAD = Number(process.env.BENCH_HEAP_PAD ?? 0);

const server = await startServer('wxbot', 'safe', ['--expose-gc']);
try {
  const rows: { messages: number; 'heap MiB': string; 'ArrayBuffers MiB': string }[] = [];
  let sent = 0;
  while (sent < TOTAL) {
    for (let inStep = 0; inStep < STEP; inStep += BATCH) {
      const n = Math.min(BATCH, STEP - inStep);
      const r = await load(server.port, newMessages('safe', n, '/wx', PAD), { amount: n, connections: 32 });
      if (r.errors) throw new Error(`${r.errors} errors`);
      sent += n;
    }
    const { heapUsed, arrayBuffers } = await server.heap();
    rows.push({ messages: sent, 'heap MiB': (heapUsed / 2 ** 20).toFixed(1), 'ArrayBuffers MiB': (arrayBuffers / 2 ** 20).toFixed(1) });
    console.log(rows.at(-1));
  }
  console.table(rows);
  const first = Number(rows[0]!['heap MiB']);
  const last = Number(rows.at(-1)!['heap MiB']);
  console.log(`heap after GC from ${rows[0]!.messages} to ${sent} messages: ${first} → ${last} MiB (${(((last - first) / first) * 100).toFixed(1)}%)`);
  // The dedup's marks and answers and the hand-off's history are kept outside the JS heap,
  // bounded by their budgets: flat once those are full.
  console.log(`ArrayBuffers: ${rows[0]!['ArrayBuffers MiB']} → ${rows.at(-1)!['ArrayBuffers MiB']} MiB`);
} finally {
  server.stop();
}
