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
 * as Inbound writes it, to stdout: /dev/null here); `pipeline` (a new text message through a bot's
 * pipeline and reply path, `bot.dispatch` with a 5 s passive window: Inbound's run and context, the
 * bot's /help check, one error-bounded stage a plugin, the reply through a reply hook and the
 * in-process outbox into the window; the default bot's four stages as plugins that do no work of
 * their own: the hand-off's shape (one middleware that calls next(), a reply hook that records
 * nothing), voice's (`on('voice')`), the commands plugin's (two commands), and keyword's fallback
 * (one middleware: next(), then a reply when nothing answered)).
 * BENCH_COUNTS="N1 N2" (default "20000 40000"). Needs valgrind on the PATH; ~1 min a checkout.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { cachedDataVersionTag, getHeapCodeStatistics } from 'node:v8';
import { callgrindWindow, countedNode, windowTotal } from './callgrindWindow.ts';

type Piece = 'dedup' | 'line' | 'pipeline';

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
    const node = countedNode(import.meta.filename, [dir, piece, n1, n2]);
    return windowTotal(callgrindWindow(node, work, dir));
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
  if (piece === 'pipeline') {
    const core = (await import(`${dir}/packages/core/src/index.ts`)) as typeof import('@wxbot/core');
    const { definePlugin } = core;
    const gate = definePlugin({
      name: 'gate',
      setup(scope) {
        scope.use((_ctx, next) => next());
        scope.onReply((_out, next) => {
          next();
        });
      },
    });
    const voice = definePlugin({ name: 'voice', setup: (scope) => void scope.on('voice', (ctx) => ctx.reply('voice')) });
    const commands = definePlugin({
      name: 'commands',
      setup(scope) {
        scope.command('faq', 'questions', (ctx) => ctx.reply('faq'));
        scope.command('human', 'a person', (ctx) => ctx.reply('human'));
      },
    });
    const fallback = definePlugin({
      name: 'fallback',
      setup(scope) {
        scope.use((ctx, next) =>
          next().then(() => {
            if (ctx.replies === 0) return ctx.reply('您好，这里是 wxbot 的自动回复，有什么可以帮您？');
          }),
        );
      },
    });
    const channel = core.officialAccount({ appId: 'wx0000000000000000', token: 'bench' });
    const bot = core.createBot({
      channels: [channel],
      plugins: [gate(), voice(), commands(), fallback()],
      logger: core.createLogger({ level: 'info', destination: { write: () => true } }),
      metrics: false,
      devChecks: false,
    });
    await bot.init();
    const first = 7_446_000_000_000_000_000n;
    const texts = ['你好，想问一下 wxbot', '这个东西能不能再便宜点', 'hello there', '周末有人吗'];
    for (let i = 0; i < n2; i++) {
      if (i === n1) {
        globalThis.gc?.();
        cachedDataVersionTag();
      }
      const text = `${texts[i % texts.length]} ${i}`;
      const message = {
        id: String(first + BigInt(i)),
        channel: { name: channel.name, kind: channel.kind },
        from: `o_user${i % 5000}`,
        to: 'gh_bench00000000',
        time: new Date(),
        raw: {},
        type: 'text',
        text,
        command: core.parseCommand(text),
      } as import('@wxbot/core').Message;
      const { passive } = await bot.dispatch(channel, message, { replyWindowMs: 5000 });
      if (passive) sink++;
    }
    await bot.stop();
  }
  getHeapCodeStatistics();
  if (sink !== n2) throw new Error(`${n2 - sink} iterations were not new messages`);
}
