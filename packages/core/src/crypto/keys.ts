import { randomBytes } from 'node:crypto';
import { WxCryptoError, WxCryptoErrorCode } from './errors.ts';

/**
 * Decodes an EncodingAESKey (43 characters of base64 without its trailing '=') into the
 * 32-byte AES key. Throws -40004 for anything else.
 */
export function decodeEncodingAESKey(encodingAESKey: string): Buffer {
  if (!/^[A-Za-z0-9+/]{43}$/.test(encodingAESKey)) {
    throw new WxCryptoError(WxCryptoErrorCode.IllegalAesKey, 'EncodingAESKey must be 43 base64 characters');
  }
  const key = Buffer.from(`${encodingAESKey}=`, 'base64');
  if (key.length !== 32) {
    throw new WxCryptoError(WxCryptoErrorCode.IllegalAesKey, 'EncodingAESKey does not decode to 32 bytes');
  }
  return key;
}

/** A fresh EncodingAESKey, as the admin consoles generate it (43 base64 characters). */
export function generateEncodingAESKey(): string {
  return randomBytes(32).toString('base64').slice(0, 43);
}

/** A fresh callback token: 32 alphanumeric characters (the consoles allow up to 32). */
export function generateToken(length = 32): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
  const bytes = randomBytes(length);
  let token = '';
  for (const byte of bytes) token += alphabet[byte % alphabet.length];
  return token;
}
