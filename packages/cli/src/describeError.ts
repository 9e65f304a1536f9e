/**
 * Start-up and config errors as the CLI prints them: the message (with the config's file:line
 * when it threw), every environment problem on its own line, and the stack only with --verbose.
 */
import { ConfigLoadError } from './loadConfig.ts';

interface EnvIssueLike {
  variable: string;
  message: string;
}

/** The environment issues of an EnvConfigError anywhere in the cause chain (any copy of core). */
export function envIssuesOf(error: unknown): readonly EnvIssueLike[] | undefined {
  for (let e = error, depth = 0; e && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    if ((e as { name?: unknown }).name === 'EnvConfigError') return (e as { issues: EnvIssueLike[] }).issues;
  }
  return undefined;
}

export function describeError(error: unknown, options: { verbose?: boolean } = {}): string {
  const lines: string[] = [];
  const issues = envIssuesOf(error);
  if (issues) {
    lines.push('wxbot: the environment does not configure the bot:');
    for (const issue of issues) lines.push(`  ${issue.variable}: ${issue.message}`);
  } else {
    const message = error instanceof Error ? error.message : String(error);
    lines.push(...message.split('\n').map((line) => `wxbot: ${line}`));
  }
  if (options.verbose) {
    const stack = error instanceof ConfigLoadError ? error.detail : error instanceof Error ? error.stack : undefined;
    if (stack) lines.push('', stack);
  } else if (error instanceof ConfigLoadError && error.detail) {
    lines.push('(--verbose prints the stack)');
  }
  return lines.join('\n');
}
