import { existsSync, readFileSync } from 'node:fs';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { collectPluginOptionErrors, ConfigErrors, PluginOptionsError, resolveConfig, type WxbotConfig, type WxbotConfigInput } from '@wxbot/core';
import { cosmiconfig, type Loader } from 'cosmiconfig';

/**
 * The config could not be built: `message` says where (file:line, from the stack) and what;
 * `detail` is the stack, for `--verbose`.
 */
export class ConfigLoadError extends Error {
  override readonly name = 'ConfigLoadError';
  constructor(
    message: string,
    readonly detail: string | undefined,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/**
 * The package.json that decides whether a .ts or .js file is an ES module (the nearest one above
 * it, as Node looks), and whether it says `"type": "module"`. `npm init -y` writes
 * `"type": "commonjs"`; no package.json at all counts as CommonJS too.
 */
function moduleScope(filepath: string): { manifest: string | undefined; esm: boolean } {
  for (let dir = dirname(filepath); ; dir = dirname(dir)) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest)) {
      try {
        return { manifest, esm: (JSON.parse(readFileSync(manifest, 'utf8')) as { type?: unknown }).type === 'module' };
      } catch {
        return { manifest, esm: false };
      }
    }
    if (dirname(dir) === dir) return { manifest: undefined, esm: false };
  }
}

/**
 * What to do about a config that loads as CommonJS: wxbot's packages are ES modules only, so such
 * a config cannot import them. tsx compiles a .ts file of a CommonJS package to CommonJS and
 * fails with "Cannot require() ES Module … in a cycle" (ERR_REQUIRE_CYCLE_MODULE), Node on a .js
 * file with "Cannot use import statement outside a module".
 */
function commonJsAdvice(filepath: string, manifest: string | undefined): string {
  const name = basename(filepath);
  const esmName = name.replace(/\.(ts|js)$/, (_, ext: string) => (ext === 'ts' ? '.mts' : '.mjs'));
  const where = manifest ? `${manifest} does not say "type": "module" (npm init writes "type": "commonjs")` : 'no package.json above it says "type": "module"';
  return `${name} would load as CommonJS, which cannot import wxbot's packages (ES modules only): ${where}. Run \`npm pkg set type=module\` in the project, or name the config ${esmName}`;
}

/**
 * The file whose `require()` failed: the stack frame below Node's `require`, as plain Node writes
 * it (`at Object.<anonymous> (/app/plugins/greet.cjs:1:26)`) or tsx does (a `data:` URL holding
 * `__filename="/app/plugins/greet.ts"`, percent-encoded). Undefined when neither is there.
 */
function requiringFile(stack: string | undefined): string | undefined {
  const lines = stack?.split('\n') ?? [];
  const frame = lines[lines.findIndex((line) => /^\s*at require \(/.test(line)) + 1];
  if (!frame || !/^\s*at /.test(frame)) return undefined;
  let text = frame;
  try {
    text = decodeURIComponent(frame);
  } catch {
    // Not percent-encoded after all: read it as it is.
  }
  const match = /__filename="([^"]+)"/.exec(text) ?? /\(((?:file:\/\/)?[^()\s]+):\d+:\d+\)\s*$/.exec(text) ?? /^\s*at ((?:file:\/\/)?[^()\s]+):\d+:\d+\s*$/.exec(text);
  const found = match?.[1];
  if (!found) return undefined;
  return found.startsWith('file:') ? fileURLToPath(found) : found;
}

/**
 * What to do about a `require()` of a wxbot package, in the config itself or in a file it imports
 * (a plugin's `.ts` beside a `bot.config.mts` in a CommonJS package loads as CommonJS too).
 */
function requireAdvice(filepath: string, stack: string | undefined): string {
  const name = basename(filepath);
  const requirer = requiringFile(stack);
  if (!requirer || resolve(requirer) === resolve(filepath)) {
    return `${name} require()s a wxbot package, and wxbot's packages are ES modules only: write the config with \`import … from\` and \`export default\`, as bot.config.mjs (or in a package with "type": "module")`;
  }
  const shownRequirer = relative(dirname(filepath), requirer) || requirer;
  const scope = /\.(ts|js)$/.test(requirer) ? moduleScope(requirer) : undefined;
  if (scope && !scope.esm) {
    const esmName = basename(requirer).replace(/\.(ts|js)$/, (_, ext: string) => (ext === 'ts' ? '.mts' : '.mjs'));
    const where = scope.manifest ? `${scope.manifest} does not say "type": "module" (npm init writes "type": "commonjs")` : 'no package.json above it says "type": "module"';
    return `${name} imports ${shownRequirer}, which loads as CommonJS and so cannot import wxbot's packages (ES modules only): ${where}. Run \`npm pkg set type=module\` in the project, or rename it ${esmName} (and its import)`;
  }
  return `${name} imports ${shownRequirer}, which require()s a wxbot package, and wxbot's packages are ES modules only: write it with \`import … from\`, as an ES module`;
}

/**
 * Node rejects a second, internal promise with the very error of a CommonJS module that threw
 * under `import()` (plain Node and tsx alike): nobody can handle it, and unhandled it ends the
 * process with a stack before the config error is said. This ignores that one rejection (this
 * error object only) until the event loop's next turn, when Node has reported it; any other
 * rejection meanwhile ends the process as it would have.
 */
function ignoreSecondRejection(error: unknown): void {
  const onRejection = (reason: unknown): void => {
    if (reason !== error) throw reason;
  };
  process.on('unhandledRejection', onRejection);
  setImmediate(() => process.off('unhandledRejection', onRejection));
}

/** Node's errors for ES module syntax in a file it loads as CommonJS. */
const ESM_SYNTAX_IN_COMMONJS = /Cannot use import statement outside a module|Unexpected token 'export'/;

const importLoader: Loader = async (filepath) => {
  let module: Record<string, unknown>;
  try {
    module = (await import(pathToFileURL(filepath).href)) as Record<string, unknown>;
  } catch (error) {
    // Asked only once the import failed: where a CommonJS scope works (Node's module syntax
    // detection for a package.json without "type"), nothing is refused.
    const { code, message } = (error ?? {}) as { code?: unknown; message?: unknown };
    const esmInCommonJs = code === 'ERR_REQUIRE_CYCLE_MODULE' || (error instanceof SyntaxError && ESM_SYNTAX_IN_COMMONJS.test(error.message));
    const scope = esmInCommonJs && /\.(ts|js)$/.test(filepath) ? moduleScope(filepath) : undefined;
    if (scope && !scope.esm) throw new ConfigLoadError(commonJsAdvice(filepath, scope.manifest), error instanceof Error ? error.stack : undefined, { cause: error });
    // require('@wxbot/core') in a CommonJS file: Node says only `No "exports" main defined`.
    if (code === 'ERR_PACKAGE_PATH_NOT_EXPORTED' && typeof message === 'string' && /[\\/]@wxbot[\\/]/.test(message)) {
      ignoreSecondRejection(error);
      const stack = error instanceof Error ? error.stack : undefined;
      throw new ConfigLoadError(requireAdvice(filepath, stack), stack, { cause: error });
    }
    throw error;
  }
  if (!('default' in module)) {
    const named = Object.keys(module);
    throw new ConfigLoadError(
      `${basename(filepath)} has no default export: end it with \`export default defineConfig({ … })\`${named.length ? ` (it exports ${named.map((n) => `"${n}"`).join(', ')})` : ''}`,
      undefined,
    );
  }
  return module.default;
};

let typeScriptLoader: Promise<void> | undefined;

/**
 * Makes `import()` of a TypeScript config work. tsx is an optional peer dependency: registered
 * on the first .ts config when installed; else Node's own type stripping (Node 22.18+) is used
 * where it exists; else the error says what to install.
 */
async function ensureTypeScriptLoader(filepath: string): Promise<void> {
  // Running from the repository's sources: the bin registered tsx already.
  if (import.meta.url.endsWith('.ts')) return;
  typeScriptLoader ??= (async () => {
    try {
      const tsx = await import('tsx/esm/api');
      tsx.register();
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ERR_MODULE_NOT_FOUND') throw error;
      if ((process.features as { typescript?: unknown }).typescript) return;
      throw new Error(
        `${basename(filepath)} is TypeScript, and Node ${process.version} needs a loader for it: install tsx (npm install --save-dev tsx), or write the config as bot.config.mjs`,
      );
    }
  })();
  await typeScriptLoader;
}

const typeScriptImportLoader: Loader = async (filepath, content) => {
  await ensureTypeScriptLoader(filepath);
  return importLoader(filepath, content);
};

const explorer = cosmiconfig('wxbot', {
  searchPlaces: ['package.json', 'bot.config.ts', 'bot.config.mts', 'bot.config.mjs', 'bot.config.js', 'wxbot.config.ts', 'wxbot.config.mjs', 'wxbot.config.js'],
  loaders: { '.ts': typeScriptImportLoader, '.mts': typeScriptImportLoader, '.mjs': importLoader, '.js': importLoader },
  searchStrategy: 'none',
});

/** No config file was found (as opposed to one that failed to load). */
export class ConfigNotFoundError extends Error {
  override readonly name = 'ConfigNotFoundError';
}

/**
 * Loads bot.config.ts / .mjs / .js or the `wxbot` key of package.json. A config that throws
 * (on import, or its function when called) becomes a {@link ConfigLoadError} naming the line
 * of the config; the errors of every wrong plugin and channel come together, a line each.
 */
export async function loadConfig(file?: string, cwd = process.cwd()): Promise<{ config: WxbotConfig; filepath: string }> {
  const wanted = file ? resolve(cwd, file) : undefined;
  if (wanted && !existsSync(wanted)) throw new ConfigNotFoundError(`no wxbot config found: ${wanted} does not exist`);
  let filepath = wanted;
  try {
    return await collectPluginOptionErrors(async () => {
      const result = wanted ? await explorer.load(wanted) : await explorer.search(cwd);
      if (!result || result.isEmpty) {
        throw new ConfigNotFoundError(`no wxbot config found (${wanted ?? cwd}): create bot.config.ts or pass --config FILE`);
      }
      filepath = result.filepath;
      const config = await resolveConfig(result.config as WxbotConfigInput);
      if (!config || typeof config !== 'object')
        throw new ConfigLoadError(
          `${basename(result.filepath)}: the default export must be a config object or a function returning one (got ${config === null ? 'null' : typeof config})`,
          undefined,
        );
      return { config, filepath: result.filepath };
    });
  } catch (error) {
    throw located(error, filepath, cwd);
  }
}

/** The file as people read it: relative to cwd when inside it, else absolute. */
function shown(filepath: string, cwd: string): string {
  const rel = relative(cwd, filepath);
  return rel && !rel.startsWith('..') ? rel : filepath;
}

/** The config's own line the error passed through, as "file:line". */
function locationIn(error: unknown, filepath: string, cwd: string): string | undefined {
  const stack = (error as { stack?: unknown } | null)?.stack;
  if (typeof stack !== 'string') return undefined;
  const href = pathToFileURL(filepath).href;
  for (const line of stack.split('\n').slice(1)) {
    const match = /\(?((?:file:\/\/)?[^()\s]+):(\d+):(\d+)\)?\s*$/.exec(line);
    if (!match) continue;
    const [, where, row] = match;
    if (where === filepath || where === href) return `${shown(filepath, cwd)}:${row}`;
  }
  return undefined;
}

/** Puts the config's file:line in front of an error thrown while it loaded. */
function located(error: unknown, filepath: string | undefined, cwd: string): unknown {
  if (error instanceof ConfigNotFoundError || error instanceof ConfigLoadError || !filepath) return error;
  // Several wrong plugins or channels: one line per problem, each at its factory's line.
  if (error instanceof PluginOptionsError || error instanceof ConfigErrors) {
    const parts = error.errors.length > 0 ? error.errors : [error];
    const lines = parts.flatMap((part) => {
      const at = locationIn(part, filepath, cwd);
      const problems = part instanceof PluginOptionsError ? part.problems : [part.message];
      return problems.map((problem) => (at ? `${at}: ${problem}` : problem));
    });
    return new ConfigLoadError(lines.join('\n'), parts.map((p) => p.stack).join('\n'), { cause: error });
  }
  const message = error instanceof Error ? error.message : String(error);
  const at = locationIn(error, filepath, cwd) ?? shown(filepath, cwd);
  return new ConfigLoadError(`${at}: ${message}`, error instanceof Error ? error.stack : undefined, { cause: error });
}

/**
 * Closes what building a config opened (a RedisStore connects as soon as it is constructed),
 * for commands that only read the config. Gives up after `timeoutMs`: a store that cannot
 * say goodbye must not keep a one-shot command waiting.
 */
export async function releaseConfig(config: WxbotConfig, timeoutMs = 1000): Promise<void> {
  const store = config.store;
  const close = store?.close?.();
  if (close) {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<void>((done) => (timer = setTimeout(done, timeoutMs)));
    try {
      await Promise.race([close.catch(() => {}), timeout]);
    } finally {
      clearTimeout(timer);
    }
  }
  // A RedisStore whose server is down is still reconnecting after close(): stop it for good.
  (store as { client?: { disconnect?: () => void } } | undefined)?.client?.disconnect?.();
}

/** Loads `.env` from the working directory into process.env, if there is one. */
export async function loadDotEnv(cwd = process.cwd()): Promise<void> {
  const file = resolve(cwd, '.env');
  if (!existsSync(file)) return;
  const dotenv = await import('dotenv');
  dotenv.config({ path: file, quiet: true });
}
