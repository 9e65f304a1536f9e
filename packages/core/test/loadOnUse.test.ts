/**
 * A module loaded at its first use is loaded once, shared, and never kept failed: a transient
 * failure fails the uses it met, and the next use loads again. Node keeps some failures itself
 * (the same error object at every later import): the error says a restart is needed.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { loadOnUse } from '../src/loadOnUse.ts';

/** A loader that fails its first `failures` runs with EMFILE, then resolves its run number. */
function flakyLoader(failures: number) {
  let runs = 0;
  const load = async () => {
    runs++;
    if (runs <= failures) throw Object.assign(new Error('EMFILE: too many open files'), { code: 'EMFILE' });
    return runs;
  };
  return { load, runs: () => runs };
}

describe('loadOnUse', () => {
  it('loads once for every caller, at the first call, and keeps what it loaded', async () => {
    const loader = flakyLoader(0);
    const get = loadOnUse(loader.load);
    expect(loader.runs()).toBe(0);
    expect(await Promise.all([get(), get(), get()])).toEqual([1, 1, 1]);
    expect(await get()).toBe(1);
    expect(loader.runs()).toBe(1);
  });

  it('after a failure, the callers that waited get it and the next call loads again', async () => {
    const loader = flakyLoader(1);
    const get = loadOnUse(loader.load);
    const waiting = await Promise.allSettled([get(), get()]);
    expect(waiting.map((result) => result.status)).toEqual(['rejected', 'rejected']);
    expect(loader.runs()).toBe(1);
    expect(await get()).toBe(2);
    expect(await get()).toBe(2);
    expect(loader.runs()).toBe(2);
  });

  it('a loader that throws instead of rejecting is a failure tried again too', async () => {
    let runs = 0;
    const get = loadOnUse(() => {
      if (++runs === 1) throw new Error('thrown');
      return Promise.resolve('loaded');
    });
    await expect(get()).rejects.toThrow('thrown');
    expect(await get()).toBe('loaded');
  });

  it("a failure that is the last one's very error object says Node keeps it, the original as cause", async () => {
    const kept = new Error('boom while evaluating');
    let runs = 0;
    const get = loadOnUse(() => {
      runs++;
      return Promise.reject(runs === 1 ? new Error('EMFILE: too many open files') : kept);
    });
    await expect(get()).rejects.toThrow(/^EMFILE: too many open files$/);
    await expect(get()).rejects.toBe(kept);
    const again = await get().catch((error: unknown) => error as Error);
    expect(again.message).toBe('boom while evaluating (the same error as the last try: Node keeps a module that failed to load this way until the process restarts)');
    expect(again.cause).toBe(kept);
    expect(runs).toBe(3);
  });
});

/**
 * Real imports in a fresh Node process (vitest's own module loader is not Node's): a module
 * file that is missing, then written, loads at the next use; one that throws while it is
 * evaluated stays failed for the process (Node keeps it), which the second error says.
 */
describe('loadOnUse with Node importing', () => {
  const dir = mkdtempSync(join(tmpdir(), 'wxbot-load-on-use-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('loads a module written after a failed try; says a module that threw stays failed', () => {
    mkdirSync(join(dir, 'pkg'));
    const late = pathToFileURL(join(dir, 'pkg', 'late.mjs')).href;
    const throwing = pathToFileURL(join(dir, 'pkg', 'throwing.mjs')).href;
    writeFileSync(join(dir, 'pkg', 'throwing.mjs'), 'if (!globalThis.fixed) throw new Error("not ready"); export default "fixed";\n');
    const script = `
      import { writeFileSync } from 'node:fs';
      import { fileURLToPath } from 'node:url';
      import { loadOnUse } from ${JSON.stringify(pathToFileURL(join(import.meta.dirname, '../src/loadOnUse.ts')).href)};
      const tried = async (get) => get().then((m) => 'loaded ' + m.default, (e) => 'failed: ' + e.message);
      const late = loadOnUse(() => import(${JSON.stringify(late)}));
      const results = [await tried(late)];
      writeFileSync(fileURLToPath(${JSON.stringify(late)}), 'export default "late";');
      results.push(await tried(late));
      const throwing = loadOnUse(() => import(${JSON.stringify(throwing)}));
      results.push(await tried(throwing));
      globalThis.fixed = true;
      results.push(await tried(throwing));
      console.log(JSON.stringify(results));
    `;
    writeFileSync(join(dir, 'script.mjs'), script);
    const output = execFileSync(process.execPath, ['--import', 'tsx', join(dir, 'script.mjs')], { encoding: 'utf8', cwd: join(import.meta.dirname, '..') });
    const [missing, written, threw, threwAgain] = JSON.parse(output.trim().split('\n').at(-1) ?? '[]') as string[];
    expect(missing).toMatch(/^failed: Cannot find module/);
    expect(written).toBe('loaded late');
    expect(threw).toBe('failed: not ready');
    expect(threwAgain).toBe('failed: not ready (the same error as the last try: Node keeps a module that failed to load this way until the process restarts)');
  });
});
