import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { generateEncodingAESKey, generateToken } from './crypto/keys.ts';

/** Credentials that dev mode made up so the bot runs with no WeChat account. */
export interface DevCredentials {
  token: string;
  encodingAESKey: string;
  appId: string;
  corpId: string;
}

/**
 * Dev-mode credentials, generated once and kept in `file` (default `.wxbot/dev.json`) so a
 * restart keeps the same token and key, and `wxbot simulate` can read them.
 */
export function loadDevCredentials(file = '.wxbot/dev.json'): DevCredentials {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as DevCredentials;
  } catch {
    const credentials: DevCredentials = {
      token: generateToken(),
      encodingAESKey: generateEncodingAESKey(),
      appId: 'wxdev0000000000000',
      corpId: 'wwdev0000000000000',
    };
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, `${JSON.stringify(credentials, null, 2)}\n`, { mode: 0o600 });
    return credentials;
  }
}
