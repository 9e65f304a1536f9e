/**
 * Machine instructions of one piece of the core's per-message path, alone, counted by valgrind
 * (callgrind) for checkouts side by side: deterministic to a few instructions, where the `bot`
 * scope of bench/instructions.ts moves by ~5k a callback run to run. Each checkout runs in a
 * process of its own, N2 iterations, counted from N1 + 1 (the first N1 warm the JIT up), the
 * window's bounds set as instructions.ts sets them (`--zero-before`/`--dump-before`).
 *
 *   npx tsx bench/coreInstructions.ts dedup /work/wt/base .
 *
 * Pieces: `dedup` (a new message's dedup over a MemoryStore, as Inbound does it: `dedupKeyOf`,
 * `keyHashOf`, `claim`, then `complete` with a safe-mode answer of the default bot's size, ~0.8 KB,
 * made new each time as seal makes it); `line` (the callback's info line of a createLogger logger,
 * as Inbound writes it, to stdout: /dev/null here).
 * BENCH_COUNTS="N1 N2" (default "20000 40000"). Needs valgrind on the PATH; ~1 min a checkout.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { cachedDataVersionTag, getHeapCodeStatistics } from 'node:v8';
import { callgrindWindow } from './callgrindWindow.ts';

type Piece = 'dedup' | 'line';

if (process.argv[2] === '--run') {
  const [dir, piece, n1, n2] = process.argv.slice(3) as [string, Piece, string, string];
  await run(resolve(dir), piece, Number(n1), Number(n2));
} else {
  const [piece = 'dedup', ...dirs] = process.argv.slice(2) as [Piece, ...string[]];
  const [n1, n2] = (process.env.BENCH_COUNTS ?? '20000 40000').split(' ').map(Number) as [number, number];
  for (const dir of dirs.length > 0 ? dirs : ['.']) {
    const total = instructions(dir, piece, n1, n2);
    console.log(`${dir} ${piece}: ${Math.round(total / (n2 - n1)).toLocaleString('en')} instructions each (iterations ${n1 + 1}–${n2})`);
  }
}

function instructions(dir: string, piece: Piece, n1: number, n2: number): number {
  const work = mkdtempSync(join(tmpdir(), 'wxbot-core-instructions-'));
  try {
    const node = [
      process.execPath,
      '--single-threaded',
      '--expose-gc',
      '--conditions=@wxbot/source',
      '--import',
      'tsx',
      import.meta.filename,
      '--run',
      dir,
      piece,
      String(n1),
      String(n2),
    ];
    const dump = callgrindWindow(node, work, dir);
    const totals = /^(?:totals|summary): (\d+)/m.exec(readFileSync(dump, 'utf8'));
    if (!totals) throw new Error(`valgrind over ${dir}: no totals`);
    return Number(totals[1]);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

async function run(dir: string, piece: Piece, n1: number, n2: number): Promise<void> {
  let sink = 0;
  if (piece === 'dedup') {
    const { CallbackDedup, dedupKeyOf, keyHashOf } = await import(`${dir}/packages/core/src/delivery/dedup.ts`);
    const { MemoryStore } = await import(`${dir}/packages/core/src/store/memory.ts`);
    const dedup = new CallbackDedup(new MemoryStore());
    // A safe-mode passive answer's envelope, the default bot's size, made new each message as
    // WXBizMsgCrypt.seal makes it (a template: a rope, which V8 flattens where it is first read).
    const encrypted = 'A'.repeat(600);
    const signature = '0123456789abcdef'.repeat(2);
    const envelope = (nonce: number) =>
      `<xml><Encrypt><![CDATA[${encrypted}]]></Encrypt>` +
      `<MsgSignature><![CDATA[${signature}01234567]]></MsgSignature>` +
      `<TimeStamp>1733100000</TimeStamp><Nonce><![CDATA[${nonce}]]></Nonce></xml>`;
    const first = 7_446_000_000_000_000_000n;
    for (let i = 0; i < n2; i++) {
      if (i === n1) {
        globalThis.gc?.();
        cachedDataVersionTag();
      }
      const key = dedupKeyOf('officialAccount', String(first + BigInt(i)));
      const hash = keyHashOf(key);
      if (dedup.claim(key, hash).first) sink++;
      dedup.complete(key, envelope(i), hash);
    }
  }
  if (piece === 'line') {
    const { callbackLine, createLogger } = await import(`${dir}/packages/core/src/logger.ts`);
    const line = callbackLine(createLogger());
    const first = 7_446_000_000_000_000_000n;
    for (let i = 0; i < n2; i++) {
      if (i === n1) {
        globalThis.gc?.();
        cachedDataVersionTag();
      }
      line('officialAccount', 'text', String(first + BigInt(i)), (i % 50) / 10, 'passive');
      sink++;
    }
  }
  getHeapCodeStatistics();
  if (sink !== n2) throw new Error(`${n2 - sink} iterations were not new messages`);
}
