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
 */
export function parseXml(text: string): XmlFields {
  if (FORBIDDEN.test(text)) throw new XmlError('DOCTYPE and ENTITY declarations are not allowed');
  const valid = XMLValidator.validate(text);
  if (valid !== true) throw new XmlError(`malformed XML: ${valid.err.msg} (line ${valid.err.line})`);
  const doc = parser.parse(text) as Record<string, unknown>;
  const root = doc['xml'];
  if (root === null || typeof root !== 'object' || Array.isArray(root)) {
    throw new XmlError('the document has no <xml> root element');
  }
  return root as XmlFields;
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
