import { randomBytes } from 'node:crypto';
import { aes256CbcNoPadding } from './cbc.ts';
import { ChainedCbc } from './chainedCbc.ts';
import { WxCryptoError, WxCryptoErrorCode } from './errors.ts';
import { decodeEncodingAESKey } from './keys.ts';
import { signaturesEqual, sortedSha1 } from './signature.ts';

/** PKCS#7 with a 32-byte block, as WXBizMsgCrypt uses (not AES's 16). */
const PAD_BLOCK = 32;
/**
 * A character Node's base64 decoder would read by its low byte only (see decrypt). A regex, not
 * Buffer.byteLength(utf8) !== length: V8 compiles it, for a one-byte string (every ciphertext
 * that is ASCII), to a match that fails at once, with no pass over the text (~0.1k instructions a
 * call against byteLength's ~1.2k, micro under callgrind on a 640-character sliced string).
 */
const WIDE_CHAR = /[\u0100-\uffff]/;

// randomBytes(16) per message costs more than the AES itself; draw from a pooled block of
// CSPRNG output instead (each 16-byte slice is used once).
let pool = Buffer.alloc(0);
let poolOffset = 0;
function random16(): Buffer {
  if (poolOffset + 16 > pool.length) {
    pool = randomBytes(4096);
    poolOffset = 0;
  }
  const slice = pool.subarray(poolOffset, poolOffset + 16);
  poolOffset += 16;
  return slice;
}

/**
 * WXBizMsgCrypt-compatible message crypto: AES-256-CBC with iv = key[0..16], plaintext
 * `random(16) | uint32be(len) | msg | receiveId`, PKCS#7 padded to 32 bytes, base64.
 * Used by WeCom apps, WeChat Customer Service and Official Accounts in safe/compat mode.
 *
 * All failures throw {@link WxCryptoError} with the sample code's error codes.
 *
 * One AES cipher each way per instance, kept across messages ({@link ChainedCbc}): a message's
 * first block is its random prefix, which decrypt() never reads and which encrypt() draws fresh,
 * so chaining on from the message before changes nothing anyone reads. A `random` given to
 * encrypt() (tests of published vectors) goes through a fresh cipher, to come out as given.
 */
export class WXBizMsgCrypt {
  readonly #token: string;
  readonly #key: Buffer;
  readonly #iv: Buffer;
  readonly receiveId: string;
  readonly #receiveIdBytes: Buffer;
  readonly #sealing: ChainedCbc;
  readonly #opening: ChainedCbc;

  constructor(token: string, encodingAESKey: string, receiveId: string) {
    this.#token = token;
    this.#key = decodeEncodingAESKey(encodingAESKey);
    this.#iv = this.#key.subarray(0, 16);
    this.receiveId = receiveId;
    this.#receiveIdBytes = Buffer.from(receiveId, 'utf8');
    // Their ciphers are made on first use: an instance that only decrypts makes no cipher.
    this.#sealing = new ChainedCbc('encrypt', this.#key, this.#iv);
    this.#opening = new ChainedCbc('decrypt', this.#key, this.#iv);
  }

  /** msg_signature over token, timestamp, nonce and the ciphertext. */
  sign(timestamp: string, nonce: string, encrypted: string): string {
    return sortedSha1(this.#token, timestamp, nonce, encrypted);
  }

  /** Throws -40001 unless `signature` is the msg_signature of this ciphertext. */
  verify(signature: string | undefined, timestamp: string, nonce: string, encrypted: string): void {
    if (!signaturesEqual(this.sign(timestamp, nonce, encrypted), signature)) {
      throw new WxCryptoError(WxCryptoErrorCode.ValidateSignatureError, 'msg_signature does not match');
    }
  }

  /**
   * Encrypts `message` for this receiveId. `random` is given only by tests of published vectors:
   * it then goes through a fresh cipher and comes out as the first block. Drawn here, it goes
   * through the kept cipher, which makes the first block the receiver reads other bytes as random.
   *
   * `message` may come as parts, written one after the other: the same bytes as their join when no
   * part ends in the first half of a surrogate pair whose second half starts the next (each part is
   * UTF-8 on its own). A one-byte part is copied; a two-byte string goes through V8's encoder a
   * character at a time, so a reply whose text alone is Chinese is cheaper in parts (encodePassive).
   */
  encrypt(message: string | readonly string[], random?: Buffer): string {
    const prefix = random ?? random16();
    // random | uint32be(len) | msg | receiveId | PKCS#7 padding, written into one buffer. The
    // message's UTF-8 is written once, into room for any string (a UTF-16 unit is at most 3
    // bytes of UTF-8: a lone surrogate becomes U+FFFD, a pair 4 bytes for its 2 units), and
    // write() tells its length: no Buffer.byteLength pass over the text first.
    const receiveId = this.#receiveIdBytes;
    const head = prefix.length;
    let bodyLength: number;
    let room: Buffer;
    if (typeof message === 'string') {
      room = Buffer.allocUnsafe(head + 4 + message.length * 3 + receiveId.length + PAD_BLOCK);
      bodyLength = room.write(message, head + 4);
    } else {
      let units = 0;
      for (let i = 0; i < message.length; i++) units += message[i]!.length;
      room = Buffer.allocUnsafe(head + 4 + units * 3 + receiveId.length + PAD_BLOCK);
      bodyLength = 0;
      for (let i = 0; i < message.length; i++) bodyLength += room.write(message[i]!, head + 4 + bodyLength);
    }
    const plainLength = head + 4 + bodyLength + receiveId.length;
    const padLength = PAD_BLOCK - (plainLength % PAD_BLOCK);
    // Uint8Array's own set() and indexed stores, not Buffer's copy()/writeUInt32BE()/fill(): the
    // same bytes without their argument checks and helper functions (fewer functions for a
    // fresh process to warm up).
    room.set(prefix, 0);
    room[head] = bodyLength >>> 24;
    room[head + 1] = bodyLength >>> 16;
    room[head + 2] = bodyLength >>> 8;
    room[head + 3] = bodyLength;
    room.set(receiveId, head + 4 + bodyLength);
    for (let i = plainLength; i < plainLength + padLength; i++) room[i] = padLength;
    const padded = room.subarray(0, plainLength + padLength);
    const encrypted = random === undefined ? this.#sealing.update(padded) : aes256CbcNoPadding('encrypt', this.#key, this.#iv, padded);
    return encrypted.toString('base64');
  }

  /**
   * Decrypts a ciphertext and returns the message. Rejects bad base64 (-40010), a length that
   * is not whole AES blocks (-40007), bad padding or length field (-40008), and a receiveId
   * other than the configured one (-40005).
   */
  decrypt(encrypted: string): string {
    const plain = this.#plaintext(encrypted);
    return plain.toString('utf8', 20, 20 + plain.readUInt32BE(16));
  }

  /**
   * {@link decrypt}'s message as its UTF-8 bytes (a view of a buffer of its own), for a reader
   * that decodes parts of it (parseXmlBytes); the same checks and errors.
   */
  decryptBytes(encrypted: string): Buffer {
    const plain = this.#plaintext(encrypted);
    return plain.subarray(20, 20 + plain.readUInt32BE(16));
  }

  /** The checked plaintext of a ciphertext: its message at 20, its length at 16 (see decrypt). */
  #plaintext(encrypted: string): Buffer {
    const textLength = encrypted.length;
    if (textLength === 0 || textLength % 4 !== 0) {
      throw new WxCryptoError(WxCryptoErrorCode.DecodeBase64Error, 'ciphertext is not valid base64');
    }
    // Valid base64 (/^[A-Za-z0-9+/]*={0,2}$/, which crypto.test.ts compares with this) gives 3 bytes every
    // 4 characters, less one a final '='. Node's decoder skips what is not base64, and stops at a
    // '=' before the end, so any other text gives fewer bytes than that: the count write() returns
    // is the check, with no second pass over the text (encoding the bytes back and comparing did
    // one: ~1.5k instructions a callback). It decodes '-' and '_' (base64url) as letters, and
    // reads a character above U+00FF by its low byte only ('Ł', U+0141, as 'A'; 'ａ', U+FF41,
    // too): WIDE_CHAR refuses those.
    const padding = encrypted.charCodeAt(textLength - 1) !== 0x3d ? 0 : encrypted.charCodeAt(textLength - 2) !== 0x3d ? 1 : 2;
    const data = Buffer.allocUnsafe((textLength / 4) * 3 - padding);
    if (data.write(encrypted, 'base64') !== data.length || encrypted.includes('-') || encrypted.includes('_') || WIDE_CHAR.test(encrypted)) {
      throw new WxCryptoError(WxCryptoErrorCode.DecodeBase64Error, 'ciphertext is not valid base64');
    }
    if (data.length === 0 || data.length % 16 !== 0) {
      throw new WxCryptoError(WxCryptoErrorCode.DecryptAESError, 'ciphertext is not a whole number of AES blocks');
    }
    // One block cannot hold the 20-byte head (a fresh decipher's verdict was -40008 too, for its
    // padding or its length); from two blocks on, all that is read lies past the first block,
    // the only one the kept decipher gets wrong.
    if (data.length < 32) throw new WxCryptoError(WxCryptoErrorCode.IllegalBuffer, 'plaintext too short');
    let plain: Buffer;
    try {
      plain = this.#opening.update(data);
    } catch {
      throw new WxCryptoError(WxCryptoErrorCode.DecryptAESError, 'AES decryption failed');
    }
    const pad = plain[plain.length - 1] ?? 0;
    if (pad < 1 || pad > PAD_BLOCK || pad > plain.length) {
      throw new WxCryptoError(WxCryptoErrorCode.IllegalBuffer, 'invalid PKCS#7 padding');
    }
    // Offsets into the plaintext: decrypt decodes the message by range (no subarray); decryptBytes
    // hands back a view of it, a buffer this call's update() made, shared with nothing.
    const end = plain.length - pad;
    if (end < 20) {
      throw new WxCryptoError(WxCryptoErrorCode.IllegalBuffer, 'plaintext too short');
    }
    const length = plain.readUInt32BE(16);
    if (length > end - 20) {
      throw new WxCryptoError(WxCryptoErrorCode.IllegalBuffer, 'message length field exceeds the plaintext');
    }
    // The receiveid's bytes against the configured one's UTF-8 (was: decoded, then compared as
    // strings; the same verdict for any well-formed receiveid without U+FFFD), no string made.
    const id = this.#receiveIdBytes;
    let same = end - 20 - length === id.length;
    for (let i = 0; same && i < id.length; i++) same = plain[20 + length + i] === id[i];
    if (!same) {
      throw new WxCryptoError(WxCryptoErrorCode.ValidateReceiveIdError, 'receiveid does not match the configured one');
    }
    return plain;
  }

  /** Verifies the signature, then decrypts. */
  open(signature: string | undefined, timestamp: string, nonce: string, encrypted: string): string {
    this.verify(signature, timestamp, nonce, encrypted);
    return this.decrypt(encrypted);
  }

  /**
   * Encrypts a JSON passive reply (WeCom AI bot) into its signed JSON envelope
   * `{"encrypt","msgsignature","timestamp","nonce"}`.
   */
  sealJson(replyJson: string, timestamp: string, nonce: string): string {
    const encrypted = this.encrypt(replyJson);
    return JSON.stringify({ encrypt: encrypted, msgsignature: this.sign(timestamp, nonce, encrypted), timestamp, nonce });
  }

  /** Encrypts a passive reply (whole, or in parts as {@link encrypt} takes them) and wraps it in the signed envelope WeChat expects. */
  seal(replyXml: string | readonly string[], timestamp: string, nonce: string): string {
    const encrypted = this.encrypt(replyXml);
    const signature = this.sign(timestamp, nonce, encrypted);
    return (
      `<xml><Encrypt><![CDATA[${encrypted}]]></Encrypt>` +
      `<MsgSignature><![CDATA[${signature}]]></MsgSignature>` +
      `<TimeStamp>${timestamp}</TimeStamp><Nonce><![CDATA[${nonce}]]></Nonce></xml>`
    );
  }
}
