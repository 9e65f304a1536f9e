import { spawn, type ChildProcess } from 'node:child_process';
import { join, resolve } from 'node:path';

/** The repository root, for configs and the CLI binary. */
export const repoRoot = resolve(import.meta.dirname, '../..');
const bin = join(repoRoot, 'packages/cli/bin/wxbot.mjs');

/** A `wxbot start` process, as a user runs it. */
export interface WxbotProcess {
  readonly child: ChildProcess;
  /** Resolves with the bot's URL once it listens (read from the JSON "wxbot started" line). */
  readonly ready: Promise<string>;
  /** Everything it printed so far. */
  output(): string;
}

/** Starts `wxbot start --config CONFIG --port 0` (config relative to the repo root) in `cwd`. */
export function startWxbot(config: string, env: Record<string, string>, cwd: string = repoRoot): WxbotProcess {
  return spawnWxbot(['start', '--config', resolve(repoRoot, config), '--port', '0'], env, cwd);
}

/** Runs `wxbot ARGS…` (a `start` without --port, say); `ready` resolves if it starts a server. */
export function spawnWxbot(args: string[], env: Record<string, string>, cwd: string = repoRoot): WxbotProcess {
  // PROF_DIR: each process writes a V8 CPU profile there when it exits (benchmarks).
  const child = spawn(process.execPath, [...(process.env.PROF_DIR ? ['--cpu-prof', `--cpu-prof-dir=${process.env.PROF_DIR}`] : []), bin, ...args], {
    cwd,
    env: { ...process.env, LOG_FORMAT: 'json', ...env },
  });
  let output = '';
  const ready = new Promise<string>((resolveUrl, reject) => {
    const onData = (chunk: Buffer) => {
      output += chunk;
      const match = /"url":"(http:\/\/127\.0\.0\.1:\d+)","msg":"wxbot started"/.exec(output);
      if (match) resolveUrl(match[1]!);
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.on('exit', (code) => reject(new Error(`wxbot exited with ${code}:\n${output}`)));
  });
  return { child, ready, output: () => output };
}

/** A one-shot `wxbot ARGS…`: its exit code and output. */
export function runWxbot(args: string[], options: { env?: Record<string, string>; cwd?: string } = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [bin, ...args], { cwd: options.cwd ?? repoRoot, env: { ...process.env, ...options.env } });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk));
  return new Promise((done) => child.on('close', (code) => done({ code, stdout, stderr })));
}

/** SIGTERM (the bot stops cleanly), SIGKILL if it has not exited 3 s later. */
export async function stopWxbot(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((done) => child.once('exit', done));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
  await exited;
  clearTimeout(timer);
}
