/**
 * Reading a rule file: JSON or YAML, validated and compiled, or a {@link RuleFileError}
 * that names the file. Nothing here keeps state; the plugin decides what a failure means.
 */
import { readFile } from 'node:fs/promises';
import { extname } from 'node:path';
import { parse as parseYaml } from 'yaml';
import type { z } from 'zod';
import { ruleFileSchema, type RuleFileContent } from './schema.ts';

/** A rule file could not be read, parsed or validated. The message starts with the path. */
export class RuleFileError extends Error {
  override readonly name = 'RuleFileError';
  constructor(
    readonly file: string,
    detail: string,
  ) {
    super(`${file}: ${detail}`);
  }
}

/** What a file's top-level list means when it is a bare list: rules, or FAQ entries. */
export type RuleFileKind = 'rules' | 'faq';

/** Parses file text by extension: `.json` strictly, anything else as YAML (a superset of JSON). */
export function parseRuleFileText(file: string, text: string): unknown {
  try {
    return extname(file).toLowerCase() === '.json' ? JSON.parse(text) : parseYaml(text);
  } catch (error) {
    throw new RuleFileError(file, `not valid ${extname(file).toLowerCase() === '.json' ? 'JSON' : 'YAML'}: ${(error as Error).message}`);
  }
}

function describeIssues(issues: readonly z.core.$ZodIssue[]): string {
  return issues.map((issue) => `${formatPath(issue.path)}: ${issue.message}`).join('; ');
}

function formatPath(path: readonly PropertyKey[]): string {
  if (path.length === 0) return '(root)';
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : `${i === 0 ? '' : '.'}${String(p)}`)).join('');
}

/**
 * Validates and compiles parsed content. A bare list is taken as `kind` (rules or FAQ
 * entries). An empty document is an error, not "no rules": editors that truncate before
 * writing would otherwise wipe every rule for a moment.
 */
export function validateRuleFile(file: string, data: unknown, kind: RuleFileKind): RuleFileContent {
  if (data === null || data === undefined) throw new RuleFileError(file, 'the file is empty (write "rules: []" to mean no rules)');
  const content = Array.isArray(data) ? { [kind]: data } : data;
  const result = ruleFileSchema(file).safeParse(content);
  if (!result.success) throw new RuleFileError(file, describeIssues(result.error.issues));
  return result.data;
}

/** Reads a rule file's text. Throws {@link RuleFileError}. */
export async function readRuleFileText(file: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new RuleFileError(file, code === 'ENOENT' ? 'no such file' : `cannot read: ${(error as Error).message}`);
  }
}

/**
 * Reads, parses, validates and compiles a rule file (for tools that check a file before
 * deploying it). Throws {@link RuleFileError}.
 */
export async function loadRuleFile(file: string, kind: RuleFileKind = 'rules'): Promise<RuleFileContent> {
  return validateRuleFile(file, parseRuleFileText(file, await readRuleFileText(file)), kind);
}
