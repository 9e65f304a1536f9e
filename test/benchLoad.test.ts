import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { load } from '../bench/run.ts';
import type { Callback } from '../bench/traffic.ts';

// The benches' load generator: a load that outruns its list must not send a message twice
// (a repeat is answered from dedup's cache, which flatters the bot measured).
const bodies: string[] = [];
const server = createServer((req, res) => {
  let body = '';
  req.on('data', (chunk: Buffer) => (body += chunk.toString()));
  req.on('end', () => {
    bodies.push(body);
    res.end('success');
  });
});
let port = 0;
beforeAll(async () => {
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  port = (server.address() as AddressInfo).port;
});
afterAll(() => new Promise<void>((ok) => server.close(() => ok())));

let serial = 0;
const messages = (count: number): Callback[] => Array.from({ length: count }, () => ({ path: '/wx', body: `<xml>${++serial}</xml>` }));

describe('bench load()', () => {
  it('builds new messages with `more` when its list runs out: no body is sent twice', async () => {
    bodies.splice(0);
    const result = await load(port, messages(50), { amount: 400, connections: 4, more: messages });
    expect(result.count).toBe(400);
    expect(bodies).toHaveLength(400);
    expect(new Set(bodies).size).toBe(400);
    expect(result.built).toBeGreaterThanOrEqual(350);
  });

  it('without `more`, sends the list again (and says so)', async () => {
    bodies.splice(0);
    await load(port, messages(50), { amount: 100, connections: 4 });
    expect(new Set(bodies).size).toBe(50);
  });
});
