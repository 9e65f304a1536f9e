import { XMLParser } from 'fast-xml-parser';
import { describe, expect, it } from 'vitest';
import { XmlError, encryptedPayload, parseFlatXml, parseXml } from '../src/index.ts';

// The reference: the same fast-xml-parser settings the slow path uses.
const reference = new XMLParser({ ignoreAttributes: true, parseTagValue: false, trimValues: true, processEntities: false, ignoreDeclaration: true, ignorePiTags: true });
const viaParser = (xml: string) => (reference.parse(xml) as { xml: unknown }).xml;

const FLAT_DOCS = [
  '<xml><ToUserName><![CDATA[gh_1]]></ToUserName><FromUserName><![CDATA[o1]]></FromUserName><CreateTime>1700000000</CreateTime><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[你好 <b>&amp;</b>]]></Content><MsgId>7000000000000000001</MsgId></xml>',
  '<?xml version="1.0" encoding="UTF-8"?>\n<xml>\n  <A><![CDATA[ padded ]]></A>\n  <B> 12 </B>\n  <C></C>\n  <D><![CDATA[]]></D>\n</xml>\n',
  '<xml><Content><![CDATA[a]]]]><![CDATA[>b]]></Content></xml>',
  '<xml><Location_X>23.134521</Location_X><Label><![CDATA[广州市]]></Label></xml>',
  '<xml></xml>',
];
const NOT_FLAT = [
  '<xml><SendPicsInfo><Count>1</Count></SendPicsInfo></xml>', // nested
  '<xml><A x="1">v</A></xml>', // attribute
  '<xml><A>a &amp; b</A></xml>', // entity in text
  '<xml><A>1</A><A>2</A></xml>', // repeated
  '<xml><A>1</A><!-- c --></xml>', // comment
  '<xml><A>1</A></xml><x/>', // trailing content
  '<xml><A>1</B></xml>', // mismatched
  '<xml><A/></xml>', // self-closing
  '<root><A>1</A></root>',
];

describe('flat XML fast path', () => {
  it.each(FLAT_DOCS)('equals fast-xml-parser on %#', (doc) => {
    expect(parseFlatXml(doc)).toEqual(viaParser(doc) === '' ? {} : viaParser(doc));
  });

  it.each(NOT_FLAT)('declines anything else and leaves it to the parser: %s', (doc) => {
    expect(parseFlatXml(doc)).toBeUndefined();
  });

  it('parseXml still reads nested documents and refuses broken or dangerous ones', () => {
    expect(parseXml('<xml><SendPicsInfo><Count>1</Count></SendPicsInfo><A>x</A></xml>')).toEqual({ SendPicsInfo: { Count: '1' }, A: 'x' });
    expect(() => parseXml('<xml><A>1</B></xml>')).toThrow(XmlError);
    expect(() => parseXml('<xml><A>1</A>')).toThrow(XmlError);
    expect(() => parseXml('<!DOCTYPE xml><xml><A>1</A></xml>')).toThrow(/DOCTYPE/);
    expect(() => parseXml('<other>1</other>')).toThrow(/no <xml> root/);
  });

  it('reads the encrypted envelope in linear time, even from a hostile body', () => {
    expect(encryptedPayload('<xml><ToUserName><![CDATA[ww]]></ToUserName><Encrypt><![CDATA[QUJD+/==]]></Encrypt><AgentID><![CDATA[1]]></AgentID></xml>')).toBe('QUJD+/==');
    const hostile = `<xml>${'<Encrypt><![CDATA[A]]></Encrypt>'.repeat(32_000)}</xml>x`; // ~1 MiB, made to backtrack
    // The old regex backtracked quadratically here (~30 s, past the test timeout); now ~0.1 s.
    expect(() => encryptedPayload(hostile)).toThrow(XmlError);
  });
});
