/**
 * Which way imports point, checked over every package's src/: no import cycles inside a
 * package (a cycle means no module in it can be understood, tested or loaded on its own),
 * between packages only the arrows docs/architecture.md draws, and every package a module
 * imports declared in its package.json (in the workspace an undeclared one is found hoisted
 * from another package; installed from npm it is not there).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = resolve(import.meta.dirname, '..');

/**
 * Cycles tolerated for now, each as its files sorted; none since the shared vocabulary types
 * moved into a leaf module (issue 9). A listed cycle that no longer exists fails the test, so
 * the list cannot go stale.
 */
const KNOWN_CYCLES: string[][] = [];

/** `import … from './x.ts'`, `export … from`, `import './x.ts'` and `import('./x.ts')`, type-only ones included. */
const IMPORT = /(?:\bfrom\s*|\bimport\s*\(?\s*)['"]([^'"]+)['"]/g;

interface SourcePackage {
  name: string;
  dir: string;
  files: string[];
  /** dependencies, peerDependencies and optionalDependencies of its package.json. */
  declared: Set<string>;
}

/** What a package.json says it needs. */
interface Manifest {
  name: string;
  dependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
}

function sourcePackages(): SourcePackage[] {
  const found: SourcePackage[] = [];
  for (const group of ['packages', 'plugins']) {
    for (const entry of readdirSync(join(root, group), { withFileTypes: true })) {
      if (!entry.isDirectory()) continue;
      const dir = join(root, group, entry.name);
      let manifest: Manifest;
      try {
        manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as Manifest;
      } catch {
        continue;
      }
      const src = join(dir, 'src');
      let files: string[];
      try {
        files = readdirSync(src, { recursive: true })
          .map(String)
          .filter((f) => f.endsWith('.ts'))
          .map((f) => join(src, f));
      } catch {
        continue;
      }
      const declared = new Set([manifest.dependencies, manifest.peerDependencies, manifest.optionalDependencies].flatMap((deps) => Object.keys(deps ?? {})));
      found.push({ name: manifest.name, dir, files, declared });
    }
  }
  return found;
}

/** Every import specifier of a file, comments stripped first so examples in TSDoc do not count. */
function importsOf(file: string): string[] {
  const code = readFileSync(file, 'utf8')
    .replace(/\/\*[\s\S]*?\*\//g, '')
    .replace(/^\s*\/\/.*$/gm, '');
  return [...code.matchAll(IMPORT)].map((m) => m[1]!);
}

/** Strongly connected components of more than one file (or a file importing itself): Tarjan. */
function cycles(graph: Map<string, string[]>): string[][] {
  let index = 0;
  const indices = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  const visit = (node: string) => {
    indices.set(node, index);
    low.set(node, index++);
    stack.push(node);
    onStack.add(node);
    for (const next of graph.get(node) ?? []) {
      if (!indices.has(next)) {
        visit(next);
        low.set(node, Math.min(low.get(node)!, low.get(next)!));
      } else if (onStack.has(next)) {
        low.set(node, Math.min(low.get(node)!, indices.get(next)!));
      }
    }
    if (low.get(node) === indices.get(node)) {
      const component: string[] = [];
      let member: string;
      do {
        member = stack.pop()!;
        onStack.delete(member);
        component.push(member);
      } while (member !== node);
      if (component.length > 1 || graph.get(node)?.includes(node)) found.push(component.sort());
    }
  };
  for (const node of graph.keys()) if (!indices.has(node)) visit(node);
  return found;
}

const packages = sourcePackages();

describe('import graph', () => {
  it('finds the packages and their imports', () => {
    expect(packages.map((p) => p.name)).toEqual(expect.arrayContaining(['@wxbot/core', '@wxbot/cli', '@wxbot/plugin-echo']));
    expect(packages.find((p) => p.name === '@wxbot/core')!.files.length).toBeGreaterThan(20);
  });

  it('has no import cycle inside any package, but the known ones being broken', () => {
    const found: string[][] = [];
    for (const pkg of packages) {
      const graph = new Map<string, string[]>();
      for (const file of pkg.files) {
        const local = importsOf(file)
          .filter((s) => s.startsWith('.'))
          .map((s) => resolve(dirname(file), s));
        graph.set(file, local);
      }
      found.push(...cycles(graph).map((cycle) => cycle.map((f) => relative(root, f))));
    }
    const key = (cycle: string[]) => cycle.join(' ↔ ');
    expect(found.map(key).sort()).toEqual(KNOWN_CYCLES.map(key).sort());
  });

  it('imports point one way between packages: core imports no @wxbot package, plugins only core', () => {
    const wrong: string[] = [];
    for (const pkg of packages) {
      for (const file of pkg.files) {
        for (const spec of importsOf(file).filter((s) => s.startsWith('@wxbot/'))) {
          const target = spec.split('/').slice(0, 2).join('/');
          const allowed = pkg.name === '@wxbot/core' ? false : pkg.name === '@wxbot/cli' ? ['@wxbot/core', '@wxbot/testing'].includes(target) : target === '@wxbot/core';
          if (!allowed) wrong.push(`${relative(root, file)} imports ${spec}`);
        }
      }
    }
    expect(wrong).toEqual([]);
  });

  it('declares every package its modules import (type-only imports too: the .d.ts needs them)', () => {
    const undeclared: string[] = [];
    for (const pkg of packages) {
      for (const file of pkg.files) {
        for (const spec of importsOf(file)) {
          const name = packageName(spec);
          if (name && name !== pkg.name && !pkg.declared.has(name)) undeclared.push(`${relative(root, file)} imports ${spec}, not in ${pkg.name}'s package.json`);
        }
      }
    }
    expect(undeclared).toEqual([]);
  });
});

/** The npm package a bare specifier names (`ws`, `@koa/router` of `@koa/router/x`), or undefined for `node:` and relative ones. */
function packageName(spec: string): string | undefined {
  const match = /^(@[a-z0-9-~][a-z0-9-._~]*\/)?[a-z0-9-~][a-z0-9-._~]*/.exec(spec);
  if (
    !match ||
    spec.startsWith('node:') ||
    match[0] !==
      spec
        .split('/')
        .slice(0, spec.startsWith('@') ? 2 : 1)
        .join('/')
  )
    return undefined;
  return match[0];
}
