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
