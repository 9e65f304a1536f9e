import { TOKEN_ERRCODES, WeChatApiError } from '@wxbot/core/protocol';

/**
 * What to do with a failed send:
 * - `retry`: worth another attempt later (WeChat busy or rate-limited, the token was bad, the
 *   request provably never left, or it may have left but the send is idempotent);
 * - `fail`: no later attempt can succeed, or a repeat could deliver twice; the job fails at
 *   once, with `reason` (kept on the dead job and counted in the metrics).
 *
 * `label`: what the failure metrics count it as when `reason` carries an error's own text (an
 * error other than WeChat's: its type), so that no text makes a label value of its own.
 */
export type SendVerdict =
  | { readonly action: 'retry'; readonly reason: string; readonly label?: string }
  | { readonly action: 'fail'; readonly reason: string; readonly label?: string };

/** WeChat says "busy" or "too fast": -1 system busy, 45009 API quota, 45011 too frequent, 45033 KF send quota. */
const TRANSIENT_ERRCODES: ReadonlySet<number> = new Set([-1, 45009, 45011, 45033]);
/** Errors that prove the request never reached WeChat (so a retry cannot deliver twice). */
const NOT_SENT = /request failed: (ECONNREFUSED|ENOTFOUND|EAI_AGAIN|EHOSTUNREACH|ENETUNREACH)\b/;
/** Names for the permanent errcodes people meet most, for reasons and metrics. */
const PERMANENT_NAMES: Readonly<Record<number, string>> = {
  95018: 'a human servicer holds the KF session (or it ended)',
  45015: 'past the 48-hour reply window',
  40003: 'invalid openid',
  40096: 'invalid external userid',
  45002: 'content too long',
  44004: 'empty content',
  40008: 'invalid message type',
  40007: 'invalid media_id',
  41050: 'welcome code expired or used',
};

/**
 * Classifies a send's failure. `idempotent`: WeChat recognises a repeat of this send (KF
 * with a client msgid), so even an ambiguous failure (a timeout after the request left, a
 * 5xx) may be retried; for other sends it fails rather than risk a double message.
 */
export function classifySendError(error: unknown, idempotent: boolean): SendVerdict {
  if (!(error instanceof WeChatApiError)) {
    return error instanceof Error
      ? { action: 'fail', reason: `error: ${error.message}`, label: `error: ${error.name}` }
      : { action: 'fail', reason: `error: ${String(error)}`, label: 'error' };
  }
  const { errcode, errmsg } = error;
  if (errcode === -1 && errmsg.startsWith('request failed:')) {
    if (NOT_SENT.test(errmsg)) return { action: 'retry', reason: `network: ${errmsg.slice('request failed: '.length)}` };
    return idempotent
      ? { action: 'retry', reason: `ambiguous, idempotent: ${errmsg.slice('request failed: '.length)}` }
      : { action: 'fail', reason: `ambiguous: ${errmsg.slice('request failed: '.length)} (the request may have arrived; not repeated)` };
  }
  if (errcode === -1 && errmsg.startsWith('answer is not JSON')) {
    return idempotent ? { action: 'retry', reason: 'ambiguous, idempotent: answer is not JSON' } : { action: 'fail', reason: `ambiguous: ${errmsg}` };
  }
  if (TRANSIENT_ERRCODES.has(errcode)) return { action: 'retry', reason: `errcode ${errcode}` };
  // The client already fetched a new token and tried once more; a later attempt may succeed.
  if (TOKEN_ERRCODES.has(errcode)) return { action: 'retry', reason: `errcode ${errcode} (token)` };
  const name = PERMANENT_NAMES[errcode];
  return { action: 'fail', reason: `errcode ${errcode}${name ? `: ${name}` : ''}` };
}
