/**
 * Machine instructions per callback of an Official Account channel's own work, counted by
 * valgrind (callgrind), for checkouts side by side: a count, not a time, so it holds on a shared
 * machine whose load makes CPU µs swing by 2× (the figures of bench/README.md "Safe-mode
 * ciphers" were taken at load 9–12). Each checkout's `OfficialAccountChannel` is run over the
 * same pre-built callbacks (new messages, encrypted by the test peer in safe mode), in a process
 * of its own under callgrind, twice: over N1 and over N2 callbacks. The difference divided by
 * N2 − N1 is what one callback costs once the JIT has settled, start-up and loading cancelled
 * out (tsx's transforms run in esbuild's own process, which callgrind does not follow).
 *
 *   npx tsx --conditions=@wxbot/source bench/instructions.ts [safe|plain] [scope] /work/wt/base .
 *
 * Scope: `channel` (default: `receive` then `encodeReply` of a text reply: signature, replay
 * window, decryption, XML, the reply's XML, encryption and envelope), `receive` (the first half),
 * or `floor` (bench/servers.ts's hand-written handler over the checkout's WXBizMsgCrypt).
 * BENCH_COUNTS="3000 9000" (N1 N2). Needs valgrind on the PATH; ~2–5 min a run on a loaded 2-core VM.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parse as parseQuery } from 'node:querystring';
import { pathToFileURL } from 'node:url';
import { BENCH, type CryptoMode } from './config.ts';

type Scope = 'channel' | 'receive' | 'floor';

interface Prepared {
  mode: CryptoMode;
  callbacks: { query: Record<string, string>; body: string }[];
}

const REPLY = { type: 'text' as const, text: '您好，这里是 wxbot 的自动回复，有什么可以帮您？' };

if (process.argv[2] === '--run') {
  const [dir, file, count, scope] = process.argv.slice(3) as [string, string, string, Scope];
  await run(resolve(dir), JSON.parse(readFileSync(file, 'utf8')) as Prepared, Number(count), scope);
} else {
  await main();
}

async function main(): Promise<void> {
  const [mode = 'safe', scope = 'channel', ...dirs] = process.argv.slice(2) as [CryptoMode, Scope, ...string[]];
  const [n1, n2] = (process.env.BENCH_COUNTS ?? '3000 9000').split(' ').map(Number) as [number, number];
  const { newMessages } = await import('./traffic.ts');
  const callbacks = newMessages(mode, n2).map(({ path, body }) => ({ query: parseQuery(path.slice(path.indexOf('?') + 1)) as Record<string, string>, body }));
  const work = mkdtempSync(join(tmpdir(), 'wxbot-instructions-'));
  const file = join(work, 'callbacks.json');
  writeFileSync(file, JSON.stringify({ mode, callbacks } satisfies Prepared));
  try {
    for (const dir of dirs.length > 0 ? dirs : ['.']) {
      const [c1, c2] = [instructions(dir, file, n1, scope), instructions(dir, file, n2, scope)];
      const perCallback = Math.round((c2 - c1) / (n2 - n1));
      console.log(
        `${dir} ${mode} ${scope}: ${perCallback.toLocaleString('en')} instructions a callback (${c1.toLocaleString('en')} / ${c2.toLocaleString('en')} over ${n1} / ${n2})`,
      );
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** Instructions callgrind counted in a whole process over the first `count` callbacks. */
function instructions(dir: string, file: string, count: number, scope: Scope): number {
  // One thread: V8's compiler and collector do their work on it, at points set by the work
  // itself rather than by how fast helper threads ran under valgrind (a run to run noise of
  // ±10k instructions a callback with them, measured).
  const node = [process.execPath, '--single-threaded', '--conditions=@wxbot/source', '--import', 'tsx', import.meta.filename, '--run', dir, file, String(count), scope];
  const { status, stderr } = spawnSync('valgrind', ['--tool=callgrind', '--callgrind-out-file=/dev/null', ...node], { encoding: 'utf8' });
  const collected = /Collected : (\d+)/.exec(stderr ?? '');
  if (status !== 0 || !collected) throw new Error(`valgrind over ${dir} failed (${status}): ${stderr?.slice(-2000)}`);
  return Number(collected[1]);
}

/** The measured process: `count` callbacks through the checkout's channel (or the floor). */
async function run(dir: string, prepared: Prepared, count: number, scope: Scope): Promise<void> {
  const src = (path: string) => pathToFileURL(join(dir, 'packages/core/src', path)).href;
  const safe = prepared.mode === 'safe';
  const encodingAESKey = safe ? BENCH.encodingAESKey : undefined;
  let sink = 0;
  if (scope === 'floor') {
    const { WXBizMsgCrypt } = (await import(src('crypto/wxBizMsgCrypt.ts'))) as typeof import('../packages/core/src/crypto/wxBizMsgCrypt.ts');
    const { sortedSha1 } = (await import(src('crypto/signature.ts'))) as typeof import('../packages/core/src/crypto/signature.ts');
    const crypt = new WXBizMsgCrypt(BENCH.token, BENCH.encodingAESKey, BENCH.appId);
    // bench/servers.ts's handBuiltAnswer, its fields read by regex.
    const tag = (xml: string, name: string) => new RegExp(`<${name}><!\\[CDATA\\[(.*?)\\]\\]></${name}>`).exec(xml)?.[1];
    for (let i = 0; i < count; i++) {
      const { query, body } = prepared.callbacks[i]!;
      let xml = body;
      if (safe) xml = crypt.open(query.msg_signature, query.timestamp!, query.nonce!, tag(body, 'Encrypt')!);
      else if (sortedSha1(BENCH.token, query.timestamp!, query.nonce!) !== query.signature) throw new Error('bad signature');
      const now = Math.floor(Date.now() / 1000);
      const reply = `<xml><ToUserName><![CDATA[${tag(xml, 'FromUserName')}]]></ToUserName><FromUserName><![CDATA[${tag(xml, 'ToUserName')}]]></FromUserName><CreateTime>${now}</CreateTime><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[${REPLY.text}]]></Content></xml>`;
      sink += (safe ? crypt.seal(reply, String(now), String(Math.floor(Math.random() * 1e10))) : reply).length;
    }
  } else {
    const { officialAccount } = (await import(src('channels/officialAccount.ts'))) as typeof import('../packages/core/src/channels/officialAccount.ts');
    // The callbacks were signed when built, tens of minutes before the last runs read them: a
    // day's replay window keeps them fresh, and the check runs as on a server.
    const channel = officialAccount({ appId: BENCH.appId, token: BENCH.token, encodingAESKey, replayWindowSeconds: 86_400 });
    for (let i = 0; i < count; i++) {
      const { query, body } = prepared.callbacks[i]!;
      const result = channel.receive(query, body);
      if (result.kind !== 'message') throw new Error('not a message');
      sink += scope === 'channel' ? result.encodeReply(REPLY).length : result.message.id.length;
    }
  }
  if (sink === 0) throw new Error('nothing was done');
}
