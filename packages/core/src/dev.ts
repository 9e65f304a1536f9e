import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { generateEncodingAESKey, generateToken } from './crypto/keys.ts';

/** Credentials that dev mode made up so the bot runs with no WeChat account. */
export interface DevCredentials {
  token: string;
  encodingAESKey: string;
  appId: string;
  corpId: string;
  /** A token for the agent console (`@wxbot/plugin-handoff`), so dev mode can sign an agent in. */
  agentToken: string;
}

/**
 * Dev-mode credentials, generated once and kept in `file` (default `.wxbot/dev.json`) so a
 * restart keeps the same token, key and agent token, and `wxbot simulate` can read them.
 */
export function loadDevCredentials(file = '.wxbot/dev.json'): DevCredentials {
  let stored: Partial<DevCredentials> = {};
  try {
    stored = JSON.parse(readFileSync(file, 'utf8')) as Partial<DevCredentials>;
  } catch {
    // None yet (or unreadable): make them all up.
  }
  const credentials: DevCredentials = {
    token: stored.token ?? generateToken(),
    encodingAESKey: stored.encodingAESKey ?? generateEncodingAESKey(),
    appId: stored.appId ?? 'wxdev0000000000000',
    corpId: stored.corpId ?? 'wwdev0000000000000',
    agentToken: stored.agentToken ?? generateToken(),
  };
  // A file from an older version lacks the newer fields: they are added, the rest is kept.
  if (Object.keys(credentials).some((key) => stored[key as keyof DevCredentials] === undefined)) {
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, `${JSON.stringify(credentials, null, 2)}\n`, { mode: 0o600 });
  }
  return credentials;
}
