/**
 * A user's TypeScript under the options `tsc --init` writes (strict, exactOptionalPropertyTypes,
 * noUncheckedIndexedAccess, NodeNext): the `npm create wxbot` template and a plugin as the
 * READMEs teach it must compile with 0 errors. The workspace itself builds without
 * exactOptionalPropertyTypes, so only a program with the user's options sees what it rejects
 * (a config passing `devMode: undefined`, a synchronous onReply hook). Diagnostics of wxbot's
 * own sources are not the user's: only the consumer files' are checked.
 */
import { join, resolve } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { TSC_INIT_OPTIONS } from './support/tscInit.ts';

const root = resolve(import.meta.dirname, '..');
const FILES = ['packages/create-wxbot/template/bot.config.ts', 'packages/create-wxbot/template/plugins/greet.ts', 'test/fixtures/strict/plugin.ts'];

describe('a consumer compiled with the options of tsc --init', () => {
  it('has 0 errors in the template and a README-style plugin', () => {
    const options = TSC_INIT_OPTIONS;
    const program = ts.createProgram(
      FILES.map((file) => join(root, file)),
      options,
    );
    const errors = FILES.flatMap((file) => {
      const source = program.getSourceFile(join(root, file));
      if (!source) throw new Error(`${file} is not in the program`);
      return [...program.getSyntacticDiagnostics(source), ...program.getSemanticDiagnostics(source)].map((d) => {
        const { line } = source.getLineAndCharacterOfPosition(d.start ?? 0);
        return `${file}:${line + 1}: ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`;
      });
    });
    expect(errors).toEqual([]);
  }, 120_000);
});
