import { aes256CbcNoPadding } from './cbc.ts';
import { WxCryptoError, WxCryptoErrorCode } from './errors.ts';

/**
 * Decrypts a file the WeCom AI bot links to (image, file, video URLs; valid 5 minutes).
 * AES-256-CBC with `key` (the bot's decoded EncodingAESKey in callback mode, the per-URL
 * `aeskey` in WebSocket mode), iv = key[0..16], PKCS#7 padding up to 32 bytes. Unlike
 * callbacks there is no random prefix, length field or receiveid.
 */
export function decryptAiBotMedia(data: Buffer, key: Buffer): Buffer {
  if (key.length !== 32) throw new WxCryptoError(WxCryptoErrorCode.IllegalAesKey, 'media key must be 32 bytes');
  if (data.length === 0 || data.length % 16 !== 0) {
    throw new WxCryptoError(WxCryptoErrorCode.DecryptAESError, 'encrypted media is not a whole number of AES blocks');
  }
  let plain: Buffer;
  try {
    plain = aes256CbcNoPadding('decrypt', key, key.subarray(0, 16), data);
  } catch {
    throw new WxCryptoError(WxCryptoErrorCode.DecryptAESError, 'media AES decryption failed');
  }
  const pad = plain[plain.length - 1] ?? 0;
  if (pad < 1 || pad > 32 || pad > plain.length) throw new WxCryptoError(WxCryptoErrorCode.IllegalBuffer, 'invalid PKCS#7 padding in media');
  return plain.subarray(0, plain.length - pad);
}
