/**
 * Preloaded into a bench server (`--import bench/scripts.ts`, after tsx) by bench/resting.ts:
 * answers the IPC ask 'scripts' with `{ scripts }`, every script V8 has parsed in the process
 * (ESM and CommonJS modules alike, Node's own included), as the inspector lists them. A
 * preload, not servers.ts, so that another checkout's server (`wxbot@dir`) answers too.
 */
import { Session } from 'node:inspector';

/** The parsed scripts of one process: how many and their source bytes, by package. */
export interface Scripts {
  count: number;
  bytes: number;
  /** Per package (`node_modules/<name>`, `packages/<dir>`, `plugins/<dir>`, `node:` or `other`). */
  byPackage: Record<string, { count: number; bytes: number }>;
}

const NODE_MODULE = /\/node_modules\/((?:@[^/]+\/)?[^/]+)\//;
const WORKSPACE = /\/((?:packages|plugins)\/[^/]+)\//;

/** The package a script belongs to, from its URL. */
function packageOf(url: string): string {
  if (url.startsWith('node:')) return 'node:';
  return NODE_MODULE.exec(url)?.[1] ?? WORKSPACE.exec(url)?.[1] ?? 'other';
}

process.on('message', (ask) => {
  if (ask !== 'scripts') return;
  const scripts: Scripts = { count: 0, bytes: 0, byPackage: {} };
  const session = new Session();
  session.connect();
  // Enabling the debugger reports every script parsed until now.
  session.on('Debugger.scriptParsed', ({ params }) => {
    const bytes = (params as { length?: number }).length ?? 0;
    const entry = (scripts.byPackage[packageOf(params.url)] ??= { count: 0, bytes: 0 });
    entry.count += 1;
    entry.bytes += bytes;
    scripts.count += 1;
    scripts.bytes += bytes;
  });
  session.post('Debugger.enable', () =>
    session.post('Debugger.disable', () => {
      session.disconnect();
      process.send?.({ scripts });
    }),
  );
});
