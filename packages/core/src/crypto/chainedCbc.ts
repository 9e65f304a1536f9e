import { type Cipher, createCipheriv, createDecipheriv, type Decipher } from 'node:crypto';
import { aes256CbcNoPadding } from './cbc.ts';

/**
 * AES-256-CBC without padding through ONE `node:crypto` cipher kept across calls: each call's
 * whole blocks go through `update()` where the last call's left off, as if all calls were one
 * CBC stream from the IV. Made for messages whose first 16 bytes are random filler that nobody
 * reads (WXBizMsgCrypt's `random(16) | length | message | receiveId`), where a fresh cipher per
 * message buys nothing: creating one (`createCipheriv`/`createDecipheriv`: OpenSSL's context,
 * algorithm fetch and key schedule) costs more than the AES of a callback, and more again in a
 * big process whose caches it finds cold (measured: bench/README.md, "Safe-mode ciphers").
 *
 * What chaining on changes, by CBC's definition (block i in or out depends only on blocks i and
 * i−1 of the same call, and block 1 on the chain value: the IV for a fresh cipher, the last
 * ciphertext block of the call before here). No block is computed or corrected by hand.
 * - Decrypting: every block but the first comes out exactly as a fresh decipher gives it; the
 *   first is garbage. The caller must not read the first 16 bytes.
 * - Encrypting: a receiver decrypting the result with the IV (WeChat, a fresh decipher) reads
 *   exactly `data`, except the first block, which it reads as `data[0..16] ^ previous ^ IV`.
 *   With a first block of fresh CSPRNG bytes that is again 16 bytes as uniformly random, and the
 *   ciphertext is exactly what a fresh cipher gives for those: a standard message, only its
 *   random is not the one the caller drew. A caller that needs its own first block back (a fixed
 *   random of published test vectors) must use {@link aes256CbcNoPadding}.
 *
 * Should `update()` ever fail or hold a block back (it does neither with padding off and whole
 * blocks in), the kept cipher is dropped and that call's data goes through a fresh one, whose
 * output is the standard one: a new kept cipher starts from the IV on the next call.
 */
export class ChainedCbc {
  readonly #direction: 'encrypt' | 'decrypt';
  readonly #key: Buffer;
  readonly #iv: Buffer;
  #cipher: Cipher | Decipher | undefined;

  constructor(direction: 'encrypt' | 'decrypt', key: Buffer, iv: Buffer) {
    this.#direction = direction;
    this.#key = key;
    this.#iv = iv;
  }

  /** `data` (whole 16-byte blocks, else a RangeError) through the kept cipher; see the class for what its first block is. */
  update(data: Buffer): Buffer {
    if (data.length % 16 !== 0) throw new RangeError('AES-CBC without padding needs whole 16-byte blocks');
    const cipher = (this.#cipher ??= this.#create());
    let out: Buffer | undefined;
    try {
      out = cipher.update(data);
    } catch {
      out = undefined;
    }
    if (out !== undefined && out.length === data.length) return out;
    this.#cipher = undefined; // its chain value is unknown now
    return aes256CbcNoPadding(this.#direction, this.#key, this.#iv, data);
  }

  #create(): Cipher | Decipher {
    const cipher = this.#direction === 'encrypt' ? createCipheriv('aes-256-cbc', this.#key, this.#iv) : createDecipheriv('aes-256-cbc', this.#key, this.#iv);
    cipher.setAutoPadding(false);
    return cipher;
  }
}
