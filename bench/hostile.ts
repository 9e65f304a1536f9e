/**
 * What a hostile, unsigned callback body costs: CPU per request of `channel.receive` for
 * 1 MiB bodies that carry no valid signature, next to a real signed callback. Run:
 * `npm run bench:hostile`. Prints µs per request and the ratio to a real callback (a
 * figure, not a test: CPU timings on a shared machine are not asserted anywhere).
 */
import { WeChatPeer } from '@wxbot/testing';
import { wecomApp, officialAccount, type Channel, createLogger, MemoryStore } from '@wxbot/core';
import { Metrics } from '../packages/core/src/metrics.ts';
import type { ChannelRuntime } from '@wxbot/core/protocol';

const token = 'benchtoken';
const encodingAESKey = 'kWxPEV2UEDyxWpmPdKC3F4dgPDmOvfKX1HGnEUDS1aR';
const corpId = 'wwbenchcorp';
const runtime: ChannelRuntime = {
  log: createLogger({ level: 'silent' }),
  store: new MemoryStore(),
  metrics: new Metrics({}),
  dispatch: async () => {},
};

const MiB = 1024 * 1024;
const nested = (open: string, close: string) => {
  const n = Math.floor((MiB - 20) / (open.length + close.length));
  return `<xml>${open.repeat(n)}${close.repeat(n)}</xml>`;
};
const bodies: Record<string, string> = {
  'nested tags, no Encrypt': nested('<a>', '</a>'),
  'nested tags around an Encrypt': nested('<a>', '</a>').replace('<a></a>', '<a><Encrypt><![CDATA[QUJD]]></Encrypt></a>'),
  'many Encrypt elements': `<xml>${'<Encrypt><![CDATA[A]]></Encrypt>'.repeat(Math.floor(MiB / 32))}</xml>`,
  'one 1 MiB Encrypt': `<xml><Encrypt><![CDATA[${'A'.repeat(MiB - 40)}]]></Encrypt></xml>`,
};

function cpuPerCall(fn: () => void, iterations: number): number {
  for (let i = 0; i < 3; i++) fn(); // warm-up
  const start = process.cpuUsage();
  for (let i = 0; i < iterations; i++) fn();
  const used = process.cpuUsage(start);
  return (used.user + used.system) / iterations;
}

const tryReceive = (channel: Channel, query: Record<string, string>, body: string) => () => {
  try {
    channel.receive(query, body);
  } catch {
    // refused, as it should be: what is measured is the cost of refusing
  }
};

const app = wecomApp({ corpId, token, encodingAESKey });
app.start(runtime);
const oa = officialAccount({ appId: corpId, token });
oa.start(runtime);
const peer = new WeChatPeer({ url: 'http://unused', kind: 'wecomApp', token, encodingAESKey, receiveId: corpId });
const real = peer.buildCallback(peer.message('text', { Content: '你好 wxbot' }));
const realQuery = Object.fromEntries(new URLSearchParams(real.query));
const realUs = cpuPerCall(tryReceive(app, realQuery, real.body), 2000);
console.log(`real signed WeCom callback: ${realUs.toFixed(1)} µs CPU`);
const now = String(Math.floor(Date.now() / 1000));
const unsigned = { msg_signature: '0'.repeat(40), timestamp: now, nonce: '1' };
for (const [name, body] of Object.entries(bodies)) {
  const us = cpuPerCall(tryReceive(app, unsigned, body), 20);
  console.log(`WeCom, unsigned 1 MiB, ${name}: ${(us / 1000).toFixed(2)} ms CPU (${(us / realUs).toFixed(0)}x a real callback)`);
}
const plainUnsigned = { signature: '0'.repeat(40), timestamp: now, nonce: '1' };
const us = cpuPerCall(tryReceive(oa, plainUnsigned, bodies['nested tags, no Encrypt']!), 20);
console.log(`Official Account plain mode, unsigned 1 MiB nested tags: ${(us / 1000).toFixed(2)} ms CPU`);
