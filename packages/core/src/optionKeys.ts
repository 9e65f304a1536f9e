/**
 * Unknown keys of the bot config and of the channel factories' options: a typo (`prot`,
 * `appid`, `encodingAesKey`) would otherwise be dropped silently and the bot would run without
 * the setting. Every problem in one error, with a did-you-mean, as plugin options get it.
 */
import { unknownOption } from './pluginOptions.ts';

/** The keys an options object may have: `true` for a value, a nested shape for a plain object. */
export interface KeyShape {
  readonly [key: string]: true | KeyShape;
}

/** A shape naming every key of `T` (the compiler says when an interface gains or loses one). */
export type KeysOf<T> = { readonly [K in keyof Required<T>]-?: true | KeyShape };

/** A config or channel option that no setting has; start-up and `wxbot check` stop with it. */
export class UnknownOptionError extends Error {
  override readonly name = 'UnknownOptionError';
  constructor(
    /** One line per unknown key, each naming where it is and what was probably meant. */
    readonly problems: readonly string[],
    /** What holds the options: `config`, `channel "wx" (officialAccount)`. */
    readonly where: string,
  ) {
    super(`${where}: ${problems.join('; ')}`);
  }
}

const isPlainObject = (value: unknown): value is Record<string, unknown> => {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null;
};

/** The unknown keys of `options` (and of its plain-object values with a nested shape). */
export function unknownKeys(options: unknown, shape: KeyShape, path: readonly string[] = []): string[] {
  if (!isPlainObject(options)) return [];
  const known = Object.keys(shape);
  const problems: string[] = [];
  for (const key of Object.keys(options)) {
    const inner = shape[key];
    if (inner === undefined) problems.push(unknownOption(path, key, known));
    else if (inner !== true) problems.push(...unknownKeys(options[key], inner, [...path, key]));
  }
  return problems;
}

/** Throws {@link UnknownOptionError} when `options` has a key `shape` does not name. */
export function checkKeys(where: string, options: unknown, shape: KeyShape): void {
  const problems = unknownKeys(options, shape);
  if (problems.length > 0) throw new UnknownOptionError(problems, where);
}
