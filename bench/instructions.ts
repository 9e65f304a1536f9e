/**
 * Machine instructions per callback of an Official Account channel's own work, or of the
 * default bot's, counted by valgrind (callgrind), for checkouts side by side: a count, not a
 * time, so it holds on a shared machine whose load makes CPU µs swing by 2× (the figures of
 * bench/README.md "Safe-mode ciphers" were taken at load 9–12). Each checkout is run over the
 * same new messages (encrypted by the test peer in safe mode, signed just before its process
 * starts), in a process of its own under callgrind: callbacks 1 to N2, counted from N1 + 1 (the
 * first N1 warm the JIT up; start-up, loading and exit are not counted), divided by N2 − N1.
 * Only the main thread is counted (tsx's loader thread and libuv's pool are not).
 *
 *   npx tsx --conditions=@wxbot/source bench/instructions.ts [safe|plain] [scope] /work/wt/base .
 *
 * Scope: `channel` (default: `receive` then `encodeReply` of a text reply: signature, replay
 * window, decryption, XML, the reply's XML, encryption and envelope), `receive` (the first half),
 * `floor` (bench/servers.ts's hand-written handler over the checkout's WXBizMsgCrypt), or `bot`
 * (the default bot as servers.ts's `wxbot` sets it up, info logs to /dev/null, each callback
 * through `bot.handleCallback` as the HTTP route calls it, one at a time, the event loop turning
 * between them: the framework's and its plugins' whole work a message, without HTTP).
 * BENCH_COUNTS="N1 N2" (default "3000 9000", bot "3000 6000"). BENCH_CALLGRIND_OUT=DIR keeps each
 * run's profile there (`callgrind_annotate --inclusive=yes FILE`; bench/callgrindJs.ts names
 * the JIT code in it). Needs valgrind on the PATH; ~2–5 min a run on a loaded 2-core VM (bot:
 * ~6 G instructions of start-up at ~40 M a second under valgrind, ~3 min, before the count).
 */
import { mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { cachedDataVersionTag, getHeapCodeStatistics } from 'node:v8';
import { callgrindWindow, countedNode, windowInstructions } from './callgrindWindow.ts';
import type { CryptoMode } from './config.ts';
import { channelHandler, defaultBot, floorHandler, type Prepared, prepareCallbacks } from './inProcess.ts';

type Scope = 'channel' | 'receive' | 'floor' | 'bot';

if (process.argv[2] === '--run') {
  const [dir, file, n1, n2, scope] = process.argv.slice(3) as [string, string, string, string, Scope];
  await run(resolve(dir), JSON.parse(readFileSync(file, 'utf8')) as Prepared, Number(n1), Number(n2), scope);
} else {
  await main();
}

async function main(): Promise<void> {
  const [mode = 'safe', scope = 'channel', ...dirs] = process.argv.slice(2) as [CryptoMode, Scope, ...string[]];
  const [n1, n2] = (process.env.BENCH_COUNTS ?? (scope === 'bot' ? '3000 6000' : '3000 9000')).split(' ').map(Number) as [number, number];
  const work = mkdtempSync(join(tmpdir(), 'wxbot-instructions-'));
  const file = join(work, 'callbacks.json');
  try {
    for (const dir of dirs.length > 0 ? dirs : ['.']) {
      // Signed just before each checkout's run (see prepareCallbacks); every checkout gets the
      // same texts and users.
      writeFileSync(file, JSON.stringify(await prepareCallbacks(mode, n2)));
      const { total, compile } = instructions(dir, file, n1, n2, scope, mode, work);
      const per = (n: number) => Math.round(n / (n2 - n1)).toLocaleString('en');
      console.log(
        `${dir} ${mode} ${scope}: ${per(total - compile)} instructions a callback without TurboFan's compiles (${per(total)} with: ${total.toLocaleString('en')} over callbacks ${n1 + 1}–${n2})`,
      );
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/**
 * Instructions callgrind counted over callbacks `n1 + 1` to `n2` of a process: the process
 * calls `v8.cachedDataVersionTag()` before the first of them and `v8.getHeapCodeStatistics()`
 * after the last, two node functions nothing measured calls, at which callgrind zeroes its
 * counters and dumps them (`--zero-before`, `--dump-before`). Start-up, loading (tsx's loader,
 * whose transform cache makes a checkout's first run cost ~0.3 G instructions more) and the
 * first `n1` callbacks (the JIT's warm-up) are left out, and exit too.
 */
function instructions(dir: string, file: string, n1: number, n2: number, scope: Scope, mode: CryptoMode, work: string): { total: number; compile: number } {
  // One thread: V8's compiler and collector do their work on it, at points set by the work
  // itself rather than by how fast helper threads ran under valgrind (a run to run noise of
  // ±10k instructions a callback with them, measured).
  // BENCH_CALLGRIND_OUT=DIR keeps the window's profile there (for callgrind_annotate), and the
  // process writes where its JIT code lies (/tmp/perf-PID.map) for bench/callgrindJs.ts to name it.
  const keep = process.env.BENCH_CALLGRIND_OUT;
  const node = countedNode(import.meta.filename, [dir, file, n1, n2, scope], {
    perf: Boolean(keep),
    loader: process.env.BENCH_NODE_ARGS?.split(' ').filter(Boolean),
  });
  const dump = callgrindWindow(node, work, dir);
  // What TurboFan took in the window is on this one thread (a server compiles on a helper thread).
  const counted = windowInstructions(dump);
  if (keep) renameSync(dump, join(resolve(keep), `callgrind.${basename(resolve(dir))}.${mode}.${scope}`));
  for (const name of readdirSync(work)) if (name.startsWith('callgrind.out')) rmSync(join(work, name));
  return counted;
}

/**
 * The measured process: callbacks 1 to `n2` through the checkout's channel (or the floor, or
 * the default bot), callgrind counting from callback `n1 + 1` (see {@link instructions}).
 */
async function run(dir: string, prepared: Prepared, n1: number, n2: number, scope: Scope): Promise<void> {
  // callgrind --zero-before and --dump-before these: the window's bounds.
  // Start-up's garbage is collected before the count (its first mark-compact, ~0.3 G
  // instructions, fell inside the bot's window otherwise), then callgrind zeroes.
  const opens = (i: number) => {
    if (i !== n1) return;
    globalThis.gc?.();
    cachedDataVersionTag();
  };
  const count = n2;
  let sink = 0;
  if (scope === 'floor') {
    const handle = await floorHandler(dir, prepared.mode);
    for (let i = 0; i < count; i++) {
      opens(i);
      sink += handle(prepared.callbacks[i]!);
    }
    getHeapCodeStatistics();
  } else if (scope === 'bot') {
    // Each callback handed to handleCallback as the HTTP route does, one at a time, back to the
    // event loop between messages (log writes and timers run there, as between a server's requests).
    const bot = await defaultBot(dir, prepared.mode);
    for (let i = 0; i < count; i++) {
      opens(i);
      sink += await bot.handle(prepared.callbacks[i]!);
      await new Promise(setImmediate);
    }
    getHeapCodeStatistics();
    await bot.stop();
  } else {
    const handle = await channelHandler(dir, prepared.mode, scope === 'receive');
    for (let i = 0; i < count; i++) {
      opens(i);
      sink += handle(prepared.callbacks[i]!);
    }
    getHeapCodeStatistics();
  }
  if (sink === 0) throw new Error('nothing was done');
}
