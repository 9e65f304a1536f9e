/**
 * Dev mode of a config that reads its channels from the environment (the repository's
 * bot.config.ts, a project made by `npm create wxbot`): when no channel is configured, channels
 * on made-up credentials that `wxbot simulate` can sign for, and the agent console's token.
 */
import { wecomAiBot } from './channels/aibot/channel.ts';
import { officialAccount } from './channels/officialAccount.ts';
import type { Channel } from './channels/types.ts';
import { wecomApp } from './channels/wecomApp.ts';
import type { WxbotConfig } from './config.ts';
import { loadDevCredentials } from './dev.ts';
import type { EnvConfig } from './env.ts';

/** Dev mode's made-up API secret: the fake WeChat API of `wxbot simulate --fake-api` accepts it (it reads the config). */
export const DEV_SECRET = 'dev-secret';
/** Where dev mode's active sends go unless WX_API_BASE / WECOM_API_BASE say otherwise: `wxbot simulate --fake-api` listens there. */
export const DEV_FAKE_API = 'http://127.0.0.1:4000';
const DEV_AGENT_ID = 1000002;

/** What {@link devSetup} gives a config. */
export interface DevSetup {
  /** An Official Account on `/wx` and a WeCom app on `/wecom/callback` (plus an AI bot on `/wecom/aibot` when asked). */
  readonly channels: Channel[];
  /** For the config's `devMode`: start-up prints the credentials and the agent console's link. */
  readonly devMode: NonNullable<WxbotConfig['devMode']>;
  /** AGENT_TOKEN of the environment, else the made-up one (kept in .wxbot/dev.json). */
  readonly agentToken: string;
}

/**
 * Dev mode from made-up credentials (`loadDevCredentials`, kept in `.wxbot/dev.json`). The
 * channels get a made-up secret, so active sends (an agent's reply, a late answer) go out: to
 * the fake WeChat API on {@link DEV_FAKE_API} (or `env.wxApiBase` / `env.wecomApiBase`), which
 * `wxbot simulate --fake-api` runs and prints. The agent token is the environment's
 * AGENT_TOKEN (never printed), else a made-up one, printed in the console's link.
 */
export function devSetup(env: Pick<EnvConfig, 'agentToken' | 'wxApiBase' | 'wecomApiBase'>, options: { aiBot?: boolean } = {}): DevSetup {
  const dev = loadDevCredentials();
  const oaApi = env.wxApiBase ?? DEV_FAKE_API;
  const wecomApi = env.wecomApiBase ?? DEV_FAKE_API;
  const keys = { token: dev.token, encodingAESKey: dev.encodingAESKey };
  const channels: Channel[] = [
    officialAccount({ path: '/wx', appId: dev.appId, appSecret: DEV_SECRET, ...keys, apiBaseUrl: oaApi }),
    wecomApp({ path: '/wecom/callback', corpId: dev.corpId, agentId: DEV_AGENT_ID, secret: DEV_SECRET, ...keys, apiBaseUrl: wecomApi }),
  ];
  if (options.aiBot) channels.push(wecomAiBot({ path: '/wecom/aibot', ...keys }));
  return {
    channels,
    devMode: {
      credentials: { ...keys, appId: dev.appId, corpId: dev.corpId, secret: DEV_SECRET, 'WeChat API': `${oaApi} (wxbot simulate --fake-api)` },
      links: { 'agent console': env.agentToken ? '/agent/ (sign in with AGENT_TOKEN)' : `/agent/?token=${dev.agentToken}` },
    },
    agentToken: env.agentToken ?? dev.agentToken,
  };
}
