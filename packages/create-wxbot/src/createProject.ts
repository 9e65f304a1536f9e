import { existsSync, readFileSync } from 'node:fs';
import { cp, mkdir, readdir, rename, writeFile } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The project files, next to src/ and dist/ (so the same path works from either). */
const TEMPLATE = fileURLToPath(new URL('../template/', import.meta.url));

/**
 * Template files whose real name npm would drop or act on when packing create-wxbot
 * (`.gitignore`, dot files): stored with `_` for the dot, renamed when copied.
 */
const DOT_PREFIX = '_';

/** How `createProject` names the new project. */
export interface CreateProjectOptions {
  /** The package name; default: the directory's name. */
  name?: string;
}

/** The project `createProject` wrote: where, its package name and its files. */
export interface CreatedProject {
  readonly dir: string;
  readonly name: string;
  /** Paths relative to `dir`, sorted. */
  readonly files: string[];
}

/**
 * Writes a new bot project into `dir` (created; must be empty if it exists): bot.config.ts
 * with the default chain (channels from `envConfig()`, the agent console), a sample plugin and its test, `.env.example`, a README, and a
 * package.json depending on the @wxbot packages of this create-wxbot's version.
 */
export async function createProject(dir: string, options: CreateProjectOptions = {}): Promise<CreatedProject> {
  const target = resolve(dir);
  const name = options.name ?? basename(target);
  const problem = packageNameProblem(name);
  if (problem) throw new Error(`"${name}" cannot be a package name: ${problem}; pass another directory name`);
  if (existsSync(target) && (await readdir(target)).length > 0) throw new Error(`${target} is not empty: choose a new directory`);

  await mkdir(target, { recursive: true });
  await cp(TEMPLATE, target, { recursive: true });
  const files: string[] = [];
  for (const file of await readdir(target, { recursive: true })) {
    const path = String(file);
    const base = basename(path);
    if (!base.startsWith(DOT_PREFIX)) {
      files.push(path);
      continue;
    }
    const renamed = join(path, '..', `.${base.slice(DOT_PREFIX.length)}`);
    await rename(join(target, path), join(target, renamed));
    files.push(renamed);
  }
  await writeFile(join(target, 'package.json'), `${JSON.stringify(projectPackage(name), null, 2)}\n`);
  files.push('package.json');
  return { dir: target, name, files: files.sort() };
}

/** This package's version: the generated project depends on the @wxbot packages released with it. */
function ownVersion(): string {
  const manifest = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
  return manifest.version;
}

function projectPackage(name: string): Record<string, unknown> {
  const wxbot = `^${ownVersion()}`;
  return {
    name,
    version: '0.1.0',
    private: true,
    type: 'module',
    engines: { node: '>=20' },
    scripts: { start: 'wxbot start', test: 'vitest run', typecheck: 'tsc --noEmit' },
    dependencies: {
      '@wxbot/cli': wxbot,
      '@wxbot/core': wxbot,
      '@wxbot/plugin-echo': wxbot,
      '@wxbot/plugin-handoff': wxbot,
      '@wxbot/plugin-keyword': wxbot,
      '@wxbot/plugin-llm': wxbot,
      zod: '^4.0.0',
    },
    devDependencies: {
      '@types/node': '^20.0.0',
      '@wxbot/testing': wxbot,
      'pino-pretty': '^13.0.0',
      tsx: '^4.0.0',
      typescript: '^5.9.0',
      vitest: '^4.0.0',
    },
  };
}

/** Why `name` is not a valid npm package name (the common rules), or undefined. */
function packageNameProblem(name: string): string | undefined {
  if (name.length === 0 || name.length > 214) return 'it must have 1 to 214 characters';
  if (name !== name.toLowerCase()) return 'it must be lower case';
  if (!/^(@[a-z0-9-~][a-z0-9-._~]*\/)?[a-z0-9-~][a-z0-9-._~]*$/.test(name)) return 'use letters, digits, "-", "." and "_" only, not starting with "." or "_"';
  return undefined;
}
