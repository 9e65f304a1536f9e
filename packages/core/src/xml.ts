import { XMLParser, XMLValidator } from 'fast-xml-parser';

/** The XML of a callback was not acceptable. Maps to HTTP 400. */
export class XmlError extends Error {
  override readonly name = 'XmlError';
}

/** A flat XML document: WeChat's callbacks are one `<xml>` element of (mostly) leaf fields. */
export type XmlFields = Record<string, unknown>;

// Built once: parsing is on the hot path of every callback.
const parser = new XMLParser({
  ignoreAttributes: true,
  parseTagValue: false, // keep "0012" and 19-digit MsgIds as strings
  trimValues: true,
  processEntities: false, // never expand entities
  ignoreDeclaration: true,
  ignorePiTags: true,
});

// DOCTYPE or ENTITY anywhere means someone is trying entity tricks: refuse outright.
const FORBIDDEN = /<!(?:DOCTYPE|ENTITY)/i;

/**
 * Parses a WeChat XML document and returns the children of its root `<xml>` element.
 * Throws {@link XmlError} for broken XML, a DOCTYPE/ENTITY declaration, or a missing root.
 *
 * `authenticated: true` is for plaintext that came out of a verified, decrypted envelope:
 * it skips the separate validation pass (the parser still rejects what it cannot read).
 */
export function parseXml(text: string, options: { authenticated?: boolean } = {}): XmlFields {
  if (FORBIDDEN.test(text)) throw new XmlError('DOCTYPE and ENTITY declarations are not allowed');
  const flat = parseFlatXml(text);
  if (flat) return flat;
  if (!options.authenticated) {
    const valid = XMLValidator.validate(text);
    if (valid !== true) throw new XmlError(`malformed XML: ${valid.err.msg} (line ${valid.err.line})`);
  }
  let doc: Record<string, unknown>;
  try {
    doc = parser.parse(text) as Record<string, unknown>;
  } catch (error) {
    throw new XmlError(`malformed XML: ${(error as Error).message}`);
  }
  const root = doc['xml'];
  if (root === null || typeof root !== 'object' || Array.isArray(root)) {
    throw new XmlError('the document has no <xml> root element');
  }
  return root as XmlFields;
}

/** An element name as WeChat writes them: a letter or '_', then letters, digits, '_', '.', '-'. */
function isName(text: string, start: number, end: number): boolean {
  if (end <= start) return false;
  for (let i = start; i < end; i++) {
    const c = text.charCodeAt(i);
    const letter = (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || c === 0x5f;
    if (letter) continue;
    if (i > start && ((c >= 0x30 && c <= 0x39) || c === 0x2e || c === 0x2d)) continue;
    return false;
  }
  return true;
}
const isSpace = (code: number) => code === 0x20 || code === 0x0a || code === 0x0d || code === 0x09;

/**
 * The fast path for what WeChat actually sends: one `<xml>` of leaf elements, each plain
 * text or CDATA. Returns undefined for anything else (attributes, nesting, entities,
 * repeated names, comments, trailing content), which then goes to fast-xml-parser: so a
 * document accepted here is well-formed by construction, and the result equals the
 * parser's (a test compares them). It exists because parsing is most of a callback's cost.
 */
export function parseFlatXml(text: string): XmlFields | undefined {
  let i = 0;
  while (i < text.length && isSpace(text.charCodeAt(i))) i++;
  if (text.startsWith('<?xml', i)) {
    const end = text.indexOf('?>', i);
    if (end < 0) return undefined;
    i = end + 2;
    while (i < text.length && isSpace(text.charCodeAt(i))) i++;
  }
  if (!text.startsWith('<xml>', i)) return undefined;
  i += 5;
  const fields: XmlFields = {};
  for (;;) {
    while (i < text.length && isSpace(text.charCodeAt(i))) i++;
    if (text.startsWith('</xml>', i)) {
      for (i += 6; i < text.length; i++) if (!isSpace(text.charCodeAt(i))) return undefined;
      return fields;
    }
    if (text.charCodeAt(i) !== 0x3c /* < */) return undefined;
    const close = text.indexOf('>', i);
    if (close < 0 || !isName(text, i + 1, close)) return undefined;
    const name = text.slice(i + 1, close);
    if (name in fields) return undefined;
    i = close + 1;
    let value = '';
    if (text.startsWith('<![CDATA[', i)) {
      // Adjacent CDATA sections join up (that is how a literal "]]>" is written).
      while (text.startsWith('<![CDATA[', i)) {
        const end = text.indexOf(']]>', i + 9);
        if (end < 0) return undefined;
        value += text.slice(i + 9, end);
        i = end + 3;
      }
    } else {
      const end = text.indexOf('<', i);
      if (end < 0) return undefined;
      value = text.slice(i, end).trim(); // text is trimmed, CDATA kept as sent (as the parser does)
      if (value.includes('&')) return undefined;
      i = end;
    }
    // The matching close tag: "</" name ">".
    if (text.charCodeAt(i) !== 0x3c || text.charCodeAt(i + 1) !== 0x2f || !text.startsWith(name, i + 2) || text.charCodeAt(i + 2 + name.length) !== 0x3e) return undefined;
    i += name.length + 3;
    fields[name] = value;
  }
}

/** Reads a leaf field as a string ('' when absent). */
export function field(fields: XmlFields, name: string): string {
  const value = fields[name];
  if (value === undefined || value === null) return '';
  return typeof value === 'string' ? value : String(value);
}

/** Wraps text in CDATA, splitting any `]]>` so it cannot close the section early. */
export function cdata(text: string): string {
  return `<![CDATA[${text.replaceAll(']]>', ']]]]><![CDATA[>')}]]>`;
}

/** Extracts the Encrypt element of an encrypted callback body ('' when there is none). */
export function encryptedPayload(body: string): string {
  if (FORBIDDEN.test(body)) throw new XmlError('DOCTYPE and ENTITY declarations are not allowed');
  const fast = envelopeFastPath(body);
  if (fast !== undefined) return fast;
  return field(parseXml(body), 'Encrypt');
}

const OPEN = '<Encrypt><![CDATA[';
const CLOSE = ']]></Encrypt>';

/**
 * The envelope as WeChat writes it: one `<xml>` … `</xml>` holding exactly one
 * `<Encrypt><![CDATA[base64]]></Encrypt>`. Found with indexOf scans (linear: no regex
 * backtracking on an unauthenticated body); anything else returns undefined for the parser.
 */
function envelopeFastPath(body: string): string | undefined {
  const start = body.indexOf(OPEN);
  if (start < 0 || body.indexOf(OPEN, start + 1) >= 0) return undefined;
  const end = body.indexOf(CLOSE, start + OPEN.length);
  if (end < 0) return undefined;
  const trimmed = body.trim();
  if (!trimmed.startsWith('<xml>') || !trimmed.endsWith('</xml>')) return undefined;
  const payload = body.slice(start + OPEN.length, end);
  for (let i = 0; i < payload.length; i++) {
    const c = payload.charCodeAt(i);
    const base64 = (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || (c >= 0x30 && c <= 0x39) || c === 0x2b || c === 0x2f || c === 0x3d;
    if (!base64) return undefined;
  }
  return payload;
}
