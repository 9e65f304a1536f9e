import { spawnSync } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { relative } from 'node:path';
import { offersDeliveryEngine } from '@wxbot/core/delivery';
import { decodeEncodingAESKey } from '@wxbot/core/protocol';
import { createBot, createLogger, envVariablesOf, MemoryStore, PluginScope, type Channel, type Plugin, type Store, type WxbotConfig } from '@wxbot/core';
import { envIssuesOf } from './describeError.ts';
import { ConfigLoadError, loadConfig, loadDotEnv, releaseConfig } from './loadConfig.ts';
import { parseCommand } from './usage.ts';
import { CHECK_USAGE } from './usageTexts.ts';

type Status = 'ok' | 'warn' | 'fail';
const MARK: Record<Status, string> = { ok: '✓', warn: '⚠', fail: '✗' };

/** How long a plugin's setup may take before it counts as hanging. */
const SETUP_TIMEOUT_MS = 5000;

/** How long a store's PING may take before it counts as unreachable. */
const STORE_TIMEOUT_MS = 2000;

/** Collects check results and prints each at once, so a slow check shows what came before it. */
class Report {
  readonly counts: Record<Status, number> = { ok: 0, warn: 0, fail: 0 };
  add(status: Status, text: string): void {
    this.counts[status]++;
    console.log(`${MARK[status]} ${text}`);
  }
  ok = (text: string) => this.add('ok', text);
  warn = (text: string) => this.add('warn', text);
  fail = (text: string) => this.add('fail', text);
}

/** `wxbot check`: see {@link CHECK_USAGE}. Returns the exit code. */
export async function check(args: string[]): Promise<number> {
  const { values } = parseCommand(args, { config: { type: 'string', short: 'c' }, verbose: { type: 'boolean', default: false } });
  if (values.help) {
    console.log(CHECK_USAGE);
    return 0;
  }
  const report = new Report();
  await loadDotEnv();
  let loaded: { config: WxbotConfig; filepath: string };
  try {
    // Plugin factories validate their options here, and channel constructors their required fields.
    loaded = await loadConfig(values.config);
  } catch (error) {
    const issues = envIssuesOf(error);
    if (issues) for (const issue of issues) report.fail(`environment: ${issue.variable}: ${issue.message}`);
    else for (const line of (error instanceof Error ? error.message : String(error)).split('\n')) report.fail(`config loads: ${line}`);
    if (values.verbose && error instanceof ConfigLoadError && error.detail) console.log(`\n${error.detail}`);
    return summary(report);
  }
  const { config, filepath } = loaded;
  try {
    report.ok(`config loads: ${relative(process.cwd(), filepath) || filepath}`);
    const channels: readonly Channel[] = Array.isArray(config.channels) ? config.channels : [];
    checkChannelSet(report, channels);
    for (const channel of channels) checkChannel(report, channel);
    const storeAnswers = await checkStore(report, config.store);
    await checkDelivery(report, config, storeAnswers);
    checkPlugins(report, config);
    await checkPluginSetup(report, config);
    if (config.devMode) report.warn('dev mode: the credentials were generated (.wxbot/dev.json); configure real channels before going live');
  } finally {
    await releaseConfig(config);
  }
  return summary(report);
}

function summary(report: Report): number {
  const { ok, warn, fail } = report.counts;
  console.log(`\n${ok} passed, ${warn} warning${warn === 1 ? '' : 's'}, ${fail} failed`);
  return fail > 0 ? 1 : 0;
}

function checkChannelSet(report: Report, channels: readonly Channel[]): void {
  if (channels.length === 0) {
    report.fail('channels: none configured');
    return;
  }
  report.ok(`channels: ${channels.map((c) => `${c.name} (${c.kind}, ${c.path})`).join(', ')}`);
  const names = duplicates(channels.map((c) => c.name));
  if (names.length) report.fail(`channel names: ${names.map((n) => `"${n}"`).join(', ')} used twice; give each channel a unique name`);
  else report.ok('channel names are unique');
  const paths = duplicates(channels.map((c) => c.path));
  if (paths.length) report.fail(`channel paths: ${paths.join(', ')} used twice; give each channel its own path`);
  else report.ok('channel paths are unique');
}

/**
 * Checks a built-in channel's credentials; its options are public on the channel object. Options
 * holding what `envConfig()` made of the environment (spread or copied too) name their variable:
 * "appId (WX_APP_ID) is empty".
 */
function checkChannel(report: Report, channel: Channel): void {
  const label = `channel "${channel.name}"`;
  const options = ((channel as { options?: unknown }).options ?? undefined) as Record<string, unknown> | undefined;
  if (channel.kind === 'wecomWebhook') {
    // Nothing to verify offline: the key is only known good once WeCom accepts a message.
    report.ok(`${label}: group robot webhook, send only (a wrong key shows as errcode 93000 on the first send)`);
    return;
  }
  if (!options || !['officialAccount', 'wecomApp', 'wecomKf', 'wecomAiBot'].includes(channel.kind)) {
    report.warn(`${label}: ${channel.kind} is not a built-in channel; its settings are not checked`);
    return;
  }
  const variables = envVariablesOf(channel.kind, options);
  /** An option as the report names it, with its environment variable when it came from one. */
  const named = (option: string, shown: string = option) => (variables[option] ? `${shown} (${variables[option]})` : shown);
  const oa = channel.kind === 'officialAccount';
  if (channel.kind === 'wecomAiBot' && text(options['secret'])) {
    // WebSocket mode: the bot id and secret log in; a token and key only matter for callbacks too.
    report.ok(`${label}: WebSocket mode: bot id and secret set (${text(options['wsUrl']) ?? 'wss://openws.work.weixin.qq.com'})`);
    if (!text(options['token']) && !text(options['encodingAESKey'])) return;
  }

  const token = text(options['token']);
  if (!token) report.fail(`${label}: ${named('token')} is empty`);
  // The consoles accept 3 to 32 letters and digits; another token can never be saved there.
  else if (!/^[A-Za-z0-9]{3,32}$/.test(token)) report.warn(`${label}: ${named('token')} is ${token.length} characters; the WeChat consoles accept 3–32 letters and digits`);
  else report.ok(`${label}: ${named('token')} set`);

  const key = text(options['encodingAESKey']);
  const keyName = named('encodingAESKey', 'EncodingAESKey');
  if (!key) {
    if (oa) report.warn(`${label}: no ${keyName}: plain mode only, callbacks travel unencrypted`);
    else report.fail(`${label}: ${keyName} is empty (${channel.kind} callbacks are always encrypted)`);
  } else if (key.length !== 43) {
    report.fail(`${label}: ${keyName} is ${key.length} characters, must be 43`);
  } else {
    try {
      decodeEncodingAESKey(key);
      report.ok(`${label}: ${keyName} is 43 characters and decodes to 32 bytes`);
    } catch (error) {
      report.fail(`${label}: ${keyName}: ${(error as Error).message}`);
    }
  }

  if (channel.kind === 'wecomAiBot') {
    // No id and no secret in callback mode: the receiveid is "", and late answers use each message's response_url.
    report.ok(`${label}: answers later than the ${channel.replyWindowMs / 1000} s reply window go once through the message's response_url`);
    return;
  }

  const idName = oa ? 'appId' : 'corpId';
  const secretName = oa ? 'appSecret' : 'secret';
  const secret = text(options[secretName]);
  if (text(options[idName])) report.ok(`${label}: ${named(idName)} set`);
  // Plain mode without an API needs no AppID; anything encrypted or calling the API does.
  else if (oa && !key && !secret) report.warn(`${label}: ${named(idName)} is empty (needed once you use safe mode or the API)`);
  else report.fail(`${label}: ${named(idName)} is empty: ${key ? 'encrypted callbacks carry it as their receiveid' : 'the API needs it with the secret'}`);

  if (secret) report.ok(`${label}: ${named(secretName)} set: answers after the ${channel.replyWindowMs / 1000} s reply window can be sent`);
  else report.warn(`${label}: no ${named(secretName)}: answers later than the ${channel.replyWindowMs / 1000} s reply window (and media) cannot be sent`);
}

/** Checks the store; false when it is behind a server that does not answer. */
async function checkStore(report: Report, store: Store | undefined): Promise<boolean> {
  if (!store) {
    report.ok('store: in memory (default; state is lost on restart and not shared between instances)');
    return true;
  }
  const name = store.constructor.name;
  // A store behind a server (RedisStore of @wxbot/redis) offers ping(); the CLI needs no
  // dependency on it to check one.
  if (typeof store.ping !== 'function') {
    report.ok(`store: ${name}`);
    return true;
  }
  const where = store.location ? ` at ${store.location}` : '';
  let timer: NodeJS.Timeout | undefined;
  try {
    const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`no answer within ${STORE_TIMEOUT_MS} ms`)), STORE_TIMEOUT_MS)));
    await Promise.race([store.ping(), timeout]);
    report.ok(`store: ${name}${where} answers PING`);
    return true;
  } catch (error) {
    report.fail(`store: ${name}${where} is unreachable: ${error instanceof Error ? error.message : String(error)}`);
    return false;
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Whether delivery is durable, as `wxbot start` would run it: the bot the config makes (no
 * server, no workers, silent) says whether it has a durable engine; if so its queues are read
 * from Redis (job counts per state) and the workers' concurrency is said.
 */
async function checkDelivery(report: Report, config: WxbotConfig, storeAnswers: boolean): Promise<void> {
  if (config.delivery === 'memory') {
    report.ok("delivery: in process memory (delivery: 'memory'): a crash loses replies not yet sent and slow messages still running");
    return;
  }
  const store = config.store;
  const where = store?.location ? ` at ${store.location}` : '';
  if (!config.delivery && !offersDeliveryEngine(store)) {
    report.ok('delivery: in process memory (no Redis): a crash loses replies not yet sent and slow messages still running; a RedisStore (REDIS_URL) makes it durable');
    return;
  }
  let bot: ReturnType<typeof createBot>;
  try {
    bot = createBot({ ...config, workers: false, logger: { level: 'silent' } });
  } catch (error) {
    report.warn(`delivery: not checked (the bot could not be made: ${error instanceof Error ? error.message : String(error)})`);
    return;
  }
  try {
    const queues = bot.queues;
    if (!queues) {
      report.ok(
        'delivery: in process memory: the store is on Redis but durable delivery is off (RedisStore durable: false); a crash loses replies not yet sent and slow messages still running',
      );
      return;
    }
    if (!storeAnswers) {
      report.fail(`durable delivery: on, but its Redis${where} is unreachable: a running bot would deliver from its own memory (not durable) until Redis answers`);
      return;
    }
    let depth: Record<string, Record<string, number>>;
    try {
      depth = await queues.depth();
    } catch (error) {
      report.fail(`durable delivery: on, but its queues could not be read from Redis${where}: ${error instanceof Error ? error.message : String(error)}`);
      return;
    }
    const counts = (c: Record<string, number>) => ['waiting', 'active', 'delayed', 'failed'].map((state) => `${state} ${c[state] ?? 0}`).join(', ');
    report.ok(
      `durable delivery: on (Redis${where}): queues ${Object.entries(depth)
        .map(([name, c]) => `${name} (${counts(c)})`)
        .join(', ')}`,
    );
    const failed = Object.values(depth).reduce((sum, c) => sum + (c['failed'] ?? 0), 0);
    if (failed > 0) report.warn(`durable queues: ${failed} failed job${failed === 1 ? '' : 's'} kept (\`wxbot queue list\` says why, \`wxbot queue retry --all\` runs them again)`);
    const workers = config.workers;
    const concurrency = (workers === false ? undefined : workers?.concurrency) ?? queues.workerConcurrency;
    if (workers === false) report.warn('queue workers: off in `wxbot start` (workers: false): run `wxbot worker` somewhere, or no queued job is ever taken');
    else
      report.ok(
        `queue workers: each \`wxbot start\` runs ${concurrency ?? 'the default number of'} jobs at a time per queue (\`wxbot worker --concurrency N\` runs more elsewhere)`,
      );
  } finally {
    await bot.stop().catch(() => undefined);
  }
}

function checkPlugins(report: Report, config: WxbotConfig): void {
  const plugins = Array.isArray(config.plugins) ? config.plugins : [];
  report.ok(plugins.length ? `plugins: ${plugins.map((p) => p.name).join(', ')}` : 'plugins: none (the bot will not answer anything)');
  // Each program once, named with the plugins that run it.
  const users = new Map<string, string[]>();
  for (const plugin of plugins) for (const tool of plugin.tools ?? []) users.set(tool, [...(users.get(tool) ?? []), plugin.name]);
  for (const [tool, names] of users) {
    const needs = `plugin${names.length > 1 ? 's' : ''} ${names.map((n) => `"${n}"`).join(', ')} need${names.length > 1 ? '' : 's'} it`;
    const run = spawnSync(tool, ['-version'], { encoding: 'utf8', timeout: 5000 });
    if (run.error || run.status !== 0) {
      const why =
        (run.error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT'
          ? tool.includes('/')
            ? 'not found'
            : 'not found on PATH'
          : (run.error?.message ?? `exited with ${run.status}`);
      report.fail(`${tool}: ${why} (${needs})`);
    } else {
      report.ok(`${tool}: ${run.stdout.split('\n')[0]?.replace(/ Copyright.*/, '') || 'found'}`);
    }
  }
}

/**
 * Runs each plugin's setup as start-up would, so a setup that throws fails here, named, instead of
 * at `wxbot start`. The scopes are dry: an in-memory store, nothing served or sent (routes and
 * hooks are collected and dropped, `sendTo` refuses); what setup returned to undo is run at once.
 * The log keeps only error lines, each a warning here: a plugin that starts but logs an error
 * (keyword's missing rule file, say) works less than configured, and `start` would go on. Its
 * warn lines are not shown: some say what this dry run lacks (nobody takes hand-offs here).
 */
async function checkPluginSetup(report: Report, config: WxbotConfig): Promise<void> {
  const plugins: readonly Plugin[] = Array.isArray(config.plugins) ? config.plugins : [];
  if (plugins.length === 0) return;
  const channels: readonly Channel[] = Array.isArray(config.channels) ? config.channels : [];
  const store = new MemoryStore();
  const logged: string[] = [];
  const log = createLogger({ level: 'error', destination: { write: (line: string) => void logged.push(line) } });
  const noop = () => {};
  const host: ConstructorParameters<typeof PluginScope>[3] = {
    events: new EventEmitter(),
    addRoute: () => noop,
    addServerHook: () => noop,
    addReplyHook: () => noop,
    addHandoffHandler: () => noop,
    sendTo: () => Promise.reject(new Error('wxbot check sends nothing')),
    channelNamed: (name) => channels.find((c) => c.name === name),
    handoffTargets: () => Object.fromEntries(channels.map((c) => [c.name, 'nobody'] as const)),
    publish: async () => {},
    subscribe: () => ({ ready: Promise.resolve(), unsubscribe: async () => {} }),
  };
  const failed: string[] = [];
  for (const plugin of plugins) {
    const scope = new PluginScope(plugin.name, log.child({ plugin: plugin.name }), store, host);
    let timer: NodeJS.Timeout | undefined;
    try {
      const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`did not finish within ${SETUP_TIMEOUT_MS} ms`)), SETUP_TIMEOUT_MS)));
      const disposer = await Promise.race([Promise.resolve().then(() => plugin.setup(scope)), timeout]);
      for (const line of logged.splice(0)) report.warn(`plugin "${plugin.name}" logged an error in setup: ${loggedMessage(line)}`);
      await disposer?.();
      await plugin.dispose?.();
    } catch (error) {
      failed.push(plugin.name);
      report.fail(`plugin "${plugin.name}" failed in setup: ${error instanceof Error ? error.message : String(error)}`);
    } finally {
      clearTimeout(timer);
      logged.length = 0; // a setup that threw is reported as failed, not its log lines too
    }
  }
  if (failed.length < plugins.length)
    report.ok(
      `plugin setup: ${plugins
        .filter((p) => !failed.includes(p.name))
        .map((p) => p.name)
        .join(', ')}`,
    );
}

/** The `msg` of a JSON log line (the line itself if it is not one). */
function loggedMessage(line: string): string {
  try {
    const msg = (JSON.parse(line) as { msg?: unknown }).msg;
    if (typeof msg === 'string') return msg;
  } catch {}
  return line.trim();
}

function duplicates(values: readonly string[]): string[] {
  return [...new Set(values.filter((v, i) => values.indexOf(v) !== i))];
}

function text(value: unknown): string | undefined {
  if (typeof value === 'number') return String(value);
  return typeof value === 'string' && value !== '' ? value : undefined;
}
