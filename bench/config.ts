/** Credentials shared by the bench's load generator and its servers. */
export const BENCH = {
  token: 'benchtoken',
  corpId: 'wwbench000000000',
  encodingAESKey: 'jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C',
};
