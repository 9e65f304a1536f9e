import { existsSync, readFileSync } from 'node:fs';
import { relative, resolve } from 'node:path';
import { decodeEncodingAESKey } from '@wxbot/core/protocol';
import type { Channel, DevCredentials } from '@wxbot/core';
import type { PeerKind, PeerMode } from '@wxbot/testing';
import { ConfigNotFoundError, loadConfig, releaseConfig } from './loadConfig.ts';
import { resolvePort } from './port.ts';

/** Channel kinds `wxbot simulate` can play WeChat (or WeCom) for. */
export type SimulateKind = PeerKind | 'wecomAiBot';
export const PEER_KINDS: readonly SimulateKind[] = ['officialAccount', 'wecomApp', 'wecomKf', 'wecomAiBot'];

/** Default callback paths, as the channel factories of @wxbot/core set them. */
const DEFAULT_PATHS: Record<SimulateKind, string> = { officialAccount: '/wx', wecomApp: '/wecom/callback', wecomKf: '/wecom/kf', wecomAiBot: '/wecom/aibot' };

/** Where dev mode keeps the credentials it made up (see loadDevCredentials). */
export const DEV_CREDENTIALS_FILE = '.wxbot/dev.json';

/** The simulate flags that say which bot to talk to and with which credentials. */
export interface TargetFlags {
  url?: string;
  /** A channel kind, or (with a config) a channel name. */
  channel?: string;
  path?: string;
  mode?: string;
  token?: string;
  aesKey?: string;
  receiveId?: string;
  agentId?: string;
  secret?: string;
  config?: string;
  /** --port, for the rule shared with `wxbot start` (see port.ts). */
  port?: string;
}

/** Everything needed to sign, encrypt and post a callback as WeChat would. */
export interface SimulateTarget {
  kind: SimulateKind;
  /** The channel's name in the config, or its kind. */
  name: string;
  callbackUrl: string;
  token: string;
  encodingAESKey?: string;
  /** AppID (Official Account) or CorpID (WeCom app, KF); "" for the AI bot. */
  receiveId: string;
  agentId?: string;
  /** The API secret, for the fake API's token endpoint (--fake-api). */
  secret?: string;
  /** The channel's API base in the config (`apiBaseUrl`): where the bot sends, so where --fake-api listens. */
  apiBaseUrl?: string;
  mode: PeerMode;
  /** Where the credentials came from, for the header line (never the credentials). */
  source: string;
}

/** Credentials before the flags are laid over them. */
interface Base {
  kind: SimulateKind;
  name: string;
  path: string;
  token?: string;
  encodingAESKey?: string;
  receiveId?: string;
  agentId?: string;
  secret?: string;
  apiBaseUrl?: string;
  /** The config's `port`, if it has one. */
  configPort?: unknown;
  source: string;
}

/**
 * Works out the channel and credentials to simulate: the config's channel (found as
 * `wxbot start` finds it, or `--config`), else dev mode's `.wxbot/dev.json`, with each flag
 * given laid over it (to try a wrong token, say); flags alone when there is neither.
 */
export async function resolveTarget(flags: TargetFlags, cwd = process.cwd()): Promise<SimulateTarget> {
  let base: Base | undefined;
  try {
    base = (await fromConfig(flags, cwd)) ?? fromDevFile(flags, cwd);
  } catch (error) {
    // With --token and no --config the flags may be all there is to it: a config here that
    // lacks this channel (or does not load) is not the one being simulated.
    if (flags.token === undefined || flags.config !== undefined) throw error;
  }
  if (!base && flags.token === undefined) {
    throw new Error(
      "no credentials to sign with: pass --token (and --aes-key, --receive-id), or --config FILE, or run it where `wxbot start` runs (bot.config.ts, or dev mode's .wxbot/dev.json)",
    );
  }
  base ??= fromFlags(flags);

  const kind = base.kind;
  const token = flags.token ?? base.token;
  const encodingAESKey = (flags.aesKey ?? base.encodingAESKey) || undefined;
  if (!token) {
    const ws = kind === 'wecomAiBot' ? ' (an AI bot in WebSocket mode only has no callback URL to simulate: give it token and encodingAESKey)' : '';
    throw new Error(`no token for channel "${base.name}": pass --token${ws}`);
  }
  if (kind !== 'officialAccount' && !encodingAESKey) throw new Error(`${kind} callbacks are always encrypted: pass --aes-key`);
  if (encodingAESKey) {
    try {
      decodeEncodingAESKey(encodingAESKey);
    } catch (error) {
      throw new Error(`the EncodingAESKey of "${base.name}" is not usable: ${(error as Error).message}`);
    }
  }

  const mode = modeOf(kind, flags.mode, encodingAESKey);
  // The AI bot encrypts with an empty receiveid.
  let receiveId = kind === 'wecomAiBot' ? '' : (flags.receiveId ?? base.receiveId ?? '');
  if (!receiveId && kind !== 'wecomAiBot') {
    if (mode !== 'plain') throw new Error(`encrypted callbacks carry the ${kind === 'officialAccount' ? 'AppID' : 'CorpID'}: pass --receive-id`);
    receiveId = 'gh_simulate'; // plain mode only puts it in ToUserName, which the bot does not check
  }

  return {
    kind,
    name: base.name,
    callbackUrl: callbackUrl(flags.url, flags.path ?? base.path, flags.url === undefined ? resolvePort(flags.port, base.configPort).port : undefined),
    token,
    encodingAESKey,
    receiveId,
    agentId: flags.agentId ?? base.agentId,
    secret: flags.secret ?? base.secret,
    apiBaseUrl: base.apiBaseUrl,
    mode,
    source: overridden(flags) && base.source !== 'flags' ? `${base.source} + flags` : base.source,
  };
}

function overridden(flags: TargetFlags): boolean {
  return [flags.token, flags.aesKey, flags.receiveId, flags.agentId, flags.secret].some((value) => value !== undefined);
}

function modeOf(kind: SimulateKind, flag: string | undefined, key: string | undefined): PeerMode {
  if (flag !== undefined && flag !== 'plain' && flag !== 'safe' && flag !== 'compat') throw new Error(`--mode must be plain, safe or compat (got "${flag}")`);
  if (kind !== 'officialAccount') {
    if (flag === 'plain' || flag === 'compat') throw new Error(`--mode ${flag} is for Official Accounts: ${kind} callbacks are always encrypted`);
    return 'safe';
  }
  const mode = flag ?? (key ? 'safe' : 'plain');
  if (mode !== 'plain' && !key) throw new Error(`--mode ${mode} encrypts: pass --aes-key (or configure the channel's encodingAESKey)`);
  return mode;
}

function kindOf(flag: string | undefined): SimulateKind {
  const kind = (flag ?? 'officialAccount') as SimulateKind;
  if (!PEER_KINDS.includes(kind)) throw new Error(`--channel must be one of ${PEER_KINDS.join(', ')} (got "${flag}")`);
  return kind;
}

function fromFlags(flags: TargetFlags): Base {
  const kind = kindOf(flags.channel);
  return { kind, name: kind, path: DEFAULT_PATHS[kind], source: 'flags' };
}

/** The config's channel matching --channel (name or kind) and --path; undefined when there is no config. */
async function fromConfig(flags: TargetFlags, cwd: string): Promise<Base | undefined> {
  let loaded: Awaited<ReturnType<typeof loadConfig>>;
  try {
    loaded = await loadConfig(flags.config, cwd);
  } catch (error) {
    // Without --config a missing file just means "try dev mode"; a broken one is reported.
    if (error instanceof ConfigNotFoundError && flags.config === undefined) return undefined;
    throw error;
  }
  const { config, filepath } = loaded;
  await releaseConfig(config);
  const channels: readonly Channel[] = Array.isArray(config.channels) ? config.channels : [];
  const channel = channels.find(
    (c) => (flags.channel === undefined || c.name === flags.channel || c.kind === flags.channel) && (flags.path === undefined || c.path === flags.path),
  );
  if (!channel) {
    const wanted = [flags.channel && `--channel ${flags.channel}`, flags.path && `--path ${flags.path}`].filter(Boolean).join(' ');
    const list = channels.map((c) => `${c.name} (${c.kind}, ${c.path})`).join(', ') || 'none';
    throw new Error(`no channel in ${relative(cwd, filepath) || filepath} matches ${wanted || 'anything'}; configured: ${list}`);
  }
  if (!PEER_KINDS.includes(channel.kind as SimulateKind)) throw new Error(`channel "${channel.name}" is a ${channel.kind} channel, which simulate cannot speak for`);
  const kind = channel.kind as SimulateKind;
  // The built-in channels keep their constructor options public; read them defensively all the same.
  const options = ((channel as { options?: unknown }).options ?? {}) as Record<string, unknown>;
  return {
    kind,
    name: channel.name,
    path: channel.path,
    token: text(options['token']),
    encodingAESKey: text(options['encodingAESKey']),
    receiveId: text(kind === 'officialAccount' ? options['appId'] : options['corpId']),
    agentId: text(options['agentId']),
    secret: text(kind === 'officialAccount' ? options['appSecret'] : options['secret']),
    apiBaseUrl: text(options['apiBaseUrl']),
    configPort: config.port,
    source: `config ${relative(cwd, filepath) || filepath}`,
  };
}

/** Dev mode's generated credentials, which both dev channels share. */
function fromDevFile(flags: TargetFlags, cwd: string): Base | undefined {
  const file = resolve(cwd, DEV_CREDENTIALS_FILE);
  if (!existsSync(file)) return undefined;
  const dev = JSON.parse(readFileSync(file, 'utf8')) as Partial<DevCredentials>;
  const kind = kindOf(flags.channel);
  if (kind === 'wecomKf') throw new Error('dev mode has no wecomKf channel: pass --token, --aes-key, --receive-id (and --secret) or --config FILE');
  // (An AI bot config in dev mode, as examples/aibot-llm, signs with the same token and key.)
  return {
    kind,
    name: kind,
    path: DEFAULT_PATHS[kind],
    token: dev.token,
    encodingAESKey: dev.encodingAESKey,
    receiveId: kind === 'officialAccount' ? dev.appId : dev.corpId,
    source: DEV_CREDENTIALS_FILE,
  };
}

/**
 * The callback URL: `--url` is the server's origin, and the channel path is added to it;
 * a `--url` that already has a path is taken as the whole callback URL.
 */
function callbackUrl(flag: string | undefined, path: string, port: number | undefined): string {
  const url = new URL(flag ?? `http://127.0.0.1:${port}`);
  if (url.pathname !== '/' && flag !== undefined) return flag;
  return `${url.origin}${path.startsWith('/') ? path : `/${path}`}`;
}

function text(value: unknown): string | undefined {
  if (typeof value === 'number') return String(value);
  return typeof value === 'string' && value !== '' ? value : undefined;
}
