import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = resolve(import.meta.dirname, '..');

/**
 * Docker's rule for a .dockerignore (moby/patternmatcher): patterns are matched against the
 * path from the context root, `*` within a segment, `**` across any number of them; a pattern
 * that matches a folder leaves out everything in it; the last matching line wins, and `!` lines
 * put a path back. (No Docker engine runs on the build machines, so the rule is spelled out.)
 */
function dockerIgnores(lines: string[]): (path: string) => boolean {
  const rules = lines
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'))
    .map((line) => {
      const negate = line.startsWith('!');
      const pattern = (negate ? line.slice(1) : line).replace(/^\/+/, '');
      const source = pattern
        .split('/')
        .map((part) =>
          part === '**'
            ? '(?:.*)'
            : part
                .replace(/[.+^${}()|[\]\\]/g, '\\$&')
                .replace(/\*/g, '[^/]*')
                .replace(/\?/g, '[^/]'),
        )
        .join('/')
        .replace(/\(\?:\.\*\)\//g, '(?:.*/)?');
      return { negate, regexp: new RegExp(`^${source}$`) };
    });
  return (path) => {
    const parts = path.split('/');
    // The path and each folder above it: a left-out folder leaves out what is inside.
    const candidates = parts.map((_, i) => parts.slice(0, i + 1).join('/'));
    let ignored = false;
    for (const rule of rules) if (candidates.some((c) => rule.regexp.test(c))) ignored = !rule.negate;
    return ignored;
  };
}

describe('.dockerignore', () => {
  const ignored = dockerIgnores(readFileSync(join(root, '.dockerignore'), 'utf8').split('\n'));

  it('leaves out what is installed, built or generated here, at the root and in every package', () => {
    for (const path of [
      'node_modules/zod/package.json',
      'packages/core/node_modules/.bin/tsc',
      'dist/index.js',
      'packages/core/dist/index.js',
      'packages/core/dist/.tsbuildinfo',
      'coverage/index.html',
      '.wxbot/dev.json',
      '.wxbot/handoff.json',
      '.env',
      '.env.production',
      '.git/HEAD',
      'docs/agent-console.png',
    ]) {
      expect(ignored(path), path).toBe(true);
    }
  });

  it('keeps everything `npm ci` and `npm start` in the image need', () => {
    for (const path of [
      'package.json',
      'package-lock.json',
      'bot.config.ts',
      'tsconfig.json',
      'tsconfig.base.json',
      'examples/faq/rules.yaml',
      'packages/core/package.json',
      'packages/core/src/index.ts',
      'packages/cli/bin/wxbot.mjs',
      'packages/cli/src/main.ts',
      'plugins/handoff/src/consoleHtml.ts',
      'plugins/keyword/package.json',
    ]) {
      expect(ignored(path), path).toBe(false);
    }
  });
});
