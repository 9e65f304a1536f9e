import { afterAll, describe, expect, it } from 'vitest';
import { type BenchServer, load, startServer } from '../bench/run.ts';
import { newMessages } from '../bench/traffic.ts';

// The latency bench's server-side latency (bench/served.ts, preloaded into every bench server):
// each request of a watched window timed once, whichever way the server answers. The bot answers
// callback POSTs on node:http ahead of Koa; the floor answers through Koa.
const started: BenchServer[] = [];
afterAll(() => {
  for (const server of started) server.stop();
});

describe.each(['wxbot', 'koa'])('bench server %s: server-side latency', (name) => {
  it('times every request of a watched window, and only those', async () => {
    const server = await startServer(name, 'safe');
    started.push(server);
    // Before the window: not counted.
    await load(server.port, newMessages('safe', 20), { amount: 20, connections: 2 });
    server.watch();
    await server.cpu(); // answered after 'watch' (asks are handled in order): the window is open
    const sent = 30;
    const result = await load(server.port, newMessages('safe', sent), { amount: sent, connections: 3 });
    expect(result.count).toBe(sent);
    expect(result.errors).toBe(0);
    const { served } = await server.watched();
    expect(served.count).toBe(sent);
    expect(served.p50).toBeGreaterThan(0);
    expect(served.p99).toBeGreaterThanOrEqual(served.p50);
    expect(served.max).toBeGreaterThanOrEqual(served.p99);
    // After the window: nothing is timed until the next one.
    await load(server.port, newMessages('safe', 5), { amount: 5, connections: 1 });
    server.watch();
    await server.cpu();
    expect((await server.watched()).served.count).toBe(0);
  });
});
