/**
 * Error codes of the WeCom/WeChat sample code (WXBizMsgCrypt), so that log lines and
 * support threads speak the same language as every other SDK.
 */
export const WxCryptoErrorCode = {
  ValidateSignatureError: -40001,
  ParseXmlError: -40002,
  ComputeSignatureError: -40003,
  IllegalAesKey: -40004,
  ValidateReceiveIdError: -40005,
  EncryptAESError: -40006,
  DecryptAESError: -40007,
  IllegalBuffer: -40008,
  EncodeBase64Error: -40009,
  DecodeBase64Error: -40010,
  GenReturnXmlError: -40011,
} as const;

export type WxCryptoErrorCode = (typeof WxCryptoErrorCode)[keyof typeof WxCryptoErrorCode];

/** A callback failed verification or decryption. `code` is the WXBizMsgCrypt error code. */
export class WxCryptoError extends Error {
  override readonly name = 'WxCryptoError';
  constructor(
    readonly code: WxCryptoErrorCode,
    message: string,
  ) {
    super(message);
  }
}
