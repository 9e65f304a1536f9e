/**
 * What the server-side latency hook (served.ts) costs a request, counted by valgrind
 * (callgrind): one process runs a bare node:http server answering `ok` and a client on one
 * keep-alive connection sending the same small request one at a time; requests N1 + 1 to N2 are
 * counted, each variant in a process of its own: `none` (served.ts not loaded: node:http publishes
 * nothing), `idle` (loaded, no window: what every bench server pays outside a window) and `window`
 * (inside a window). The differences to `none` a request are the hook's whole cost (node:http's
 * two publishes included), the same for every server, since it runs on node:http's objects only.
 *
 *   npx tsx bench/servedInstructions.ts
 *
 * BENCH_COUNTS="N1 N2" (default "2000 8000"). BENCH_CALLGRIND_OUT=DIR keeps both profiles there
 * (`callgrind.served.VARIANT`). Needs valgrind on the PATH (~1 min a run).
 */
import { mkdtempSync, renameSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { cachedDataVersionTag, getHeapCodeStatistics } from 'node:v8';
import { callgrindWindow, countedNode, windowInstructions } from './callgrindWindow.ts';

const VARIANTS = ['none', 'idle', 'window'] as const;
type Variant = (typeof VARIANTS)[number];

if (process.argv[2] === '--run') {
  const [variant, n1, n2] = process.argv.slice(3) as [Variant, string, string];
  await run(variant, Number(n1), Number(n2));
} else {
  const [n1, n2] = (process.env.BENCH_COUNTS ?? '2000 8000').split(' ').map(Number) as [number, number];
  const work = mkdtempSync(join(tmpdir(), 'wxbot-served-'));
  const keep = process.env.BENCH_CALLGRIND_OUT;
  try {
    const per: Record<Variant, number> = { none: 0, idle: 0, window: 0 };
    for (const variant of VARIANTS) {
      // One thread, as bench/instructions.ts: V8's compiler and collector run where the work sets them.
      const node = countedNode(import.meta.filename, [variant, n1, n2], { loader: ['--import', 'tsx'] });
      const dump = callgrindWindow(node, work, `served ${variant}`);
      const { total, compile } = windowInstructions(dump);
      if (keep) renameSync(dump, join(resolve(keep), `callgrind.served.${variant}`));
      else rmSync(dump);
      per[variant] = (total - compile) / (n2 - n1);
      const n = (x: number) => Math.round(x).toLocaleString('en');
      console.log(`${variant}: ${n(per[variant])} instructions a request without TurboFan's compiles (${n(total / (n2 - n1))} with; requests ${n1 + 1}–${n2}, server and client)`);
    }
    const more = (variant: Variant) => Math.round(per[variant] - per.none).toLocaleString('en');
    console.log(`the hook a request: ${more('idle')} instructions outside a window, ${more('window')} in a window`);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** The measured process: `n2` requests, callgrind counting from request `n1 + 1`. */
async function run(variant: Variant, n1: number, n2: number): Promise<void> {
  // Loaded as a server's preload is, before the server (it subscribes as it loads).
  const served = variant === 'none' ? undefined : await import('./served.ts');
  const server = createServer((_req, res) => res.end('ok'));
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const socket = connect((server.address() as { port: number }).port, '127.0.0.1');
  socket.setNoDelay(true);
  await new Promise((ok) => socket.once('connect', ok));
  const request = Buffer.from('GET / HTTP/1.1\r\nHost: bench\r\n\r\n');
  // A response is one small chunk on loopback; the body `ok` ends it.
  const answered = () => new Promise<void>((ok) => socket.once('data', () => ok()));
  for (let i = 0; i < n2; i++) {
    if (i === n1) {
      (globalThis as { gc?: () => void }).gc?.();
      if (variant === 'window') served!.start();
      cachedDataVersionTag(); // callgrind zeroes here
    }
    const done = answered();
    socket.write(request);
    await done;
  }
  getHeapCodeStatistics(); // callgrind dumps here
  const timed = served?.stop().count ?? 0;
  if (timed !== (variant === 'window' ? n2 - n1 : 0)) throw new Error(`${variant}: the hook timed ${timed} requests of ${n2 - n1}`);
  socket.destroy();
  server.close();
}
