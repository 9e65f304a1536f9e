import { spawn } from 'node:child_process';

/** How a tool run ended. */
export interface ToolResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  /** The last few KB of stderr: enough for the error, bounded whatever the tool prints. */
  stderr: string;
}

/** The tool did not finish within its time and was killed. */
export class ToolTimeoutError extends Error {
  override readonly name = 'ToolTimeoutError';
}

const STDERR_KEEP = 4096;
const STDOUT_KEEP = 256 * 1024;

/**
 * Runs a program directly (no shell, so no quoting or injection through file names) with a
 * deadline, and collects its output. Rejects with the spawn error (ENOENT when the program
 * is missing) or {@link ToolTimeoutError}; a non-zero exit resolves, for the caller to judge.
 */
export function runTool(file: string, args: readonly string[], timeoutMs: number): Promise<ToolResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { stdio: ['ignore', 'pipe', 'pipe'], shell: false, windowsHide: true });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    // SIGKILL: a stuck decoder may ignore SIGTERM, and nothing of its output is wanted any more.
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      if (stdout.length < STDOUT_KEEP) stdout += chunk;
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr = (stderr + chunk).slice(-STDERR_KEEP);
    });
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      if (timedOut) reject(new ToolTimeoutError(`${file} did not finish within ${timeoutMs} ms`));
      else resolve({ code, signal, stdout, stderr });
    });
  });
}
