/**
 * CPU of safe mode's crypto alone, per callback: open (the `<Encrypt>` extraction of the body,
 * msg_signature check, base64 decode, AES decrypt, padding and receiveid checks) and seal (a
 * passive text reply's encrypt, signature and envelope), as `openEncryptedBody` and
 * `encodePassive` call them. Every callback a new message, encrypted by the test peer
 * (Tencent's own crypto package).
 *
 *   node --expose-gc --conditions=@wxbot/source --import tsx bench/crypto.ts                 # this checkout
 *   node --expose-gc --conditions=@wxbot/source --import tsx bench/crypto.ts . /path/to/base # two checkouts
 *
 * With several checkouts, each one's `packages/core/src` crypto and xml modules are loaded side
 * by side in this one process and run in turn, pass by pass (order swapped each pass), so the
 * comparison shares the machine's load of the same minutes. With --expose-gc a full GC before
 * each timed loop keeps the garbage of building the messages (or of the other checkout's loop)
 * out of it, and one at its end is counted: the loop's own garbage is paid for in it (a cipher
 * object's native state is freed when it is collected). Prints to stderr per pass: CPU µs (user + system) per open and per seal for each
 * checkout; then the medians, and with two checkouts the median of the per-pass ratios
 * (second ÷ first).
 * BENCH_PASSES (default 9), BENCH_MESSAGES (per pass, default 20 000).
 */
import { parse as parseQuery } from 'node:querystring';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { BENCH } from './config.ts';
import { median } from './run.ts';
import { newMessages } from './traffic.ts';

interface Crypt {
  verify(signature: string | undefined, timestamp: string, nonce: string, encrypted: string): void;
  decrypt(encrypted: string): string;
  seal(replyXml: string, timestamp: string, nonce: string): string;
}

interface Target {
  dir: string;
  crypt: Crypt;
  encryptedPayload: (body: string) => string;
  open: number[];
  seal: number[];
}

const PASSES = Number(process.env.BENCH_PASSES ?? 9);
const PER_PASS = Number(process.env.BENCH_MESSAGES ?? 20_000);
const dirs = process.argv.length > 2 ? process.argv.slice(2) : ['.'];

const targets: Target[] = [];
for (const dir of dirs) {
  const src = resolve(dir, 'packages/core/src');
  const { WXBizMsgCrypt } = (await import(pathToFileURL(resolve(src, 'crypto/wxBizMsgCrypt.ts')).href)) as {
    WXBizMsgCrypt: new (token: string, key: string, receiveId: string) => Crypt;
  };
  const { encryptedPayload } = (await import(pathToFileURL(resolve(src, 'xml.ts')).href)) as { encryptedPayload: (body: string) => string };
  targets.push({ dir, crypt: new WXBizMsgCrypt(BENCH.token, BENCH.encodingAESKey, BENCH.appId), encryptedPayload, open: [], seal: [] });
}

/** The passive text reply the default bot sends back, ~300 bytes of XML as passiveReplyXml writes it. */
function replyXml(n: number): string {
  return (
    `<xml><ToUserName><![CDATA[o_user${n % 5000}]]></ToUserName><FromUserName><![CDATA[${BENCH.accountId}]]></FromUserName>` +
    `<CreateTime>${1_764_000_000 + n}</CreateTime><MsgType><![CDATA[text]]></MsgType>` +
    `<Content><![CDATA[您好，这里是 wxbot 的自动回复 ${n}]]></Content></xml>`
  );
}

let sink = 0;

const gc = (globalThis as { gc?: () => void }).gc ?? (() => {});

function openPass(target: Target, calls: { query: Record<string, string>; body: string }[]): number {
  gc();
  const start = process.cpuUsage();
  for (const { query, body } of calls) {
    const encrypted = target.encryptedPayload(body);
    target.crypt.verify(query.msg_signature, query.timestamp!, query.nonce!, encrypted);
    sink += target.crypt.decrypt(encrypted).length;
  }
  gc();
  const used = process.cpuUsage(start);
  return (used.user + used.system) / calls.length;
}

function sealPass(target: Target, replies: string[]): number {
  gc();
  const start = process.cpuUsage();
  for (let i = 0; i < replies.length; i++) sink += target.crypt.seal(replies[i]!, '1764000000', String(1_000_000 + i)).length;
  gc();
  const used = process.cpuUsage(start);
  return (used.user + used.system) / replies.length;
}

for (let pass = 0; pass <= PASSES; pass++) {
  // Fresh messages every pass: nothing a cache (or the JIT) has seen as a string before.
  const calls = newMessages('safe', PER_PASS).map(({ path, body }) => ({
    query: parseQuery(path.slice(path.indexOf('?') + 1)) as Record<string, string>,
    body,
  }));
  const replies = calls.map((_, i) => replyXml(pass * PER_PASS + i));
  const order = pass % 2 === 0 ? targets : [...targets].reverse();
  const line: string[] = [];
  for (const target of order) {
    const open = openPass(target, calls);
    const seal = sealPass(target, replies);
    // Pass 0 warms the JIT up and is not counted.
    if (pass > 0) {
      target.open.push(open);
      target.seal.push(seal);
    }
    line.push(`${target.dir}: open ${open.toFixed(2)} seal ${seal.toFixed(2)}`);
  }
  process.stderr.write(`${pass === 0 ? 'warm-up' : `pass ${pass}`}  ${line.join('  |  ')} µs\n`);
}
for (const target of targets) {
  process.stderr.write(`median ${target.dir}: open ${median(target.open).toFixed(2)} µs, seal ${median(target.seal).toFixed(2)} µs a message\n`);
}
if (targets.length === 2) {
  const [first, second] = targets as [Target, Target];
  const ratio = (a: number[], b: number[]) => median(a.map((value, i) => value / b[i]!)).toFixed(3);
  process.stderr.write(`${second.dir} ÷ ${first.dir}, median of the passes: open ${ratio(second.open, first.open)}, seal ${ratio(second.seal, first.seal)}\n`);
}
if (sink === 0) process.stderr.write('(nothing done)\n');
