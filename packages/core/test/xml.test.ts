import { XMLParser } from 'fast-xml-parser';
import { describe, expect, it } from 'vitest';
import { XML_LIMITS, cdata, decodeEntities, encryptedPayload, messageFromXml, parseFlatXml, parseXml } from '../src/protocol.ts';
import { XmlError } from '../src/index.ts';
import { passiveReplyXml, passiveTextReplyParts } from '../src/reply/passiveXml.ts';
import { hasDeclaration, parseXmlBytes } from '../src/xml.ts';
import { heapAfterGc } from './helpers.ts';

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
  '<xml><A>1</A><A>2</A></xml>', // repeated
  '<xml><A>1</A><!-- c --></xml>', // comment
  '<xml><A>1</A></xml><x/>', // trailing content
  '<xml><A>1</B></xml>', // mismatched
  '<xml><A/></xml>', // self-closing
  '<root><A>1</A></root>',
  '<xml><A><![CDATX[1]]></A></xml>', // not a CDATA opener, of its length
  '<xmL><A>1</A></xml>', // the root's tags, one character off
  '<xml><A>1</A></xmL>',
  '<?xmL version="1.0"?><xml><A>1</A></xml>', // not an XML declaration: a processing instruction
];

describe('flat XML fast path', () => {
  it.each(FLAT_DOCS)('equals fast-xml-parser on %#', (doc) => {
    expect(parseFlatXml(doc)).toEqual(viaParser(doc) === '' ? {} : viaParser(doc));
  });

  it.each(NOT_FLAT)('declines anything else and leaves it to the parser: %s', (doc) => {
    expect(parseFlatXml(doc)).toBeUndefined();
  });

  it.each(FLAT_DOCS)('the general parser agrees with the fast path on %#', (doc) => {
    // A comment right after <xml> makes the fast path decline, so parseXml takes the general parser.
    const viaTree = parseXml(doc.replace('<xml>', '<xml><!-- general path -->'));
    expect(viaTree).toEqual(parseFlatXml(doc));
  });

  it('reads each document alike whatever document it read before (it expects the names of the last one)', () => {
    // Names that follow the last document's, then leave them: longer, shorter, a prefix, another
    // order, fewer, more, a repeat, an attribute on an expected name.
    const variants = [
      '<xml><ToUserName><![CDATA[gh_1]]></ToUserName><FromUserName><![CDATA[o2]]></FromUserName><CreateTime>1700000001</CreateTime><MsgType><![CDATA[image]]></MsgType><PicUrl><![CDATA[http://x]]></PicUrl><MsgId>2</MsgId><MediaId>m</MediaId></xml>',
      '<xml><ToUserNameX>1</ToUserNameX><FromUser>2</FromUser></xml>',
      '<xml><ToUser>1</ToUser><FromUserName>2</FromUserName></xml>',
      '<xml><FromUserName>2</FromUserName><ToUserName>1</ToUserName></xml>',
      '<xml><ToUserName>1</ToUserName></xml>',
      '<xml><ToUserName>1</ToUserName><ToUserName>2</ToUserName></xml>',
      '<xml><ToUserName x="1">1</ToUserName></xml>',
      '<xml><ToUserName>1</ToUserNam></xml>',
      // Names of the expected names' lengths, one character off: a start tag, then an end tag.
      '<xml><ToUserNamf>1</ToUserNamf><FromUserNamE>2</FromUserNamE></xml>',
      '<xml><ToUserName>1</ToUserNamf></xml>',
      '<xml> <A> 1 </A>\n<B><![CDATA[2]]></B> </xml>',
      '<xml><A>1</A><B>2</B><C>3</C></xml>',
    ];
    const docs = [...FLAT_DOCS, ...variants, ...NOT_FLAT];
    const expected = new Map(
      docs.map((doc) => [
        doc,
        NOT_FLAT.includes(doc) ||
        doc.includes('ToUserName>1</ToUserName><ToUserName') ||
        doc.includes('x="1"') ||
        doc.includes('</ToUserNam>') ||
        doc.includes('1</ToUserNamf></xml>')
          ? undefined
          : viaParser(doc) === ''
            ? {}
            : viaParser(doc),
      ]),
    );
    for (const before of docs) {
      for (const doc of docs) {
        parseFlatXml(before);
        expect(parseFlatXml(doc), `${doc} after ${before}`).toEqual(expected.get(doc));
        expect(parseFlatXml(doc), `${doc} twice`).toEqual(expected.get(doc));
      }
    }
  });

  it('decodes entities outside CDATA on both paths, never inside CDATA, never declared ones', () => {
    expect(parseXml('<xml><Content>a &amp; b &lt;c&gt; &quot;&apos; &#x4F60;&#22909;</Content></xml>')).toEqual({ Content: 'a & b <c> "\' 你好' });
    expect(parseXml('<xml><!-- --><Content>a &amp; b</Content><N><M>&lt;</M></N></xml>')).toEqual({ Content: 'a & b', N: { M: '<' } });
    expect(parseXml('<xml><Content><![CDATA[a &amp; b]]></Content></xml>')).toEqual({ Content: 'a &amp; b' });
    expect(decodeEntities('&unknown; &#0; &#xD800; & x')).toBe('&unknown; &#0; &#xD800; & x');
    expect(() => parseXml('<!DOCTYPE x [<!ENTITY e "boom">]><xml><A>&e;</A></xml>')).toThrow(/DOCTYPE/);
  });

  it('finds a DOCTYPE or ENTITY declaration exactly where /<!(?:DOCTYPE|ENTITY)/i does', () => {
    const reference = /<!(?:DOCTYPE|ENTITY)/i;
    const texts = [
      '',
      '<!',
      '<!DOCTYPE',
      '<!doctype x>',
      '<!DocType',
      '<!DOCTYP',
      '<!ENTITY',
      '<!entity',
      '<!ENTIT',
      '<!<!DOCTYPE',
      '<! DOCTYPE',
      '<!-- DOCTYPE -->',
      'x<!ENTITYy',
      '<![CDATA[<!EnTiTy e "x">]]>',
      '<!\u017Fntity',
      '<!DOCTYPE'.replace('T', '\u0174'),
      '<!doc\u212Aype',
      '<!ENTİTY',
      '<!DOCTYPE'.toLowerCase().replace('d', 'D'),
      '<xml><A><![CDATA[a]]></A><B><![CDATA[b]]></B></xml>',
      `${'<!'.repeat(1000)}entity`,
      '@!DOCTYPE <@DOCTYPE <!DOCTYPE'.slice(0, 20),
    ];
    for (const text of texts) expect(hasDeclaration(text), JSON.stringify(text)).toBe(reference.test(text));
    // Every character in each letter's place: only the letter's two cases match.
    for (let code = 0; code < 0x2200; code++) {
      const c = String.fromCharCode(code);
      for (const word of ['<!DOCTYPE', '<!ENTITY']) {
        for (let at = 2; at < word.length; at++) {
          const text = word.slice(0, at) + c + word.slice(at + 1);
          if (hasDeclaration(text) !== reference.test(text)) expect(hasDeclaration(text), JSON.stringify(text)).toBe(reference.test(text));
        }
      }
    }
  });

  it('refuses a declaration anywhere in a flat document, CDATA and XML declaration included, and only then', () => {
    const reference = /<!(?:DOCTYPE|ENTITY)/i;
    const flat = (content: string, prologue = '') =>
      `${prologue}<xml><ToUserName><![CDATA[gh_1]]></ToUserName><Content><![CDATA[${content}]]></Content><MsgId>7</MsgId><Tail><![CDATA[x]]><![CDATA[y]]></Tail></xml>`;
    const docs = [
      flat('你好'),
      flat('<!DOCTYPE x>'),
      flat('a <!eNtItY e "x"> b'),
      flat('<!-- not one -->'),
      flat('<!x <! <!doctyp'),
      flat('<![CDATA[<!DOCTYPE'),
      flat('a', '<?xml version="1.0"?>'),
      flat('a', '<?xml <!DOCTYPE x?>'),
      flat('a', '<?xml <!-- ?>'),
      '<xml><A><![CDATA[a]]><![CDATA[<!ENTITY]]></A></xml>',
      '<xml><A><![CDATA[a]]><![CDATA[<!-- b]]></A></xml>',
      '<xml><A><![CDATA[<!]]></A><B><![CDATA[!DOCTYPE]]></B></xml>',
    ];
    for (const doc of docs) {
      if (reference.test(doc)) expect(() => parseXml(doc), doc).toThrow(/DOCTYPE and ENTITY/);
      else expect(parseXml(doc), doc).toEqual(viaParser(doc));
    }
    // Refused for the declaration, as before, though over the element limit too.
    const many = `<xml>${Array.from({ length: XML_LIMITS.maxElements + 1 }, (_, i) => `<F${i}>1</F${i}>`).join('')}<Z><![CDATA[<!DOCTYPE]]></Z></xml>`;
    expect(() => parseXml(many)).toThrow(/DOCTYPE and ENTITY/);
  });

  it('caps depth and element count of what it parses', () => {
    const deep = (n: number) => `<xml>${'<a>'.repeat(n)}x${'</a>'.repeat(n)}</xml>`;
    expect(() => parseXml(deep(XML_LIMITS.maxDepth - 2))).not.toThrow();
    expect(() => parseXml(deep(XML_LIMITS.maxDepth + 5))).toThrow(/nested deeper/);
    const wide = (n: number) => `<xml><L>${'<i>1</i>'.repeat(n)}</L></xml>`;
    expect((parseXml(wide(100))['L'] as { i: string[] }).i).toHaveLength(100);
    expect(() => parseXml(wide(XML_LIMITS.maxElements + 1))).toThrow(/more than/);
    expect(() => parseXml(`<xml>${Array.from({ length: XML_LIMITS.maxElements + 1 }, (_, i) => `<F${i}>1</F${i}>`).join('')}</xml>`)).toThrow(/more than/);
  });

  it('parseXml still reads nested documents and refuses broken or dangerous ones', () => {
    expect(parseXml('<xml><SendPicsInfo><Count>1</Count></SendPicsInfo><A>x</A></xml>')).toEqual({ SendPicsInfo: { Count: '1' }, A: 'x' });
    expect(() => parseXml('<xml><A>1</B></xml>')).toThrow(XmlError);
    expect(() => parseXml('<xml><A>1</A>')).toThrow(XmlError);
    expect(() => parseXml('<!DOCTYPE xml><xml><A>1</A></xml>')).toThrow(/DOCTYPE/);
    expect(() => parseXml('<other>1</other>')).toThrow(/no <xml> root/);
    expect(() => parseXml('<xml><A>1</A></xml><xml></xml>')).toThrow(XmlError);
    expect(() => parseXml('<xml><__proto__><a>1</a></__proto__></xml>')).toThrow(XmlError);
    expect(parseXml('<xml><L a="x>y"><i>1</i><i>2</i></L><E/><constructor>c</constructor></xml>')).toEqual({ L: { i: ['1', '2'] }, E: '', constructor: 'c' });
  });

  it('reads the encrypted envelope in linear time, even from a hostile body', () => {
    expect(encryptedPayload('<xml><ToUserName><![CDATA[ww]]></ToUserName><Encrypt><![CDATA[QUJD+/==]]></Encrypt><AgentID><![CDATA[1]]></AgentID></xml>')).toBe('QUJD+/==');
    const hostile = `<xml>${'<Encrypt><![CDATA[A]]></Encrypt>'.repeat(32_000)}</xml>x`; // ~1 MiB, made to backtrack
    // The old regex backtracked quadratically here (~30 s, past the test timeout); now ~0.1 s.
    expect(() => encryptedPayload(hostile)).toThrow(XmlError);
  });

  it('finds Encrypt by a scan that skips CDATA (a compat-mode Content may mention it) and never parses the body', () => {
    const compat = '<xml><Content><![CDATA[<Encrypt>x</Encrypt>]]></Content><Encrypt><![CDATA[QUJD]]></Encrypt></xml>';
    expect(encryptedPayload(compat)).toBe('QUJD');
    expect(encryptedPayload('<xml><Encrypt>QUJD</Encrypt></xml>')).toBe('QUJD');
    // Broken everywhere but the envelope: not this function's business (the signature decides).
    expect(encryptedPayload('<xml><A>1</B><Encrypt><![CDATA[QUJD]]></Encrypt>')).toBe('QUJD');
    expect(encryptedPayload('<xml><A>1</A></xml>')).toBe('');
    expect(() => encryptedPayload('<xml><Encrypt>a</Encrypt><Encrypt>b</Encrypt></xml>')).toThrow(/more than one/);
    expect(() => encryptedPayload('<xml><Encrypt><x/></Encrypt></xml>')).toThrow(XmlError);
    // The markers, one character off.
    expect(() => encryptedPayload('<xml><Encrypt><![CDATX[QUJD]]></Encrypt></xml>')).toThrow(/not a text element/);
    expect(() => encryptedPayload('<xml><Encrypt>QUJD</EncrypT></xml>')).toThrow(/not a text element/);
    expect(() => encryptedPayload('<xml><Encrypt><![CDATA[QUJD]]></EncrypT></xml>')).toThrow(/not a text element/);
  });
});

/** A parse's outcome: its fields, or the message of its error. */
const outcome = (parse: () => unknown) => {
  try {
    return { fields: parse() };
  } catch (error) {
    return { error: String(error) };
  }
};

describe('parseXmlBytes', () => {
  // UTF-8 that is not what the document says, byte by byte: a cut sequence, a stray continuation
  // byte, 0xff, an overlong '/', an encoded surrogate, a BOM; and Unicode spaces trim() takes.
  const odd = {
    cut: Buffer.from([0xe4, 0xb8]),
    stray: Buffer.from([0xad]),
    ff: Buffer.from([0xff]),
    overlong: Buffer.from([0xc0, 0xaf]),
    surrogate: Buffer.from([0xed, 0xa0, 0x80]),
    bom: Buffer.from([0xef, 0xbb, 0xbf]),
  };
  const join = (...parts: (string | Buffer)[]) => Buffer.concat(parts.map((part) => (typeof part === 'string' ? Buffer.from(part) : part)));
  const docs: Buffer[] = [
    ...[...FLAT_DOCS, ...NOT_FLAT].map((doc) => Buffer.from(doc)),
    join('<xml><ToUserName><![CDATA[gh_1]]></ToUserName><Content><![CDATA[', odd.cut, ']]></Content><MsgId>7</MsgId></xml>'),
    join('<xml><Content><![CDATA[a', odd.stray, odd.ff, 'b', odd.overlong, odd.surrogate, ']]></Content></xml>'),
    join('<xml><Content><![CDATA[中', odd.cut, ']]><![CDATA[', odd.stray, '文]]></Content></xml>'), // a character cut across two sections
    join('<xml><Content>', odd.cut, '</Content></xml>'),
    join('<xml><A>\u00a0 a &amp; 中 \u3000</A><B> \u00a0</B><C>\u2028x\u2029</C></xml>'),
    join('<xml><A>', odd.ff, ' &#x4e2d; </A></xml>'),
    join(odd.bom, '<xml><A>1</A></xml>'),
    join('<xml>', odd.ff, '<A>1</A></xml>'),
    join('<xml><A', odd.cut, '>1</A', odd.cut, '></xml>'),
    join('<xml><A>1</A></xml>', odd.cut),
    join('<?xml version="1.0" encoding="', odd.ff, '"?><xml><A>中</A></xml>'),
    join('<xml><A><![CDATA[', odd.ff, '<!DOCTYPE]]></A></xml>'),
    join('<xml><A><![CDATA[<!', odd.ff, 'DOCTYPE]]></A></xml>'),
    join('<!', odd.cut, 'ENTITY <xml></xml>'),
    join('<xml><A><![CDATA[x]]></A><B>', odd.surrogate, '<C>1</C></B></xml>'),
  ];

  it('gives what parseXml gives for the decoded text, or the same error, whatever document it read before', () => {
    for (const before of docs) {
      for (const doc of docs) {
        outcome(() => parseXmlBytes(before));
        const text = doc.toString();
        expect(
          outcome(() => parseXmlBytes(doc)),
          `${text} after ${before.toString()}`,
        ).toEqual(outcome(() => parseXml(text)));
      }
    }
  });

  it('agrees with parseXml on random documents of markup, text and broken UTF-8', () => {
    const pieces = [
      '<xml>',
      '</xml>',
      '<A>',
      '</A>',
      '<B>',
      '</B>',
      '<![CDATA[',
      ']]>',
      ' ',
      'x',
      '中文',
      '&amp;',
      '&#x4e2d;',
      '\u00a0',
      '\u3000',
      '<!DOCTYPE',
      '<',
      '>',
      ...Object.values(odd),
    ];
    let seed = 15;
    const random = (n: number) => {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
      return seed % n;
    };
    const wellFormed = (value: string | Buffer) => join('<xml><A><![CDATA[', value, ']]></A><B>', value, '</B></xml>');
    for (let i = 0; i < 3000; i++) {
      const parts = Array.from({ length: 1 + random(12) }, () => pieces[random(pieces.length)]!);
      const doc = i % 2 === 0 ? join(...parts) : wellFormed(join(...parts));
      const text = doc.toString();
      expect(
        outcome(() => parseXmlBytes(doc)),
        JSON.stringify(text),
      ).toEqual(outcome(() => parseXml(text)));
    }
  });

  it('gives values that keep nothing of the message alive (heap after GC)', () => {
    // ~0.5 MB a message: its bytes, their Latin-1 text, and decoded values of 13+ characters.
    const message = (i: number) =>
      Buffer.from(
        `<xml><ToUserName><![CDATA[gh_0123456789ab]]></ToUserName><Content><![CDATA[你好，这是第${i}条消息]]></Content><MsgId> 70000000000000000${i} </MsgId><F><![CDATA[${'y'.repeat(500_000)}]]></F></xml>`,
      );
    const kept: XmlFieldsOf[] = [];
    const keep = (i: number) => {
      const fields = parseXmlBytes(message(i));
      delete fields['F'];
      kept.push(fields);
    };
    for (let i = 0; i < 3; i++) keep(i); // compiled and warm before the count
    const before = heapAfterGc();
    for (let i = 3; i < 23; i++) keep(i);
    const grown = heapAfterGc() - before;
    expect(kept[3]).toEqual({ ToUserName: 'gh_0123456789ab', Content: '你好，这是第3条消息', MsgId: '700000000000000003' });
    expect(grown).toBeLessThan(5_000_000); // the 20 messages are 10 MB of bytes and 10 MB of text
  });
});

type XmlFieldsOf = ReturnType<typeof parseXmlBytes>;

describe('cdata', () => {
  it('wraps text as it is, and splits every "]]>" so the text reads back whole', () => {
    expect(cdata('你好 <b>&amp;</b>')).toBe('<![CDATA[你好 <b>&amp;</b>]]>');
    expect(cdata('')).toBe('<![CDATA[]]>');
    for (const text of ['a]]>b', ']]>', 'x]]>]]>y]]', ']]]>>']) {
      const wrapped = cdata(text);
      expect(wrapped).toBe(`<![CDATA[${text.replaceAll(']]>', ']]]]><![CDATA[>')}]]>`);
      expect(parseXml(`<xml><Content>${wrapped}</Content></xml>`)).toEqual({ Content: text });
    }
  });
});

describe('passiveReplyXml', () => {
  it('writes a text reply in one template as cdata() per field did, "]]>" split in every field', () => {
    const to = 'o_user]]>1';
    const from = 'gh_]]>account';
    const text = '你好 ]]> <b>&amp;</b> ]]]]>';
    const xml = passiveReplyXml({ type: 'text', text }, to, from, 1_700_000_000_500);
    expect(xml).toBe(
      `<xml><ToUserName>${cdata(to)}</ToUserName><FromUserName>${cdata(from)}</FromUserName><CreateTime>1700000000</CreateTime><MsgType>${cdata('text')}</MsgType><Content>${cdata(text)}</Content></xml>`,
    );
    expect(parseXml(xml)).toEqual({ ToUserName: to, FromUserName: from, CreateTime: '1700000000', MsgType: 'text', Content: text });
  });
});

describe('passiveTextReplyParts', () => {
  it("joined, is passiveReplyXml's text reply, whatever the text and the names hold", () => {
    for (const text of ['', 'x', '你好，这里是 wxbot 的自动回复', ']]>', 'a]]>b]]]>c', '😀\ud800', '<![CDATA[x]]>']) {
      for (const [to, from] of [
        ['o_user1', 'gh_1'],
        ['o]]>u', '公众号'],
        ['', ''],
      ] as const) {
        expect(passiveTextReplyParts(text, to, from, 1_700_000_000_123).join(''), `${text} ${to}`).toBe(passiveReplyXml({ type: 'text', text }, to, from, 1_700_000_000_123));
      }
    }
  });
});

describe('messageFromXml', () => {
  const channel = { kind: 'officialAccount', name: 'oa' } as const;
  const doc = (type: string, content = '你好') =>
    parseXml(
      `<xml><ToUserName><![CDATA[gh_1]]></ToUserName><FromUserName><![CDATA[o1]]></FromUserName><CreateTime>1700000000</CreateTime><MsgType><![CDATA[${type}]]></MsgType><Content><![CDATA[${content}]]></Content><MsgId>7</MsgId></xml>`,
    );

  it('reads MsgType in any case, in one- and two-byte documents; unknown types stay as sent, lower-cased', () => {
    for (const content of ['你好', 'hello']) {
      for (const type of ['text', 'TEXT', 'Text']) expect(messageFromXml(doc(type, content), channel)).toMatchObject({ type: 'text', text: content, id: '7' });
      expect(messageFromXml(doc('Image', content), channel)).toMatchObject({ type: 'image' });
      expect(messageFromXml(doc('shortVideo', content), channel)).toMatchObject({ type: 'shortvideo' });
      expect(messageFromXml(doc('MiniProgramPage', content), channel)).toMatchObject({ type: 'miniprogram' });
      expect(messageFromXml(doc('Sticker', content), channel)).toMatchObject({ type: 'other', msgType: 'sticker' });
    }
  });
});
