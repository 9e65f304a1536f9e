import { existsSync, readFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';

/**
 * The @wxbot tarballs a new project installs when create-wxbot itself ran from a packed tarball
 * (`npx ./wxbot-packs/create-wxbot-0.1.0.tgz`, as the README says until the packages are on npm):
 * then `npm install` of their names answers 404. npx installs the tarball into a folder of its
 * cache whose package.json names it as a `file:` dependency, and `npm pack --workspaces` put the
 * others beside it. `packageDir` is create-wxbot's own folder. Undefined when create-wxbot came
 * from the registry (or anything else), or when one of the tarballs is not there.
 */
export function packedTarballs(packageDir: string, packages: readonly string[], version: string): string[] | undefined {
  const modules = dirname(packageDir);
  if (basename(modules) !== 'node_modules') return undefined;
  const installer = dirname(modules);
  let spec: unknown;
  try {
    const manifest = JSON.parse(readFileSync(join(installer, 'package.json'), 'utf8')) as { dependencies?: Record<string, unknown> };
    spec = manifest.dependencies?.['create-wxbot'];
  } catch {
    return undefined;
  }
  if (typeof spec !== 'string' || !spec.startsWith('file:') || !spec.endsWith('.tgz')) return undefined;
  const packs = dirname(resolve(installer, spec.slice('file:'.length)));
  // npm pack names a scoped package's tarball without the @ and with - for the /.
  const files = packages.map((name) => join(packs, `${name.replace(/^@/, '').replace('/', '-')}-${version}.tgz`));
  return files.every((file) => existsSync(file)) ? files : undefined;
}
