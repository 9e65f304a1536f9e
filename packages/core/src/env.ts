/**
 * The default bot's environment variables, parsed with a schema. A channel is either fully
 * configured or an error naming what is missing: a half-configured channel used to fall back
 * to dev mode (made-up credentials) or start with an empty CorpID that refused every callback.
 */
import { z } from 'zod';
import type { OfficialAccountOptions } from './channels/officialAccount.ts';
import type { WecomAppOptions } from './channels/wecomApp.ts';
import type { WecomKfOptions } from './channels/wecomKf.ts';
import type { WecomAiBotOptions } from './channels/aibot/channel.ts';
import type { ChannelKind } from './message/types.ts';

/** One problem with the environment: the variable and what is wrong. */
export interface EnvIssue {
  readonly variable: string;
  readonly message: string;
}

/** The environment cannot configure the bot; `issues` lists every problem, not only the first. */
export class EnvConfigError extends Error {
  override readonly name = 'EnvConfigError';
  constructor(readonly issues: readonly EnvIssue[]) {
    super(`environment: ${issues.map((i) => `${i.variable}: ${i.message}`).join('; ')}`);
  }
}

/** What the default bot is built from, after defaults. */
export interface EnvConfig {
  /** From PORT; undefined when unset (the CLI's port rule then decides). */
  port: number | undefined;
  host: string | undefined;
  /** Options of each channel the environment configures completely. */
  officialAccount?: OfficialAccountOptions;
  wecomApp?: WecomAppOptions;
  wecomKf?: WecomKfOptions;
  wecomAiBot?: WecomAiBotOptions;
  redisUrl?: string;
  /** WX_API_BASE and WECOM_API_BASE, also when no channel is configured (dev mode sends there). */
  wxApiBase?: string;
  wecomApiBase?: string;
  /** Present when OPENAI_API_KEY or OPENAI_BASE_URL is set. */
  openai?: { apiKey?: string; baseURL?: string; model?: string; transcribeModel?: string; systemPrompt?: string };
  agentToken?: string;
  faqFile?: string;
  logLevel: string;
  logFormat: 'json' | 'pretty' | undefined;
}

/** An unset variable and an empty one mean the same: `FOO=` in a .env file turns FOO off. */
const optional = <T extends z.ZodType>(schema: T) =>
  z.preprocess((value) => (typeof value === 'string' && value.trim() === '' ? undefined : typeof value === 'string' ? value.trim() : value), schema.optional());

const text = optional(z.string());
const aesKey = optional(z.string().regex(/^[A-Za-z0-9+/]{43}$/, 'must be 43 letters and digits (the EncodingAESKey from the console, or `wxbot keygen`)'));
const httpUrl = optional(z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }));
const flag = optional(z.enum(['1', '0', 'true', 'false', 'yes', 'no'], { error: 'must be 1 or 0' })).transform((v) => v === '1' || v === 'true' || v === 'yes');

const schema = z.object({
  PORT: optional(z.coerce.number({ error: 'must be a port number' }).int('must be a port number').min(0, 'must be 0–65535').max(65535, 'must be 0–65535')),
  HOST: text,
  WX_APP_ID: text,
  WX_APP_SECRET: text,
  WX_TOKEN: text,
  WX_AES_KEY: aesKey,
  WX_ALLOW_PLAIN: flag,
  WX_API_BASE: httpUrl,
  WECOM_CORP_ID: text,
  WECOM_AGENT_ID: optional(
    z.coerce.number({ error: "must be the app's AgentId (a number)" }).int("must be the app's AgentId (a number)").positive("must be the app's AgentId (a number)"),
  ),
  WECOM_SECRET: text,
  WECOM_TOKEN: text,
  WECOM_AES_KEY: aesKey,
  WECOM_API_BASE: httpUrl,
  WECOM_KF_SECRET: text,
  WECOM_KF_TOKEN: text,
  WECOM_KF_AES_KEY: aesKey,
  WECOM_AIBOT_TOKEN: text,
  WECOM_AIBOT_AES_KEY: aesKey,
  WECOM_AIBOT_ID: text,
  WECOM_AIBOT_SECRET: text,
  WECOM_AIBOT_WS_URL: optional(z.url({ protocol: /^wss?$/, error: 'must be a ws:// or wss:// URL' })),
  WECOM_AIBOT_SHOW_THINKING: flag,
  REDIS_URL: optional(z.url({ protocol: /^rediss?$/, error: 'must be a redis:// or rediss:// URL' })),
  OPENAI_API_KEY: text,
  OPENAI_BASE_URL: httpUrl,
  OPENAI_MODEL: text,
  OPENAI_TRANSCRIBE_MODEL: text,
  LLM_SYSTEM_PROMPT: text,
  AGENT_TOKEN: optional(z.string().min(16, 'must be at least 16 characters')),
  FAQ_FILE: text,
  LOG_LEVEL: optional(z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], { error: 'must be fatal, error, warn, info, debug, trace or silent' })),
  LOG_FORMAT: optional(z.enum(['json', 'pretty'], { error: 'must be json or pretty' })),
});

type Parsed = z.output<typeof schema>;

/** The channel kinds `envConfig()` configures. */
type EnvChannelKind = 'officialAccount' | 'wecomApp' | 'wecomKf' | 'wecomAiBot';

/** Where an option comes from: its variable, or several where the first one set wins (KF's token falls back to the app's). */
type Source = keyof Parsed | readonly (keyof Parsed)[];
type SourceValue<S> = S extends readonly (infer V extends keyof Parsed)[] ? Parsed[V] : S extends keyof Parsed ? Parsed[S] : never;

/**
 * The variable each channel option reads. This one table makes both the options (`envConfig`)
 * and their names (`envVariablesOf`, which `wxbot check` shows), so the two cannot disagree.
 */
const CHANNEL_SOURCES = {
  officialAccount: { appId: 'WX_APP_ID', appSecret: 'WX_APP_SECRET', token: 'WX_TOKEN', encodingAESKey: 'WX_AES_KEY', allowPlain: 'WX_ALLOW_PLAIN', apiBaseUrl: 'WX_API_BASE' },
  wecomApp: { corpId: 'WECOM_CORP_ID', agentId: 'WECOM_AGENT_ID', secret: 'WECOM_SECRET', token: 'WECOM_TOKEN', encodingAESKey: 'WECOM_AES_KEY', apiBaseUrl: 'WECOM_API_BASE' },
  wecomKf: {
    corpId: 'WECOM_CORP_ID',
    secret: 'WECOM_KF_SECRET',
    token: ['WECOM_KF_TOKEN', 'WECOM_TOKEN'],
    encodingAESKey: ['WECOM_KF_AES_KEY', 'WECOM_AES_KEY'],
    apiBaseUrl: 'WECOM_API_BASE',
  },
  wecomAiBot: { token: 'WECOM_AIBOT_TOKEN', encodingAESKey: 'WECOM_AIBOT_AES_KEY', botId: 'WECOM_AIBOT_ID', secret: 'WECOM_AIBOT_SECRET', wsUrl: 'WECOM_AIBOT_WS_URL' },
} as const satisfies { [K in EnvChannelKind]: { [O in keyof NonNullable<EnvConfig[K]>]?: Source } };

/** A channel's options as its variables set them (undefined where unset), and the variable of each. */
interface ChannelEnv<K extends EnvChannelKind> {
  readonly values: { -readonly [O in keyof (typeof CHANNEL_SOURCES)[K]]: SourceValue<(typeof CHANNEL_SOURCES)[K][O]> };
  readonly variables: Readonly<Record<string, string>>;
}

/** Reads a channel's options from the parsed environment through {@link CHANNEL_SOURCES}. */
function channelEnv<K extends EnvChannelKind>(e: Parsed, kind: K): ChannelEnv<K> {
  const values: Record<string, unknown> = {};
  const variables: Record<string, string> = {};
  for (const [option, source] of Object.entries(CHANNEL_SOURCES[kind]) as [string, Source][]) {
    const names = typeof source === 'string' ? [source] : source;
    // The first one set (with none set the channel is incomplete and never made: the last, unused).
    const variable = names.find((name) => e[name] !== undefined) ?? names[names.length - 1]!;
    values[option] = e[variable];
    variables[option] = variable;
  }
  return { values: values as ChannelEnv<K>['values'], variables };
}

/** What the environment made: the config, and the variable each channel option came from. */
interface ParsedEnv {
  readonly config: EnvConfig;
  readonly variables: { [K in EnvChannelKind]?: Readonly<Record<string, string>> };
}

const CHANNEL_KINDS: Readonly<Record<EnvChannelKind, true>> = { officialAccount: true, wecomApp: true, wecomKf: true, wecomAiBot: true };

/**
 * The environment variable each option of a channel's `options` holds, judged by value: the
 * options `envConfig(env)` makes for a channel of `kind`, compared one by one with `options`
 * (`{ appId: 'WX_APP_ID', token: 'WX_TOKEN', … }`). A config that spreads, copies or rebuilds
 * them keeps the names of the options it kept; an option it changed has none. Empty when the
 * environment configures no channel of that kind, or does not parse. `wxbot check` names
 * them: "appId (WX_APP_ID) is empty".
 */
export function envVariablesOf(kind: ChannelKind, options: unknown, env: Record<string, string | undefined> = process.env): Readonly<Record<string, string>> {
  if (!options || typeof options !== 'object' || !Object.hasOwn(CHANNEL_KINDS, kind)) return {};
  let parsed: ParsedEnv;
  try {
    parsed = parseEnv(env);
  } catch {
    return {};
  }
  const made = parsed.config[kind as EnvChannelKind] as Record<string, unknown> | undefined;
  const variables = parsed.variables[kind as EnvChannelKind] as Readonly<Record<string, string>> | undefined;
  if (!made || !variables) return {};
  const given = options as Record<string, unknown>;
  // Same value as the environment made (undefined too: an option the variable would set).
  return Object.fromEntries(Object.entries(variables).filter(([option]) => Object.is(given[option], made[option])));
}

/** Names of the set variables among `names`. */
const setOf = (env: Parsed, names: readonly (keyof Parsed)[]) => names.filter((name) => env[name] !== undefined && env[name] !== false);

/** "X is set" / "X and Y are set" / "X, Y and Z are set". */
function isSet(names: readonly string[]): string {
  const list = names.length === 1 ? names[0] : `${names.slice(0, -1).join(', ')} and ${names.at(-1)}`;
  return `${list} ${names.length === 1 ? 'is' : 'are'} set`;
}

/** Adds "missing" issues for one channel: `needs` must be set once any of `triggers` is. */
function requireAll(
  issues: EnvIssue[],
  env: Parsed,
  channel: string,
  triggers: readonly (keyof Parsed)[],
  needs: readonly { variable: keyof Parsed | string; value: unknown; why?: string }[],
): boolean {
  const set = setOf(env, triggers);
  if (set.length === 0) return false;
  let complete = true;
  for (const need of needs) {
    if (need.value !== undefined) continue;
    complete = false;
    issues.push({ variable: String(need.variable), message: `missing: ${isSet(set)}, so the ${channel} channel needs it${need.why ? ` (${need.why})` : ''}` });
  }
  return complete;
}

/**
 * Parses the default bot's environment (`process.env` by default). Returns the settings, or
 * throws {@link EnvConfigError} listing every problem: a malformed value, or a channel with
 * some of its variables set but not all of them (the message names the missing one).
 *
 * | channel | on when any is set | needs |
 * | --- | --- | --- |
 * | Official Account | WX_APP_ID, WX_TOKEN, WX_AES_KEY, WX_APP_SECRET | WX_TOKEN; WX_APP_ID with a key or secret |
 * | WeCom app | WECOM_TOKEN, WECOM_AES_KEY, WECOM_AGENT_ID, WECOM_SECRET | WECOM_CORP_ID, WECOM_TOKEN, WECOM_AES_KEY; WECOM_AGENT_ID with a secret |
 * | Customer Service | WECOM_KF_SECRET, WECOM_KF_TOKEN, WECOM_KF_AES_KEY | WECOM_CORP_ID, WECOM_KF_SECRET, a token and key (KF's or the app's) |
 * | WeCom AI bot | WECOM_AIBOT_TOKEN, WECOM_AIBOT_AES_KEY, WECOM_AIBOT_ID, WECOM_AIBOT_SECRET | callback mode: WECOM_AIBOT_TOKEN, WECOM_AIBOT_AES_KEY; WebSocket mode (a secret): WECOM_AIBOT_ID |
 */
export function envConfig(env: Record<string, string | undefined> = process.env): EnvConfig {
  return parseEnv(env).config;
}

/** {@link envConfig}, and the variable each channel option came from (see {@link envVariablesOf}). */
function parseEnv(env: Record<string, string | undefined>): ParsedEnv {
  const result = schema.safeParse(env);
  if (!result.success) {
    throw new EnvConfigError(result.error.issues.map((issue) => ({ variable: String(issue.path[0] ?? '(environment)'), message: issue.message })));
  }
  const e = result.data;
  const issues: EnvIssue[] = [];
  const config: EnvConfig = { port: e.PORT, host: e.HOST, logLevel: e.LOG_LEVEL ?? 'info', logFormat: e.LOG_FORMAT };
  const variables: ParsedEnv['variables'] = {};

  const oaTriggers = ['WX_APP_ID', 'WX_TOKEN', 'WX_AES_KEY', 'WX_APP_SECRET'] as const;
  const oaNeedsId = e.WX_AES_KEY !== undefined || e.WX_APP_SECRET !== undefined;
  const oaComplete = requireAll(issues, e, 'Official Account', oaTriggers, [
    { variable: 'WX_TOKEN', value: e.WX_TOKEN, why: 'the Token of 服务器配置' },
    ...(oaNeedsId ? [{ variable: 'WX_APP_ID', value: e.WX_APP_ID, why: e.WX_AES_KEY ? 'encrypted callbacks carry it' : 'the API needs it with the secret' }] : []),
  ]);
  if (oaComplete) {
    const oa = channelEnv(e, 'officialAccount');
    config.officialAccount = { path: '/wx', ...oa.values, appId: oa.values.appId ?? '', token: oa.values.token!, allowPlain: oa.values.allowPlain ?? false };
    variables.officialAccount = oa.variables;
  }

  const kfTriggers = ['WECOM_KF_SECRET', 'WECOM_KF_TOKEN', 'WECOM_KF_AES_KEY'] as const;
  const kfWanted = setOf(e, kfTriggers).length > 0;
  // WECOM_AES_KEY also serves KF as its fallback: with KF on, it alone does not ask for an app.
  const appTriggers: (keyof Parsed)[] = kfWanted ? ['WECOM_TOKEN', 'WECOM_AGENT_ID', 'WECOM_SECRET'] : ['WECOM_TOKEN', 'WECOM_AES_KEY', 'WECOM_AGENT_ID', 'WECOM_SECRET'];
  const appComplete = requireAll(issues, e, 'WeCom app', appTriggers, [
    { variable: 'WECOM_CORP_ID', value: e.WECOM_CORP_ID, why: 'encrypted callbacks carry it' },
    { variable: 'WECOM_TOKEN', value: e.WECOM_TOKEN },
    { variable: 'WECOM_AES_KEY', value: e.WECOM_AES_KEY, why: 'WeCom callbacks are always encrypted' },
    ...(e.WECOM_SECRET !== undefined ? [{ variable: 'WECOM_AGENT_ID', value: e.WECOM_AGENT_ID, why: 'message/send needs it with the secret' }] : []),
  ]);
  if (appComplete) {
    const app = channelEnv(e, 'wecomApp');
    config.wecomApp = { path: '/wecom/callback', ...app.values, corpId: app.values.corpId!, token: app.values.token!, encodingAESKey: app.values.encodingAESKey! };
    variables.wecomApp = app.variables;
  }

  const kf = channelEnv(e, 'wecomKf');
  const kfToken = kf.values.token;
  const kfKey = kf.values.encodingAESKey;
  const kfComplete = requireAll(issues, e, 'Customer Service (KF)', kfTriggers, [
    { variable: 'WECOM_CORP_ID', value: e.WECOM_CORP_ID, why: 'encrypted callbacks carry it' },
    { variable: 'WECOM_KF_SECRET', value: e.WECOM_KF_SECRET, why: 'kf/sync_msg and kf/send_msg need it' },
    { variable: 'WECOM_KF_TOKEN', value: kfToken, why: 'or WECOM_TOKEN' },
    { variable: 'WECOM_KF_AES_KEY', value: kfKey, why: 'or WECOM_AES_KEY' },
  ]);
  if (kfComplete) {
    config.wecomKf = { path: '/wecom/kf', ...kf.values, corpId: kf.values.corpId!, secret: kf.values.secret!, token: kfToken!, encodingAESKey: kfKey! };
    variables.wecomKf = kf.variables;
  }

  // Callback mode needs the token and key; WebSocket mode (a secret) needs the bot id; both may run.
  const aibotCallback = e.WECOM_AIBOT_TOKEN !== undefined || e.WECOM_AIBOT_AES_KEY !== undefined || e.WECOM_AIBOT_SECRET === undefined;
  const aibotComplete = requireAll(
    issues,
    e,
    'WeCom AI bot',
    ['WECOM_AIBOT_TOKEN', 'WECOM_AIBOT_AES_KEY', 'WECOM_AIBOT_ID', 'WECOM_AIBOT_SECRET'],
    [
      ...(aibotCallback
        ? [
            { variable: 'WECOM_AIBOT_TOKEN', value: e.WECOM_AIBOT_TOKEN, why: 'the Token of its API settings (or WECOM_AIBOT_SECRET for the WebSocket mode)' },
            { variable: 'WECOM_AIBOT_AES_KEY', value: e.WECOM_AIBOT_AES_KEY, why: 'its callbacks are always encrypted' },
          ]
        : []),
      ...(e.WECOM_AIBOT_SECRET !== undefined ? [{ variable: 'WECOM_AIBOT_ID', value: e.WECOM_AIBOT_ID, why: 'the WebSocket mode logs in with the bot id and secret' }] : []),
    ],
  );
  if (aibotComplete) {
    const aibot = channelEnv(e, 'wecomAiBot');
    // `stream` is an object made afresh each parse, so no variable names it (envVariablesOf compares by identity).
    config.wecomAiBot = { path: '/wecom/aibot', ...aibot.values, stream: { showThinking: e.WECOM_AIBOT_SHOW_THINKING ?? false } };
    variables.wecomAiBot = aibot.variables;
  }

  // A CorpID on its own configures nothing: say which variable would.
  if (e.WECOM_CORP_ID !== undefined && !appComplete && !kfWanted && setOf(e, appTriggers).length === 0) {
    issues.push({
      variable: 'WECOM_TOKEN',
      message: 'missing: WECOM_CORP_ID is set but no WeCom channel is: set WECOM_TOKEN and WECOM_AES_KEY (WeCom app) or WECOM_KF_SECRET (Customer Service)',
    });
  }
  if (issues.length > 0) throw new EnvConfigError(issues);

  if (e.REDIS_URL) config.redisUrl = e.REDIS_URL;
  if (e.WX_API_BASE) config.wxApiBase = e.WX_API_BASE;
  if (e.WECOM_API_BASE) config.wecomApiBase = e.WECOM_API_BASE;
  if (e.OPENAI_API_KEY || e.OPENAI_BASE_URL) {
    config.openai = { apiKey: e.OPENAI_API_KEY, baseURL: e.OPENAI_BASE_URL, model: e.OPENAI_MODEL, transcribeModel: e.OPENAI_TRANSCRIBE_MODEL, systemPrompt: e.LLM_SYSTEM_PROMPT };
  }
  if (e.AGENT_TOKEN) config.agentToken = e.AGENT_TOKEN;
  if (e.FAQ_FILE) config.faqFile = e.FAQ_FILE;
  return { config, variables };
}
