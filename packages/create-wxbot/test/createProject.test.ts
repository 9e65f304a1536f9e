import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createProject, main } from '../src/index.ts';

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
