import { XMLParser } from 'fast-xml-parser';

/** Field values of a callback: strings go in CDATA, numbers as they are. */
export type Fields = Record<string, string | number | undefined>;

const escapeCdata = (text: string) => text.replaceAll(']]>', ']]]]><![CDATA[>');

/** Builds `<xml>…</xml>` the way WeChat's servers write callbacks. */
export function buildXml(fields: Fields): string {
  let xml = '<xml>';
  for (const [name, value] of Object.entries(fields)) {
    if (value === undefined) continue;
    xml += typeof value === 'number' ? `<${name}>${value}</${name}>` : `<${name}><![CDATA[${escapeCdata(value)}]]></${name}>`;
  }
  return `${xml}</xml>`;
}

const parser = new XMLParser({ parseTagValue: false, processEntities: false, trimValues: true });

/** Parses a reply document into its `<xml>` children (nested elements become objects). */
export function readXml(text: string): Record<string, unknown> {
  const doc = parser.parse(text) as { xml?: Record<string, unknown> };
  if (!doc.xml || typeof doc.xml !== 'object') throw new Error(`not a WeChat XML document: ${text.slice(0, 80)}`);
  return doc.xml;
}
