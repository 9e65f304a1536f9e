import { describe, expect, it } from 'vitest';
import { createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { decrypt as tencentDecrypt, encrypt as tencentEncrypt } from '@wecom/crypto';
import { WXBizMsgCrypt, WxCryptoErrorCode, decodeEncodingAESKey, signaturesEqual, sortedSha1 } from '../src/protocol.ts';
import { WxCryptoError, generateEncodingAESKey } from '../src/index.ts';

// Published sample of the WeCom developer documentation (加解密方案说明), also used by the
// official WXBizMsgCrypt samples in every language.
const SAMPLE = {
  token: 'QDG6eK',
  corpId: 'wx5823bf96d3bd56c7',
  encodingAESKey: 'jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C',
  verify: {
    msgSignature: '5c45ff5e21c57e6ad56bac8758b79b1d9ac89fd3',
    timestamp: '1409659589',
    nonce: '263014780',
    echostr: 'P9nAzCzyDtyTWESHep1vC5X9xho/qYX3Zpb4yKa9SKld1DsH3Iyt3tP3zNdtp+4RPcs8TgAE7OaBO+FZXvnaqQ==',
  },
  post: {
    msgSignature: '477715d11cdb4164915debcba66cb864d751f3e6',
    timestamp: '1409659813',
    nonce: '1372623149',
    encrypt:
      'RypEvHKD8QQKFhvQ6QleEB4J58tiPdvo+rtK1I9qca6aM/wvqnLSV5zEPeusUiX5L5X/0lWfrf0QADHHhGd3QczcdCUpj911L3vg3W/sYYvuJTs3TUUkSUXxaccAS0qhxchrRYt66wiSpGLYL42aM6A8dTT+6k4aSknmPj48kzJs8qLjvd4Xgpue06DOdnLxAUHzM6+kDZ+HMZfJYuR+LtwGc2hgf5gsijff0ekUNXZiqATP7PF5mZxZ3Izoun1s4zG4LUMnvw2r+KqCKIw+3IQH03v+BCA9nMELNqbSf6tiWSrXJB3LAVGUcallcrw8V2t9EL4EhzJWrQUax5wLVMNS0+rUPA3k22Ncx4XXZS9o0MBH27Bo6BpNelZpS+/uh9KsNlY6bHCmJU9p8g7m3fVKn28H3KDYA5Pl/T8Z1ptDAVe0lXdQ2YoyyH2uyPIGHBZZIs2pDBS8R07+qN+E7Q==',
  },
};

// Official Account sample of the WeChat WXBizMsgCrypt Java SDK tests: fixed random
// "aaaabbbbccccdddd" gives a known ciphertext.
const OA_SAMPLE = {
  token: 'pamtest',
  appId: 'wxb11529c136998cb6',
  encodingAESKey: 'abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG',
  random: 'aaaabbbbccccdddd',
  message: '我是中文abcd123',
  encrypted: 'jn1L23DB+6ELqJ+6bruv21Y6MD7KeIfP82D6gU39rmkgczbWwt5+3bnyg5K55bgVtVzd832WzZGMhkP72vVOfg==',
};

const codeOf = (fn: () => unknown): number | undefined => {
  try {
    fn();
  } catch (error) {
    return error instanceof WxCryptoError ? error.code : undefined;
  }
  return undefined;
};

describe('WXBizMsgCrypt against published vectors', () => {
  const crypt = new WXBizMsgCrypt(SAMPLE.token, SAMPLE.encodingAESKey, SAMPLE.corpId);

  it('verifies the documented URL verification request and decrypts its echostr', () => {
    const { msgSignature, timestamp, nonce, echostr } = SAMPLE.verify;
    expect(crypt.sign(timestamp, nonce, echostr)).toBe(msgSignature);
    const plain = crypt.open(msgSignature, timestamp, nonce, echostr);
    expect(plain).toMatch(/^\d+$/);
  });

  it('verifies and decrypts the documented POST callback', () => {
    const { msgSignature, timestamp, nonce, encrypt } = SAMPLE.post;
    const xml = crypt.open(msgSignature, timestamp, nonce, encrypt);
    expect(xml).toContain('<ToUserName><![CDATA[wx5823bf96d3bd56c7]]></ToUserName>');
    expect(xml).toContain('<FromUserName><![CDATA[mycreate]]></FromUserName>');
    expect(xml).toContain('<Content><![CDATA[hello]]></Content>');
    expect(xml).toContain('<MsgId>4561255354251345929</MsgId>');
    expect(xml).toContain('<AgentID>218</AgentID>');
  });

  it('produces the published ciphertext for a fixed random', () => {
    const oa = new WXBizMsgCrypt(OA_SAMPLE.token, OA_SAMPLE.encodingAESKey, OA_SAMPLE.appId);
    expect(oa.encrypt(OA_SAMPLE.message, Buffer.from(OA_SAMPLE.random))).toBe(OA_SAMPLE.encrypted);
    expect(oa.decrypt(OA_SAMPLE.encrypted)).toBe(OA_SAMPLE.message);
  });
});

describe('WXBizMsgCrypt round trips and agrees with Tencent @wecom/crypto', () => {
  const key = generateEncodingAESKey();
  const crypt = new WXBizMsgCrypt('tok', key, 'ww-corp');

  it.each(['', 'a', '你好，世界', 'x'.repeat(31), 'y'.repeat(32), '😀'.repeat(1000)])('round-trips %#', (text) => {
    expect(crypt.decrypt(crypt.encrypt(text))).toBe(text);
    expect(tencentDecrypt(key, crypt.encrypt(text)).message).toBe(text);
    expect(crypt.decrypt(tencentEncrypt(key, text, 'ww-corp'))).toBe(text);
  });

  it('writes the message as Buffer.from gives its UTF-8, lone surrogates and all', () => {
    const aes = decodeEncodingAESKey(key);
    // encrypt() writes into room for 3 bytes a UTF-16 unit: texts at that worst case (BMP
    // characters of 3 bytes, lone surrogates), past the 4 KB a pooled Buffer takes, and a rope.
    const rope = `${'a'.repeat(20)}${'你'.repeat(3000)}`;
    for (const text of ['', 'ascii', '你好', '😀x', 'a\uD800b', '\uDC00', `${'é'.repeat(500)}\uD83D`, '\uFFFF'.repeat(31), '\uD800'.repeat(33), rope, '😀'.repeat(2000)]) {
      const decipher = createDecipheriv('aes-256-cbc', aes, aes.subarray(0, 16));
      decipher.setAutoPadding(false);
      const plain = Buffer.concat([decipher.update(Buffer.from(crypt.encrypt(text), 'base64')), decipher.final()]);
      const bytes = Buffer.from(text, 'utf8');
      expect(plain.readUInt32BE(16)).toBe(bytes.length);
      expect(plain.subarray(20, 20 + bytes.length).equals(bytes)).toBe(true);
      expect(plain.subarray(20 + bytes.length, 20 + bytes.length + 7).toString()).toBe('ww-corp');
      expect(plain.length % 32).toBe(0);
      const pad = plain[plain.length - 1]!;
      expect(pad >= 1 && pad <= 32 && plain.length - pad === 20 + bytes.length + 7).toBe(true);
      expect(plain.subarray(plain.length - pad).every((b) => b === pad)).toBe(true);
    }
  });

  it('seals a reply that the peer library opens', () => {
    const sealed = crypt.seal('<xml><Content>hi</Content></xml>', '1700000000', '42');
    const encrypted = /<Encrypt><!\[CDATA\[(.*?)\]\]>/.exec(sealed)![1]!;
    const signature = /<MsgSignature><!\[CDATA\[(.*?)\]\]>/.exec(sealed)![1]!;
    expect(signature).toBe(sortedSha1('tok', '1700000000', '42', encrypted));
    expect(tencentDecrypt(key, encrypted)).toMatchObject({ message: '<xml><Content>hi</Content></xml>', id: 'ww-corp' });
  });
});

describe('WXBizMsgCrypt gives the same bytes whatever messages came before', () => {
  // What goes in and out must be exactly what a fresh cipher with the IV gives, whatever came
  // before (other lengths, failed decryptions, the other direction).
  const key = generateEncodingAESKey();
  const texts = ['', 'a', '你好，世界', 'x'.repeat(31), 'y'.repeat(32), '😀'.repeat(300), 'z'.repeat(4000)];

  it('gives the published ciphertext after other messages, and decrypts it after others', () => {
    const oa = new WXBizMsgCrypt(OA_SAMPLE.token, OA_SAMPLE.encodingAESKey, OA_SAMPLE.appId);
    for (const text of texts) oa.decrypt(oa.encrypt(text));
    expect(oa.encrypt(OA_SAMPLE.message, Buffer.from(OA_SAMPLE.random))).toBe(OA_SAMPLE.encrypted);
    expect(oa.encrypt(OA_SAMPLE.message, Buffer.from(OA_SAMPLE.random))).toBe(OA_SAMPLE.encrypted);
    expect(codeOf(() => oa.decrypt(Buffer.alloc(64, 9).toString('base64')))).toBeDefined();
    expect(oa.decrypt(OA_SAMPLE.encrypted)).toBe(OA_SAMPLE.message);
    expect(oa.decrypt(OA_SAMPLE.encrypted)).toBe(OA_SAMPLE.message);
  });

  it('agrees with @wecom/crypto over a run of mixed messages and failures', () => {
    const crypt = new WXBizMsgCrypt('tok', key, 'ww-corp');
    for (let round = 0; round < 3; round++) {
      for (const text of texts) {
        const ours = crypt.encrypt(text);
        expect(tencentDecrypt(key, ours)).toMatchObject({ message: text, id: 'ww-corp' });
        expect(crypt.decrypt(tencentEncrypt(key, text, 'ww-corp'))).toBe(text);
        expect(codeOf(() => crypt.decrypt(tencentEncrypt(key, text, 'ww-other')))).toBe(WxCryptoErrorCode.ValidateReceiveIdError);
        expect(crypt.decrypt(ours)).toBe(text);
      }
    }
  });

  it('the first block comes out as the random prefix a fresh cipher gives', () => {
    // Decrypted by hand with a fresh decipher: the random prefix of our ciphertext is the one given.
    const crypt = new WXBizMsgCrypt('tok', key, 'ww-corp');
    const aes = decodeEncodingAESKey(key);
    for (const text of texts) {
      const random = randomBytes(16);
      const encrypted = crypt.encrypt(text, random);
      const decipher = createDecipheriv('aes-256-cbc', aes, aes.subarray(0, 16));
      decipher.setAutoPadding(false);
      const plain = Buffer.concat([decipher.update(Buffer.from(encrypted, 'base64')), decipher.final()]);
      expect(plain.subarray(0, 16).equals(random)).toBe(true);
    }
  });

  it('a random that is not 16 bytes is laid out as given (as before)', () => {
    const crypt = new WXBizMsgCrypt('tok', key, 'ww-corp');
    const aes = decodeEncodingAESKey(key);
    const encrypted = crypt.encrypt('hi', Buffer.from('0123456789'));
    const decipher = createDecipheriv('aes-256-cbc', aes, aes.subarray(0, 16));
    decipher.setAutoPadding(false);
    const plain = Buffer.concat([decipher.update(Buffer.from(encrypted, 'base64')), decipher.final()]);
    expect(plain.subarray(0, 10).toString()).toBe('0123456789');
    expect(plain.readUInt32BE(10)).toBe(2);
  });

  it('base64 that does not encode back to itself is judged as before', () => {
    const crypt = new WXBizMsgCrypt('tok', key, 'ww-corp');
    const valid = crypt.encrypt('hello');
    // base64url characters, whitespace, '=' inside: refused (Node's decoder would skip or take them).
    expect(codeOf(() => crypt.decrypt(valid.replace(/[+/]/g, (c) => (c === '+' ? '-' : '_'))))).toBe(/[+/]/.test(valid) ? WxCryptoErrorCode.DecodeBase64Error : undefined);
    expect(codeOf(() => crypt.decrypt(`${valid.slice(0, 4)}\n${valid.slice(5)}`))).toBe(WxCryptoErrorCode.DecodeBase64Error);
    expect(codeOf(() => crypt.decrypt(`====${valid.slice(4)}`))).toBe(WxCryptoErrorCode.DecodeBase64Error);
    // Non-canonical padding bits pass the regex as before, and decrypt as the canonical form.
    expect(valid.endsWith('==')).toBe(true); // 'hello' + 'ww-corp' pads to 64 bytes
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
    const last = valid.at(-3)!;
    const loose = `${valid.slice(0, -3)}${alphabet[alphabet.indexOf(last) + 1]}==`;
    expect(Buffer.from(loose, 'base64').toString('base64')).not.toBe(loose);
    expect(crypt.decrypt(loose)).toBe('hello');
  });
});

describe('WXBizMsgCrypt judges base64 as the regex of valid base64 does', () => {
  const key = generateEncodingAESKey();
  const crypt = new WXBizMsgCrypt('tok', key, 'ww-corp');
  const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;
  const refusedAsBase64 = (text: string) => codeOf(() => crypt.decrypt(text)) === WxCryptoErrorCode.DecodeBase64Error;
  const expected = (text: string) => !(text.length > 0 && text.length % 4 === 0 && BASE64.test(text));
  // Letters, the two other base64 characters, base64url's, '=', whitespace, other ASCII, Latin-1,
  // a two-byte character and a lone surrogate, and characters above U+00FF whose low byte is a
  // base64 character or '=' (Node's decoder reads only that byte of them: 'Ł' U+0141 as 'A',
  // 'ī' U+012B as '+', 'į' U+012F as '/', 'Ľ' U+013D as '=', fullwidth 'ａ' U+FF41 as 'A').
  const chars = ['A', 'z', '0', '+', '/', '=', '-', '_', ' ', '\n', '.', '*', 'é', '你', '\uD800', 'Ł', 'ī', 'į', 'Ľ', 'ａ'];

  it('for every text of 4 characters from a mixed set, and of 1-3 and 5', () => {
    const all = (n: number): string[] => (n === 0 ? [''] : all(n - 1).flatMap((head) => chars.map((c) => head + c)));
    for (const text of [...all(1), ...all(2), ...all(3), ...all(4)]) expect([text, refusedAsBase64(text)]).toEqual([text, expected(text)]);
    for (const text of ['AAAAA', 'AAAA=', 'AAAAAAAA=']) expect(refusedAsBase64(text)).toBe(true);
  });

  it('a valid ciphertext held in a two-byte string (sliced from a body with CJK text) is accepted', () => {
    // V8 keeps such a slice two-byte: the decoder then reads it through a copy of its units, and
    // WIDE_CHAR scans it instead of failing at once; the verdict must not change.
    const valid = crypt.encrypt('你好');
    const body = `<xml><Note>备注</Note><Encrypt>${valid}</Encrypt></xml>`;
    const sliced = body.slice(body.indexOf('<Encrypt>') + 9, body.indexOf('</Encrypt>'));
    expect(crypt.decrypt(sliced)).toBe('你好');
    expect(refusedAsBase64(`${sliced.slice(0, 8)}Ł${sliced.slice(9)}`)).toBe(true);
  });

  it('for real ciphertexts with one character changed, inserted or doubled padding, at every position', () => {
    const texts = [crypt.encrypt('hello'), crypt.encrypt('你好'.repeat(20)), crypt.encrypt('x')];
    let seed = 7;
    const next = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31);
    for (const valid of texts) {
      expect(refusedAsBase64(valid)).toBe(false);
      for (let i = 0; i < valid.length; i++) {
        const c = chars[next() % chars.length]!;
        for (const text of [`${valid.slice(0, i)}${c}${valid.slice(i + 1)}`, `${valid.slice(0, i)}===${valid.slice(i + 3)}`, `${valid.slice(0, i)}${c}${valid.slice(i, -1)}`]) {
          if (text.length === valid.length) expect([text, refusedAsBase64(text)]).toEqual([text, expected(text)]);
        }
      }
    }
  });
});

describe('WXBizMsgCrypt refuses bad input with the sample error codes', () => {
  const key = generateEncodingAESKey();
  const crypt = new WXBizMsgCrypt('tok', key, 'ww-corp');

  it('wrong signature: -40001', () => {
    const enc = crypt.encrypt('x');
    expect(codeOf(() => crypt.open('0'.repeat(40), '1', '2', enc))).toBe(WxCryptoErrorCode.ValidateSignatureError);
    expect(codeOf(() => crypt.open(undefined, '1', '2', enc))).toBe(WxCryptoErrorCode.ValidateSignatureError);
  });
  it('bad EncodingAESKey: -40004', () => {
    expect(codeOf(() => decodeEncodingAESKey('short'))).toBe(WxCryptoErrorCode.IllegalAesKey);
    expect(codeOf(() => new WXBizMsgCrypt('t', `${key.slice(0, 42)}!`, 'c'))).toBe(WxCryptoErrorCode.IllegalAesKey);
  });
  it('another receiveid: -40005', () => {
    expect(codeOf(() => crypt.decrypt(tencentEncrypt(key, 'x', 'ww-other')))).toBe(WxCryptoErrorCode.ValidateReceiveIdError);
    // Shorter, longer, one byte off at either end, empty; and a non-ASCII receiveid, byte for byte.
    for (const other of ['ww-cor', 'ww-corpp', 'ww-corq', 'xw-corp', '', 'ww-corp\u0000']) {
      expect(codeOf(() => crypt.decrypt(tencentEncrypt(key, 'x', other)))).toBe(WxCryptoErrorCode.ValidateReceiveIdError);
    }
    const wide = new WXBizMsgCrypt('tok', key, '企业号-ü');
    expect(wide.decrypt(tencentEncrypt(key, 'x', '企业号-ü'))).toBe('x');
    for (const other of ['企业号-u', '企业号-üü', '企业', 'ww-corp'])
      expect(codeOf(() => wide.decrypt(tencentEncrypt(key, 'x', other)))).toBe(WxCryptoErrorCode.ValidateReceiveIdError);
  });
  it('bad base64: -40010', () => {
    expect(codeOf(() => crypt.decrypt('not base64!!'))).toBe(WxCryptoErrorCode.DecodeBase64Error);
    expect(codeOf(() => crypt.decrypt(''))).toBe(WxCryptoErrorCode.DecodeBase64Error);
  });
  it('not whole blocks: -40007', () => {
    expect(codeOf(() => crypt.decrypt(Buffer.alloc(20).toString('base64')))).toBe(WxCryptoErrorCode.DecryptAESError);
  });
  it('one block, too short for the head: -40008, whatever it decrypts to', () => {
    for (let i = 0; i < 20; i++) expect(codeOf(() => crypt.decrypt(Buffer.alloc(16, i).toString('base64')))).toBe(WxCryptoErrorCode.IllegalBuffer);
  });
  it('garbage that decrypts to bad padding or length: -40008 or -40005', () => {
    for (let i = 0; i < 50; i++) {
      const code = codeOf(() => crypt.decrypt(Buffer.alloc(64, i + 1).toString('base64')));
      expect([WxCryptoErrorCode.IllegalBuffer, WxCryptoErrorCode.ValidateReceiveIdError]).toContain(code);
    }
  });
  it('encrypts a message given in parts as their join: the same ciphertext for the same random', () => {
    const random = Buffer.alloc(16, 7);
    const cases: string[][] = [
      ['<xml><Content><![CDATA[', '你好 wxbot', ']]></Content></xml>'],
      ['', '', ''],
      ['a', '😀', 'b\ud800c'], // a pair inside a part, a lone surrogate (U+FFFD either way)
      ['x'.repeat(3000), '中'.repeat(700)],
    ];
    for (const parts of cases) {
      expect(crypt.encrypt(parts, random)).toBe(crypt.encrypt(parts.join(''), random));
      expect(crypt.decrypt(crypt.encrypt(parts))).toBe(Buffer.from(parts.join('')).toString());
    }
  });
  it("decryptBytes: decrypt's message as its UTF-8 bytes, or decrypt's error code", () => {
    for (const text of ['', 'x', '你好 wxbot', '😀'.repeat(100), '<xml><Content><![CDATA[中文]]></Content></xml>']) {
      const bytes = crypt.decryptBytes(tencentEncrypt(key, text, 'ww-corp'));
      expect(bytes.toString()).toBe(text);
      expect(bytes.equals(Buffer.from(text))).toBe(true);
    }
    const refused = [
      '',
      'not base64!!',
      Buffer.alloc(20).toString('base64'),
      Buffer.alloc(16, 3).toString('base64'),
      tencentEncrypt(key, 'x', 'ww-other'),
      ...Array.from({ length: 20 }, (_, i) => Buffer.alloc(64, i + 1).toString('base64')),
    ];
    for (const text of refused) {
      expect(
        codeOf(() => crypt.decrypt(text)),
        text,
      ).toBeDefined();
      expect(
        codeOf(() => crypt.decryptBytes(text)),
        text,
      ).toBe(codeOf(() => crypt.decrypt(text)));
    }
  });
});

describe('signaturesEqual', () => {
  const sig = sortedSha1('tok', '1700000000', '42');
  it('is true only for the same hex digest (any case)', () => {
    expect(signaturesEqual(sig, sig)).toBe(true);
    expect(signaturesEqual(sig, sig.toUpperCase())).toBe(true);
    expect(signaturesEqual(sig, undefined)).toBe(false);
    expect(signaturesEqual(sig, '')).toBe(false);
    expect(signaturesEqual(sig, sig.slice(0, -1))).toBe(false);
    expect(signaturesEqual(sig, `${sig}0`)).toBe(false);
    for (let i = 0; i < sig.length; i++) {
      const other = sig[i] === '0' ? '1' : '0';
      expect(signaturesEqual(sig, `${sig.slice(0, i)}${other}${sig.slice(i + 1)}`)).toBe(false);
    }
    // Not hex at all, same length in characters: non-ASCII, one that lower-cases longer (İ → i̇).
    expect(signaturesEqual(sig, `${sig.slice(0, -1)}é`)).toBe(false);
    expect(signaturesEqual(sig, `${sig.slice(0, -1)}İ`)).toBe(false);
    expect(signaturesEqual(`${sig.slice(0, -2)}i̇`, `${sig.slice(0, -2)}İ`)).toBe(true);
  });
});

describe('sortedSha1', () => {
  // Short parts are joined and hashed at once, long ones streamed: both must give sha1 of the
  // parts sorted by UTF-16 code units (Array.prototype.sort) and joined.
  const reference = (...parts: string[]) =>
    createHash('sha1')
      .update([...parts].sort().join(''), 'utf8')
      .digest('hex');
  it('is sha1 of the sorted parts joined, for short, non-ASCII and long parts', () => {
    const cases = [
      ['tok', '1700000000', '42'],
      ['b', 'a', 'c', 'a'],
      ['Z', 'a', '_', '1', ''],
      ['令牌', 'token', '𝒳', 'ｔ', '1'],
      ['tok', '1700000000', '42', 'x'.repeat(20_000)],
      ['tok', '1700000000', '42', 'é'.repeat(9000)],
    ];
    for (const parts of cases) expect(sortedSha1(...parts)).toBe(reference(...parts));
    expect(sortedSha1(...SAMPLE_PARTS)).toBe(SAMPLE.post.msgSignature);
  });
});
const SAMPLE_PARTS = [SAMPLE.token, SAMPLE.post.timestamp, SAMPLE.post.nonce, SAMPLE.post.encrypt];
