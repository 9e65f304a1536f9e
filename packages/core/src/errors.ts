import { WxCryptoError, WxCryptoErrorCode } from './crypto/errors.ts';
import { XmlError } from './xml.ts';

/** A callback was refused; `status` is the HTTP status and `reason` the short body. */
export class ChannelError extends Error {
  override readonly name = 'ChannelError';
  constructor(
    readonly status: number,
    readonly reason: string,
  ) {
    super(reason);
  }
}

/** Maps any error from a callback to an HTTP status and a short reason safe to show. */
export function httpErrorOf(error: unknown): { status: number; reason: string } | undefined {
  if (error instanceof ChannelError) return { status: error.status, reason: error.reason };
  if (error instanceof WxCryptoError) {
    const unauthorized = error.code === WxCryptoErrorCode.ValidateSignatureError || error.code === WxCryptoErrorCode.ValidateReceiveIdError;
    return { status: unauthorized ? 401 : 400, reason: `${error.message} (${error.code})` };
  }
  if (error instanceof XmlError) return { status: 400, reason: error.message };
  const status = (error as { status?: unknown } | null)?.status;
  if (typeof status === 'number' && status >= 400 && status < 500) {
    return { status, reason: status === 413 ? 'request body too large' : (error as Error).message };
  }
  return undefined;
}
