/**
 * Which optimized functions each full GC throws away ("weak objects") while a server handles new
 * messages, for checkouts side by side. V8 reaches the map of an instance with all its fields from
 * its class's initial map through transitions it holds weakly, and optimized code holds the maps
 * it checks weakly: a class made per message with no instance alive at a mark-compact loses its
 * map, and every function compiled against it is deoptimized, then runs in the interpreter until
 * TurboFan compiles it again. The default bot's pipeline is synchronous, so between two tasks no
 * message is in flight: every mark-compact, not only an idle server's (bench/README.md "Session
 * 15: pipeline"). A count, not a time.
 *
 *   npx tsx --conditions=@wxbot/source bench/gcDeopts.ts [bot|server] /work/wt/base .
 *
 * Scope `bot` (default): the default bot in process, callbacks through `handleCallback` one at a
 * time as bench/instructions.ts's `bot` scope, a `gc()` after every BENCH_GC_EVERY (2 000) of them,
 * three times. `server`: bench/servers.ts's `wxbot` over HTTP (safe), a full GC through its 'heap'
 * message at the same points (node's own http and stream functions show there too: the floor's
 * as well). Prints, for each GC, the functions node's `--trace-deopt` marked for it.
 */
import { fork } from 'node:child_process';
import { Agent, request } from 'node:http';
import { resolve } from 'node:path';
import { defaultBot, prepareCallbacks } from './inProcess.ts';

const EVERY = Number(process.env.BENCH_GC_EVERY ?? 2000);
const GCS = 3;
/** What node's --trace-deopt prints for each optimized function a GC drops, and its name. */
const WEAK = /<SharedFunctionInfo ?([^>]*)>\) \(opt id \d+\) for deoptimization, reason: weak objects/g;
/** Written between the GCs' traces, in the trace's own stream. */
const MARK = '@@gcDeopts gc ';

if (process.argv[2] === '--run') {
  await inProcess(resolve(process.argv[3]!));
} else {
  const [scope = 'bot', ...dirs] = process.argv.slice(2);
  for (const dir of dirs.length > 0 ? dirs : ['.']) {
    const trace = scope === 'server' ? await overHttp(resolve(dir)) : await traced(resolve(dir));
    console.log(`${dir} ${scope}:`);
    const parts = trace.split(MARK).slice(1);
    for (const [i, part] of parts.entries()) {
      const names = [...part.matchAll(WEAK)].map((m) => m[1] || '(anonymous)');
      console.log(`  gc ${i + 1} (after ${(i + 1) * EVERY} messages): ${names.length} functions deoptimized${names.length > 0 ? `: ${names.join(' ')}` : ''}`);
    }
  }
}

/** Runs `--run` in a process of its own under --trace-deopt; returns its trace. */
function traced(dir: string): Promise<string> {
  const child = fork(import.meta.filename, ['--run', dir], {
    execArgv: ['--trace-deopt', '--expose-gc', '--conditions=@wxbot/source', '--import', 'tsx'],
    stdio: ['ignore', 'pipe', 'inherit', 'ipc'],
  });
  let out = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
  return new Promise((done, fail) => child.on('exit', (code) => (code === 0 ? done(out) : fail(new Error(`${dir}: exited (${code})`)))));
}

/** The measured process of scope `bot`: the GCs' marks go to stdout, between the trace's lines. */
async function inProcess(dir: string): Promise<void> {
  const prepared = await prepareCallbacks('safe', EVERY * GCS + 1);
  const bot = await defaultBot(dir, 'safe');
  for (let i = 0; i < prepared.callbacks.length; i++) {
    if (i > 0 && i % EVERY === 0) {
      process.stdout.write(`${MARK}${i / EVERY}\n`);
      globalThis.gc?.();
    }
    await bot.handle(prepared.callbacks[i]!);
    await new Promise(setImmediate);
  }
  await bot.stop();
}

/** Scope `server`: servers.ts's wxbot over HTTP, one callback at a time, a full GC by its 'heap' message. */
async function overHttp(dir: string): Promise<string> {
  const prepared = await prepareCallbacks('safe', EVERY * GCS + 1);
  const child = fork(resolve(dir, 'bench', 'servers.ts'), ['wxbot', 'safe'], {
    execArgv: ['--trace-deopt', '--expose-gc', '--conditions=@wxbot/source', '--import', 'tsx'],
    stdio: ['ignore', 'pipe', 'inherit', 'ipc'],
  });
  let out = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
  const port = await new Promise<number>((done) => child.once('message', (m) => done((m as { port: number }).port)));
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  try {
    for (let i = 0; i < prepared.callbacks.length; i++) {
      if (i > 0 && i % EVERY === 0) {
        out += `${MARK}${i / EVERY}\n`;
        child.send('heap');
        await new Promise((done) => child.once('message', done));
      }
      const { query, body } = prepared.callbacks[i]!;
      await new Promise<void>((done, fail) => {
        const req = request({ port, path: `/wx?${new URLSearchParams(query).toString()}`, method: 'POST', agent, headers: { 'content-type': 'text/xml' } }, (res) => {
          res.resume();
          res.on('end', () => done());
        });
        req.on('error', fail);
        req.end(body);
      });
    }
  } finally {
    agent.destroy();
    child.kill();
    await new Promise((done) => child.once('exit', done));
  }
  return out;
}
