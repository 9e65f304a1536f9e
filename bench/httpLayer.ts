/**
 * CPU of wxbot's HTTP layer alone (packages/core/src/server.ts: reading the callback's query and
 * body, writing the answer) per request, with a handler that answers at once: what a callback
 * costs before and after the bot's handleCallback. Each checkout's server runs in its own
 * process, checkouts alternated pair by pair; every request a new signed message at a fixed rate.
 *
 *   npx tsx --conditions=@wxbot/source bench/httpLayer.ts [checkout…]   # default: this one
 *
 * BENCH_PAIRS (4), BENCH_MESSAGES (20 000 a run), BENCH_RATE (3 000 req/s).
 */
import { fork } from 'node:child_process';
import { resolve } from 'node:path';
import { load, median } from './run.ts';
import { newMessages } from './traffic.ts';

if (process.argv[2] === '--child') {
  const root = process.argv[3] as string;
  const { createHttpServer } = await import(`${root}/packages/core/src/server.ts`);
  const { officialAccount } = await import(`${root}/packages/core/src/index.ts`);
  const channel = officialAccount({ appId: 'wx-bench', token: 'bench', path: '/wx' });
  const quiet = () => {};
  const server = createHttpServer({
    channels: [channel],
    log: { warn: quiet, error: quiet, info: quiet },
    async handleCallback(_channel: unknown, _query: unknown, body: string) {
      if (!body.startsWith('<xml>')) throw new Error('not a callback body');
      return '<xml><Content><![CDATA[ok]]></Content></xml>';
    },
  });
  server.listen(0, '127.0.0.1', () => process.send?.({ port: server.address().port }));
  let last = process.cpuUsage();
  process.on('message', () => {
    const used = process.cpuUsage(last);
    last = process.cpuUsage();
    process.send?.({ cpu: used.user + used.system });
  });
  process.on('disconnect', () => process.exit(0));
} else {
  const roots = process.argv.length > 2 ? process.argv.slice(2).map((dir) => resolve(dir)) : [resolve(import.meta.dirname, '..')];
  const pairs = Number(process.env.BENCH_PAIRS ?? 4);
  const count = Number(process.env.BENCH_MESSAGES ?? 20_000);
  const rate = Number(process.env.BENCH_RATE ?? 3000);
  const cpu: Record<string, number[]> = {};
  for (let pair = 0; pair < pairs; pair++) {
    for (const root of pair % 2 ? [...roots].reverse() : roots) {
      const child = fork(import.meta.filename, ['--child', root], { execArgv: ['--conditions=@wxbot/source', '--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
      const port = await new Promise<number>((ok) => child.once('message', (m: { port: number }) => ok(m.port)));
      const used = () =>
        new Promise<number>((ok) => {
          child.once('message', (m: { cpu: number }) => ok(m.cpu));
          child.send('cpu');
        });
      await load(port, newMessages('plain', 5000), { amount: 5000, connections: 16 }); // warm-up
      const traffic = newMessages('plain', count);
      await used();
      const result = await load(port, traffic, { amount: count, connections: 16, rate });
      if (result.errors) throw new Error(`${root}: ${result.errors} errors`);
      (cpu[root] ??= []).push((await used()) / count);
      child.disconnect();
      await new Promise((ok) => child.once('exit', ok));
    }
  }
  for (const root of roots) {
    const runs = cpu[root] ?? [];
    console.log(`${root}: CPU µs/request ${runs.map((c) => c.toFixed(1)).join(' ')} (median ${median(runs).toFixed(1)})`);
  }
}
