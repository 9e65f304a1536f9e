import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createProject, main } from '../src/index.ts';
import { packedTarballs } from '../src/packedTarballs.ts';

const work = mkdtempSync(join(tmpdir(), 'create-wxbot-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('createProject', () => {
  it('writes the project with dot files restored and deps on the @wxbot packages of its own version', async () => {
    const project = await createProject(join(work, 'my-bot'));
    expect(project.name).toBe('my-bot');
    expect(project.files).toEqual([
      '.env.example',
      '.gitignore',
      'README.md',
      'bot.config.ts',
      'faq.yaml',
      'package.json',
      'plugins',
      'plugins/greet.ts',
      'test',
      'test/greet.test.ts',
      'tsconfig.json',
    ]);
    const manifest = JSON.parse(readFileSync(join(project.dir, 'package.json'), 'utf8')) as Record<string, Record<string, string>>;
    const { version } = JSON.parse(readFileSync(join(import.meta.dirname, '../package.json'), 'utf8')) as { version: string };
    expect(manifest['scripts']).toMatchObject({ start: 'wxbot start', test: 'vitest run' });
    expect(manifest['dependencies']).toMatchObject({ '@wxbot/core': `^${version}`, '@wxbot/cli': `^${version}` });
    expect(manifest['devDependencies']).toMatchObject({ '@wxbot/testing': `^${version}`, tsx: expect.any(String), vitest: expect.any(String) });
    expect(readFileSync(join(project.dir, 'README.md'), 'utf8')).toContain('npm install && npm start');
    expect(readFileSync(join(project.dir, '.gitignore'), 'utf8')).toContain('.env');
  });

  it('refuses a directory that is not empty, and a name npm would refuse', async () => {
    const taken = join(work, 'taken');
    mkdirSync(taken);
    writeFileSync(join(taken, 'keep.txt'), 'mine');
    await expect(createProject(taken)).rejects.toThrow(/is not empty/);
    expect(readFileSync(join(taken, 'keep.txt'), 'utf8')).toBe('mine');
    await expect(createProject(join(work, 'My Bot'))).rejects.toThrow(/"My Bot" cannot be a package name: it must be lower case/);
  });

  it('the command wants exactly one directory', async () => {
    expect(await main([])).toBe(2);
    expect(await main(['a', 'b'])).toBe(2);
    const printed: string[] = [];
    const log = console.log;
    console.log = (line: string) => void printed.push(line);
    try {
      expect(await main([join(work, 'from-main')])).toBe(0);
    } finally {
      console.log = log;
    }
    expect(printed.join('\n')).toContain('npx wxbot simulate 你好');
  });
});

describe('packedTarballs', () => {
  const packages = ['@wxbot/cli', '@wxbot/core', '@wxbot/testing'];
  /** npx's folder for `npx ../packs/create-wxbot-0.1.0.tgz`: the tarball as a file: dependency. */
  function npxInstall(root: string, spec: string): string {
    const installed = join(root, 'npx', 'node_modules', 'create-wxbot');
    mkdirSync(installed, { recursive: true });
    writeFileSync(join(root, 'npx', 'package.json'), JSON.stringify({ dependencies: { 'create-wxbot': spec } }));
    return installed;
  }

  it('finds the @wxbot tarballs packed beside the create-wxbot tarball npx ran', () => {
    const root = join(work, 'packed');
    mkdirSync(join(root, 'packs'), { recursive: true });
    for (const file of ['create-wxbot-0.1.0.tgz', 'wxbot-cli-0.1.0.tgz', 'wxbot-core-0.1.0.tgz', 'wxbot-testing-0.1.0.tgz']) writeFileSync(join(root, 'packs', file), '');
    const installed = npxInstall(root, 'file:../packs/create-wxbot-0.1.0.tgz');
    expect(packedTarballs(installed, packages, '0.1.0')).toEqual(['wxbot-cli-0.1.0.tgz', 'wxbot-core-0.1.0.tgz', 'wxbot-testing-0.1.0.tgz'].map((f) => join(root, 'packs', f)));
    // One of them missing: the plain `npm install` advice stands.
    rmSync(join(root, 'packs', 'wxbot-testing-0.1.0.tgz'));
    expect(packedTarballs(installed, packages, '0.1.0')).toBeUndefined();
  });

  it('is undefined for create-wxbot from the registry or outside node_modules', () => {
    const root = join(work, 'registry');
    expect(packedTarballs(npxInstall(root, '^0.1.0'), packages, '0.1.0')).toBeUndefined();
    expect(packedTarballs(join(work, 'packages', 'create-wxbot'), packages, '0.1.0')).toBeUndefined();
  });
});
