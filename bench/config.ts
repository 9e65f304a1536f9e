/** Credentials shared by the bench's load generator and its servers (an Official Account). */
export const BENCH = {
  token: 'benchtoken',
  appId: 'wxbench0000000000',
  /** ToUserName of the callbacks (the account's original id). */
  accountId: 'gh_bench00000000',
  encodingAESKey: 'jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C',
};

/** Plain mode (signature over token, timestamp, nonce) or safe mode (encrypted body). */
export type CryptoMode = 'plain' | 'safe';

/**
 * The environment bot.config.ts reads to make the default bot of the benches: an Official
 * Account with the bench's credentials (encrypted in safe mode), the agent console on, info logs
 * (`warn` for the attribution variants without the callback line), production mode.
 */
export function defaultBotEnv(mode: CryptoMode, logLevel: 'info' | 'warn' = 'info'): Record<string, string> {
  return {
    WX_TOKEN: BENCH.token,
    WX_APP_ID: BENCH.appId,
    WX_AES_KEY: mode === 'safe' ? BENCH.encodingAESKey : '',
    AGENT_TOKEN: 'bench-agent-token',
    LOG_LEVEL: logLevel,
    NODE_ENV: 'production',
  };
}
