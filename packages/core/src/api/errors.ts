/**
 * WeChat answered a call with a non-zero errcode (or the call failed for good). The access
 * token never appears here: `endpoint` is the path without its query.
 */
export class WeChatApiError extends Error {
  override readonly name = 'WeChatApiError';
  constructor(
    readonly endpoint: string,
    readonly errcode: number,
    readonly errmsg: string,
  ) {
    super(`${endpoint}: errcode ${errcode}: ${errmsg}`);
  }
}

/** errcodes that mean "this access token is no good": drop it, fetch a new one, retry once. */
export const TOKEN_ERRCODES: ReadonlySet<number> = new Set([40001, 40014, 42001]);

/** KF: the session is held by a human servicer (or ended), so the bot may not send. */
export const KF_SESSION_NOT_ALLOWED = 95018;

/** What a call to `endpoint` throws when got could not be loaded: nothing was sent, the caller may try again. */
export function gotUnavailable(endpoint: string, error: unknown): WeChatApiError {
  return new WeChatApiError(endpoint, -1, `request failed: got could not be loaded (${error instanceof Error ? error.message : String(error)})`);
}
