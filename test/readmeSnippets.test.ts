/**
 * The TypeScript blocks of README.md (and of the package READMEs in READMES) compile as a user would paste them, under the options of
 * `tsc --init` (as strictConsumer.test.ts): an API renamed or retyped without its README example
 * fails here. Each block is a module of its own; what a block leaves to its reader (a `bot` of a
 * plugin's setup, a `pngBuffer`, `greet` of an earlier block) is declared or imported for it by
 * GIVEN below, and only when the block uses the name without importing or declaring it.
 */
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { TSC_INIT_OPTIONS } from './support/tscInit.ts';

const root = resolve(import.meta.dirname, '..');

/** What a snippet may use without saying where it comes from, and the line that provides it. */
const GIVEN: Record<string, string> = {
  definePlugin: "import { definePlugin } from '@wxbot/core';",
  replies: "import { replies } from '@wxbot/core';",
  defineConfig: "import { defineConfig } from '@wxbot/core';",
  z: "import { z } from 'zod';",
  expect: "import { expect } from 'vitest';",
  bot: "declare const bot: import('@wxbot/core').PluginScope;",
  pngBuffer: 'declare const pngBuffer: Buffer;',
  csv: 'declare const csv: Buffer;',
  orders: 'declare const orders: { status(order: string, phone: string): Promise<string> };',
};

interface Snippet {
  /** Where the block starts in README.md (its first code line). */
  line: number;
  code: string;
}

/** The ```ts blocks of a Markdown file. */
function tsBlocks(markdown: string): Snippet[] {
  const blocks: Snippet[] = [];
  const lines = markdown.split('\n');
  for (let i = 0; i < lines.length; i++) {
    if (lines[i] !== '```ts') continue;
    const start = i + 1;
    let end = start;
    while (end < lines.length && lines[end] !== '```') end++;
    blocks.push({ line: start + 1, code: lines.slice(start, end).join('\n') });
    i = end;
  }
  return blocks;
}

/** Whether the snippet brings `name` in itself (an import, or a declaration). */
function provides(code: string, name: string): boolean {
  return new RegExp(`import\\s*(type\\s*)?\\{[^}]*\\b${name}\\b[^}]*\\}|\\b(const|let|function|class)\\s+${name}\\b`).test(code);
}

/** Whether the snippet uses `name` as an identifier (not as a property `.name` or an object key). */
function uses(code: string, name: string): boolean {
  return new RegExp(`(?<![.\\w$])${name}(?![\\w$]|\\s*:(?!:))`).test(code.replace(/\/\/.*$/gm, ''));
}

/**
 * The READMEs whose blocks are whole modules. The others' blocks are fragments on purpose (a
 * type's shape, an option inside a call, a plugin list) and are not checked: plugins/dialog,
 * handoff, keyword, llm, ratelimit, voice, packages/testing and examples/order-dialog.
 */
const READMES = ['README.md', 'packages/core/README.md', 'packages/redis/README.md', 'plugins/echo/README.md'];

interface SnippetFile extends Snippet {
  readme: string;
  /** The virtual file beside the README, so @wxbot/* resolve as from that package. */
  file: string;
  text: string;
}

/** Each README's blocks as virtual files, with what they are given (GIVEN, earlier blocks' exports). */
function snippetFiles(readme: string): SnippetFile[] {
  const snippets = tsBlocks(readFileSync(join(root, readme), 'utf8'));
  const fileOf = (index: number) => join(root, dirname(readme), `readme-snippet-${index}.ts`);
  const exported = new Map<string, number>();
  snippets.forEach((snippet, index) => {
    for (const match of snippet.code.matchAll(/export const (\w+)/g)) exported.set(match[1]!, index);
  });
  return snippets.map((snippet, index) => {
    const given = Object.entries(GIVEN)
      .filter(([name]) => uses(snippet.code, name) && !provides(snippet.code, name))
      .map(([, line]) => line);
    // `greet` of the plugin block, used by the test kit's block.
    for (const [name, from] of exported)
      if (from !== index && uses(snippet.code, name) && !provides(snippet.code, name)) given.push(`import { ${name} } from './readme-snippet-${from}.ts';`);
    // Given lines share the block's first line, so diagnostics keep the README's line numbers.
    return { ...snippet, readme, file: fileOf(index), text: `${given.join(' ')}${snippet.code}\nexport {};\n` };
  });
}

describe('README TypeScript blocks', () => {
  it('compile with the options of tsc --init, each as a module', () => {
    const files = READMES.flatMap(snippetFiles);
    for (const readme of READMES) expect(files.some((f) => f.readme === readme)).toBe(true);
    const options = TSC_INIT_OPTIONS;
    const host = ts.createCompilerHost(options);
    const virtual = new Map(files.map((f) => [f.file, f.text]));
    const getSourceFile = host.getSourceFile.bind(host);
    host.getSourceFile = (name, language, onError, shouldCreate) => {
      const text = virtual.get(name);
      return text === undefined ? getSourceFile(name, language, onError, shouldCreate) : ts.createSourceFile(name, text, language, true);
    };
    const fileExists = host.fileExists.bind(host);
    host.fileExists = (name) => virtual.has(name) || fileExists(name);
    const readFile = host.readFile.bind(host);
    host.readFile = (name) => virtual.get(name) ?? readFile(name);
    const program = ts.createProgram([...virtual.keys()], options, host);

    const errors = files.flatMap((f) => {
      const source = program.getSourceFile(f.file)!;
      return [...program.getSyntacticDiagnostics(source), ...program.getSemanticDiagnostics(source)].map((d) => {
        const { line } = source.getLineAndCharacterOfPosition(d.start ?? 0);
        return `${f.readme}:${f.line + line}: ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`;
      });
    });
    expect(errors).toEqual([]);
  }, 120_000);
});
