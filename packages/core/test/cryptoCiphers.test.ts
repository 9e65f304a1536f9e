import { decrypt as tencentDecrypt, encrypt as tencentEncrypt } from '@wecom/crypto';
import * as crypto from 'node:crypto';
import { describe, expect, it, vi } from 'vitest';
import { WXBizMsgCrypt, generateEncodingAESKey } from '../src/protocol.ts';

// The real node:crypto, with its cipher constructors counted.
vi.mock('node:crypto', async (importOriginal) => {
  const actual = await importOriginal<typeof import('node:crypto')>();
  return { ...actual, createCipheriv: vi.fn(actual.createCipheriv), createDecipheriv: vi.fn(actual.createDecipheriv) };
});

const made = () => ({
  ciphers: vi.mocked(crypto.createCipheriv).mock.calls.length,
  deciphers: vi.mocked(crypto.createDecipheriv).mock.calls.length,
});

describe('WXBizMsgCrypt keeps one cipher each way across messages', () => {
  it('makes one cipher and one decipher for any number of callbacks and replies, each right for the peer', () => {
    const key = generateEncodingAESKey();
    const crypt = new WXBizMsgCrypt('tok', key, 'ww-corp');
    const before = made();
    for (let i = 0; i < 100; i++) {
      const text = `消息 ${i} ${'x'.repeat(i * 7)}`;
      expect(crypt.decrypt(tencentEncrypt(key, text, 'ww-corp'))).toBe(text);
      expect(tencentDecrypt(key, crypt.encrypt(`回复 ${text}`))).toMatchObject({ message: `回复 ${text}`, id: 'ww-corp' });
    }
    const after = made();
    expect(after.ciphers - before.ciphers).toBe(1);
    expect(after.deciphers - before.deciphers).toBe(1);
  });

  it('makes none before the first message, and a fresh one for each fixed random (published vectors)', () => {
    const key = generateEncodingAESKey();
    const before = made();
    const crypt = new WXBizMsgCrypt('tok', key, 'ww-corp');
    expect(made()).toEqual(before);
    for (let i = 0; i < 3; i++) crypt.encrypt('hi', crypto.randomBytes(16));
    expect(made().ciphers - before.ciphers).toBe(3);
  });
});
