import { describe, expect, it } from 'vitest';
import { WeChatPeer } from '@wxbot/testing';
import { MemoryStore, WxCryptoError, XmlError, createLogger, officialAccount, wecomApp } from '../src/index.ts';
import { Metrics } from '../src/metrics.ts';
import type { ChannelRuntime } from '../src/protocol.ts';

const token = 'tok';
const encodingAESKey = 'kWxPEV2UEDyxWpmPdKC3F4dgPDmOvfKX1HGnEUDS1aR';
const corpId = 'wwcorp';
const runtime: ChannelRuntime = { log: createLogger({ level: 'silent' }), store: new MemoryStore(), metrics: new Metrics({}), dispatch: async () => {} };
const now = () => String(Math.floor(Date.now() / 1000));

// Everything around the envelope is broken XML, 1 MiB of it: a parser would refuse it with an
// XmlError (or spend the CPU the issue measured). The signature check must come first.
const hostile = `<xml><A>1</B>${'<a>'.repeat(200_000)}<Encrypt><![CDATA[QUJDRA==]]></Encrypt>${'</b>'.repeat(50_000)}`;

describe('verify before parse', () => {
  it('an unsigned encrypted body is refused by its signature; the parser never sees it', () => {
    const app = wecomApp({ corpId, token, encodingAESKey });
    app.start(runtime);
    const error = (() => {
      try {
        app.receive({ msg_signature: 'f'.repeat(40), timestamp: now(), nonce: '1' }, hostile);
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(WxCryptoError);
    expect((error as WxCryptoError).code).toBe(-40001);
  });

  it('a signed envelope around broken XML elsewhere still opens: only the plaintext is parsed', () => {
    const app = wecomApp({ corpId, token, encodingAESKey });
    app.start(runtime);
    const peer = new WeChatPeer({ url: 'http://unused', kind: 'wecomApp', token, encodingAESKey, receiveId: corpId });
    const { query, body } = peer.buildCallback(peer.message('text', { Content: 'hi' }));
    const broken = body.replace('<xml>', '<xml><Junk>1</Other>');
    const result = app.receive(Object.fromEntries(new URLSearchParams(query)), broken);
    expect(result.kind === 'message' && result.message.type === 'text' && result.message.text).toBe('hi');
  });

  it('plain mode checks the signature before reading the body', () => {
    const oa = officialAccount({ appId: 'wxapp', token });
    oa.start(runtime);
    expect(() => oa.receive({ signature: 'f'.repeat(40), timestamp: now(), nonce: '1' }, hostile)).toThrow(/signature does not match/);
    expect(() => oa.receive({ signature: 'f'.repeat(40), timestamp: now(), nonce: '1' }, hostile)).not.toThrow(XmlError);
  });
});
