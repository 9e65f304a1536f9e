/**
 * Real traffic for the benches: every callback a new message (its own MsgId, its own nonce),
 * signed and in safe mode encrypted exactly as WeChat does (by the test peer, which uses
 * Tencent's own crypto package). Dedup never answers from cache; nothing is a replay.
 */
import { WeChatPeer } from '@wxbot/testing';
import { BENCH, type CryptoMode } from './config.ts';

export interface Callback {
  path: string;
  body: string;
}

/** The texts users send: a greeting word inside a sentence, a question, an order number. */
const TEXTS = ['你好，想问一下 wxbot', '这个东西能不能再便宜点', '我的订单 SF-20261130 到哪了', 'hello there', '周末有人吗'];

let serial = 0;

/**
 * `count` new messages, never built before in this process (MsgId and nonce unique). `pad`
 * characters are appended to each text (the heap bench's large messages). `again`: the same
 * messages as the first built (serials from 0), signed with `timestamp` (bench/instructions.ts:
 * each process it measures sees them once, and its runs under valgrind outlast a replay window
 * signed with the time of building).
 */
export function newMessages(mode: CryptoMode, count: number, path = '/wx', pad = 0, again?: { timestamp: string }): Callback[] {
  if (again) serial = 0;
  const padding = pad > 0 ? ` ${'x'.repeat(pad)}` : '';
  const peer = new WeChatPeer({
    url: 'http://unused',
    kind: 'officialAccount',
    mode,
    token: BENCH.token,
    encodingAESKey: BENCH.encodingAESKey,
    receiveId: BENCH.appId,
    accountId: BENCH.accountId,
  });
  const out: Callback[] = [];
  const base = 7_000_000_000_000_000_000n + BigInt(process.pid) * 1_000_000_000n;
  for (let i = 0; i < count; i++) {
    const n = serial++;
    const text = `${TEXTS[n % TEXTS.length]} ${n}${padding}`;
    const fields = peer.message('text', { Content: text }, { msgId: String(base + BigInt(n)), from: `o_user${n % 5000}` });
    const { query, body } = peer.buildCallback(fields, { nonce: String(1_000_000_000 + n), timestamp: again?.timestamp });
    out.push({ path: `${path}?${query}`, body });
  }
  return out;
}

/**
 * How many new messages a load of `seconds` at `rate` req/s needs, with room to spare: a load
 * that runs out of them sends repeats, which dedup answers from its cache (flattering a bot).
 * `margin`: how far above `rate` the load may go (a rate measured in a warm-up: the JIT is
 * warmer in the next run, and a server that finished its warm-up early left the others the cores).
 */
export function messagesFor(rate: number, seconds: number, margin: number): number {
  return Math.ceil(rate * seconds * margin) + 1000;
}
