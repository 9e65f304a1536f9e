/**
 * Command-line parsing for every subcommand: node:util parseArgs (strict) plus `--help`, with
 * wrong usage turned into a {@link UsageError}, which the CLI reports with the command's usage
 * and exit status 2.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';

/** Exit status of wrong usage (an unknown option, a missing value, a malformed number). */
export const USAGE_EXIT = 2;

/** The command line is wrong: print the message and the usage, exit 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

type Options = NonNullable<ParseArgsConfig['options']>;
type WithHelp<O extends Options> = O & { help: { type: 'boolean'; short: 'h'; default: false } };
/** Spelled out so the declaration build can name the return type (node:util does not export it). */
type Parsed<O extends Options> = ReturnType<typeof parseArgs<{ args: string[]; options: WithHelp<O>; allowPositionals: boolean; strict: true }>>;

/**
 * Parses `args` against `options` (with `--help`/`-h` added). Unknown options, missing values
 * and, unless `positionals` is true, stray arguments throw {@link UsageError}.
 */
export function parseCommand<O extends Options>(args: string[], options: O, positionals = false): Parsed<O> {
  try {
    return parseArgs({ args, options: { ...options, help: { type: 'boolean', short: 'h', default: false } } as WithHelp<O>, allowPositionals: positionals, strict: true });
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS')) throw new UsageError((error as Error).message);
    throw error;
  }
}
