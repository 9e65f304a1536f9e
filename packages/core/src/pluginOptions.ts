/**
 * Validation of plugin options: every problem of one plugin in one message, a did-you-mean
 * for a misspelt option, and a collecting mode so a config with several wrong plugins reports
 * all of them at once instead of stopping at the first factory that throws.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { z } from 'zod';

/** A plugin option failed validation; start-up stops with this message. */
export class PluginOptionsError extends Error {
  override readonly name = 'PluginOptionsError';
  constructor(
    message: string,
    /** One line per wrong option, each naming its plugin (several plugins when collected). */
    readonly problems: readonly string[] = [message],
    /** When collected: the error of each plugin, thrown where its factory was called. */
    readonly errors: readonly PluginOptionsError[] = [],
  ) {
    super(message);
  }
}

/** Edit distance (insertions, deletions, substitutions, swaps of neighbours). */
function distance(a: string, b: string): number {
  const rows = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) rows[0]![j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let d = Math.min(rows[i - 1]![j]! + 1, rows[i]![j - 1]! + 1, rows[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d = Math.min(d, rows[i - 2]![j - 2]! + 1);
      rows[i]![j] = d;
    }
  }
  return rows[a.length]![b.length]!;
}

/** The candidate `word` was most likely meant to be, if one is close enough. */
export function didYouMean(word: string, candidates: readonly string[]): string | undefined {
  const lower = word.toLowerCase();
  let best: { name: string; d: number } | undefined;
  for (const name of candidates) {
    const d = name.toLowerCase() === lower ? 0 : distance(lower, name.toLowerCase());
    if (!best || d < best.d) best = { name, d };
  }
  // About one typo per three letters; more and the suggestion is a guess.
  return best && best.d <= Math.max(1, Math.floor(word.length / 3)) ? best.name : undefined;
}

type Def = { type: string; shape?: Record<string, z.ZodType>; in?: z.ZodType; innerType?: z.ZodType; element?: z.ZodType; catchall?: z.ZodType };
const defOf = (schema: z.ZodType | undefined): Def | undefined => (schema as { _zod?: { def?: Def } } | undefined)?._zod?.def;

/** The schema under wrappers (optional, default, pipe/transform…). */
function unwrap(schema: z.ZodType | undefined): Def | undefined {
  let def = defOf(schema);
  for (let depth = 0; def && depth < 10; depth++) {
    const inner = def.innerType ?? (def.type === 'pipe' ? def.in : undefined);
    if (!inner) return def;
    def = defOf(inner);
  }
  return def;
}

/** The object schema found at `path` (for a nested unknown key's suggestions). */
function objectAt(schema: z.ZodType, path: readonly PropertyKey[]): Def | undefined {
  let def = unwrap(schema);
  for (const key of path) {
    if (def?.type === 'array' && typeof key === 'number') def = unwrap(def.element);
    else if (def?.type === 'object') def = unwrap(def.shape?.[String(key)]);
    else return undefined;
  }
  return def?.type === 'object' ? def : undefined;
}

const label = (path: readonly PropertyKey[]) => path.map(String).join('.');

/** "unknown option "promt" (did you mean "prompt"?)", or without the hint when nothing is close. */
export function unknownOption(path: readonly PropertyKey[], key: string, known: readonly string[]): string {
  const guess = didYouMean(key, known);
  const full = label([...path, key]);
  return `unknown option "${full}"${guess ? ` (did you mean "${label([...path, guess])}"?)` : ''}`;
}

/**
 * Checks `options` against a plugin's schema. Keys no option has are errors too (a plain
 * `z.object` would drop them silently, so a typo would just be ignored), with a suggestion.
 * Throws one {@link PluginOptionsError} listing every problem.
 */
export function parsePluginOptions<S extends z.ZodType>(plugin: string, schema: S, options: unknown): z.output<S> {
  const input = options ?? {};
  const problems: string[] = [];
  const top = objectAt(schema, []);
  // Only a non-strict object drops unknown keys; a strict one reports them itself (below).
  if (top?.shape && !top.catchall && input && typeof input === 'object' && !Array.isArray(input)) {
    const known = Object.keys(top.shape);
    for (const key of Object.keys(input)) if (!(key in top.shape)) problems.push(unknownOption([], key, known));
  }
  const result = schema.safeParse(input);
  if (!result.success) {
    for (const issue of result.error.issues) {
      if (issue.code === 'unrecognized_keys') {
        const at = objectAt(schema, issue.path);
        const known = at?.shape ? Object.keys(at.shape) : [];
        for (const key of issue.keys) {
          const line = unknownOption(issue.path, key, known);
          if (!problems.includes(line)) problems.push(line);
        }
      } else {
        problems.push(`option "${label(issue.path) || '(root)'}": ${issue.message}`);
      }
    }
  }
  if (problems.length > 0)
    throw new PluginOptionsError(
      `plugin "${plugin}": ${problems.join('; ')}`,
      problems.map((p) => `plugin "${plugin}": ${p}`),
    );
  return (result as { data: z.output<S> }).data;
}

/**
 * Several things a config builds were wrong (plugins' options, channels' settings), collected
 * while it loaded (see {@link collectPluginOptionErrors}): `errors` holds each one's own error,
 * thrown where its factory was called, in the order they were met.
 */
export class ConfigErrors extends Error {
  override readonly name = 'ConfigErrors';
  /** One line per problem, each naming its plugin or channel. */
  readonly problems: readonly string[];
  constructor(readonly errors: readonly Error[]) {
    const problems = errors.flatMap((e) => (e instanceof PluginOptionsError ? e.problems : [e.message]));
    super(problems.join('\n'));
    this.problems = problems;
  }
}

/** Shared by every copy of @wxbot/core loaded in the process (a config may import its own). */
const collector = ((globalThis as Record<symbol, unknown>)[Symbol.for('wxbot.pluginOptionErrors')] ??= new AsyncLocalStorage<Error[]>()) as AsyncLocalStorage<Error[]>;
/**
 * Collections under way (shared as the storage is). The storage is disabled when the last one
 * ends: an enabled AsyncLocalStorage keeps Node's promise hooks on for the rest of the process
 * (on Node < 22 a hook call for every promise made; about a tenth of a KF message's CPU in
 * `wxbot start`, which loads its config through here).
 */
const collecting = ((globalThis as Record<symbol, unknown>)[Symbol.for('wxbot.pluginOptionCollections')] ??= { running: 0 }) as { running: number };

/**
 * While collecting (see {@link collectPluginOptionErrors}), records the error of a plugin's
 * options or of a channel's settings and returns true: the factory then returns a stand-in
 * instead of throwing. Else false (the factory throws).
 */
export function recordConfigError(error: Error): boolean {
  const errors = collector.getStore();
  if (!errors) return false;
  errors.push(error);
  return true;
}

/**
 * Runs `build` (loading a config) with plugin and channel factories that record their errors
 * instead of throwing, then throws them all: a {@link PluginOptionsError} naming every wrong
 * option when only plugins were wrong (one error: that error), else {@link ConfigErrors}. An
 * error `build` itself throws after some were recorded (the config used a stand-in) comes last.
 */
export async function collectPluginOptionErrors<T>(build: () => Promise<T>): Promise<T> {
  const errors: Error[] = [];
  collecting.running += 1;
  let result: T;
  try {
    result = await collector.run(errors, build);
  } catch (error) {
    if (errors.length === 0) throw error;
    throw new ConfigErrors([...errors, error instanceof Error ? error : new Error(String(error))]);
  } finally {
    if (--collecting.running === 0) collector.disable();
  }
  if (errors.length === 1) throw errors[0];
  if (errors.length > 1) {
    if (!errors.every((e) => e instanceof PluginOptionsError)) throw new ConfigErrors(errors);
    const problems = errors.flatMap((e) => e.problems);
    throw new PluginOptionsError(problems.join('\n'), problems, errors);
  }
  return result;
}
