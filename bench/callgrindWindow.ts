import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Runs `node` (a command line: node's path, its flags, the script and its arguments) under
 * callgrind, counting only a window the process marks itself: callgrind zeroes its counters at
 * `v8.cachedDataVersionTag()` and dumps them at `v8.getHeapCodeStatistics()`, two node functions
 * nothing measured calls (`--zero-before`, `--dump-before`). Start-up, loading and exit are left
 * out. The process's stdout goes to /dev/null (the default bot's log lines go there). Returns the
 * path of the main thread's one dump of the window, in `work`; throws when valgrind fails or the
 * window was not dumped exactly once. Used by instructions.ts, coreInstructions.ts, servedInstructions.ts and serverInstructions.ts.
 */
export function callgrindWindow(node: readonly string[], work: string, what: string): string {
  const { status, stderr } = spawnSync(
    'valgrind',
    [
      '--tool=callgrind',
      `--callgrind-out-file=${join(work, 'callgrind.out')}`,
      '--zero-before=node::v8_utils::CachedDataVersionTag*',
      '--dump-before=node::v8_utils::UpdateHeapCodeStatisticsBuffer*',
      '--separate-threads=yes',
      ...node,
    ],
    { encoding: 'utf8', stdio: ['ignore', 'ignore', 'pipe'] },
  );
  if (status !== 0) throw new Error(`valgrind over ${what} failed (${status}): ${stderr?.slice(-2000)}`);
  // The main thread's dump of the window (other threads' files end in -NN, -01 being the main
  // thread's when callgrind numbers them).
  const dumps = readdirSync(work).filter((name) => /^callgrind\.out\.\d+(-01)?$/.test(name));
  if (dumps.length !== 1) throw new Error(`valgrind over ${what}: ${dumps.length} dumps of the window, not one`);
  return join(work, dumps[0]!);
}

/**
 * The node command line of a counted child process: `script --run ...args` on one thread (V8's
 * compiler and collector run where the work sets them, on the thread callgrind counts), the GC
 * exposed, sources loaded through `loader` (by default tsx with the workspace's source condition),
 * `--perf-basic-prof` when `perf` (bench/callgrindJs.ts names the JIT code from its map).
 */
export function countedNode(script: string, args: readonly (string | number)[], options: { perf?: boolean; loader?: readonly string[] } = {}): string[] {
  const loader = options.loader ?? ['--conditions=@wxbot/source', '--import', 'tsx'];
  return [process.execPath, '--single-threaded', '--expose-gc', ...(options.perf ? ['--perf-basic-prof'] : []), ...loader, script, '--run', ...args.map(String)];
}

/** The instructions a window's dump counted, all threads' work on the counted one included. */
export function windowTotal(dump: string): number {
  const totals = /^(?:totals|summary): (\d+)/m.exec(readFileSync(dump, 'utf8'));
  if (!totals) throw new Error(`no totals in ${dump}`);
  return Number(totals[1]);
}

/**
 * The instructions of a window's dump (`total`) and what TurboFan's compiles took of them
 * (`compile`, on the main thread under `--single-threaded`): the JIT still optimizes some
 * functions thousands of requests in, and each compile costs millions.
 */
export function windowInstructions(dump: string): { total: number; compile: number } {
  const total = windowTotal(dump);
  const annotated = spawnSync('callgrind_annotate', ['--inclusive=yes', '--threshold=100', dump], { encoding: 'utf8', maxBuffer: 1 << 28 });
  const compiled = /^\s*([\d,]+) \([^)]*\)\s+\S*v8::internal::Compiler::CompileOptimized\(/m.exec(annotated.stdout ?? '');
  return { total, compile: compiled ? Number(compiled[1]!.replaceAll(',', '')) : 0 };
}
