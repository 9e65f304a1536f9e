import { owned } from './store/owned.ts';

/** The XML of a callback was not acceptable. Maps to HTTP 400. */
export class XmlError extends Error {
  override readonly name = 'XmlError';
}

/** A WeChat XML document: the children of its root `<xml>` element (nested ones as objects, repeats as arrays). */
export type XmlFields = Record<string, unknown>;

/**
 * Bounds on what the parser accepts. WeChat's deepest callbacks (WeCom approval events) nest
 * about 7 levels and hold a few hundred elements; anything far beyond is not a callback.
 */
export const XML_LIMITS = { maxDepth: 32, maxElements: 10_000 } as const;

// DOCTYPE or ENTITY anywhere means someone is trying entity tricks: refuse outright.
const FORBIDDEN = /<!(?:DOCTYPE|ENTITY)/i;

/**
 * `FORBIDDEN.test(text)` by an indexOf for each '<!' and a look at the letters after it (ASCII
 * case-insensitively, as /i without /u does; xml.test.ts compares them). For an encrypted body
 * (a long base64 text and one or two CDATA sections): ~0.13 against ~0.35 µs, measured; on a
 * decrypted message, a '<!' every field, the regex is as fast, and parseXml keeps it.
 */
export function hasDeclaration(text: string): boolean {
  for (let i = text.indexOf('<!'); i >= 0; i = text.indexOf('<!', i + 2)) {
    if (lettersAt(text, i + 2, 'doctype') || lettersAt(text, i + 2, 'entity')) return true;
  }
  return false;
}

/** Whether `text` holds the lower-case ASCII `word` at `at`, in either case. */
function lettersAt(text: string, at: number, word: string): boolean {
  for (let k = 0; k < word.length; k++) if ((text.charCodeAt(at + k) | 0x20) !== word.charCodeAt(k)) return false;
  return true;
}

/**
 * Parses a WeChat XML document and returns the children of its root `<xml>` element.
 * Throws {@link XmlError} for broken XML, a DOCTYPE/ENTITY declaration, a missing root, or a
 * document deeper or larger than {@link XML_LIMITS}. Text outside CDATA has its entities
 * decoded (the five predefined ones and character references: never declared ones); CDATA is
 * kept as sent. Linear in the length of the text.
 */
export function parseXml(text: string): XmlFields {
  if (FORBIDDEN.test(text)) throw new XmlError('DOCTYPE and ENTITY declarations are not allowed');
  return flatFields(text, undefined) ?? parseTree(text);
}

/**
 * {@link parseXml} of a document given as UTF-8 bytes (a decrypted message): the same fields, or
 * the same error, as `parseXml(bytes.toString())`. The markup is read from the bytes' Latin-1
 * text, where each byte is one character: a one-byte string copied from the bytes, whose offsets
 * are the bytes' own. Every character of the markup, and of '<!DOCTYPE'/'<!ENTITY' (FORBIDDEN
 * matches ASCII only, /i without /u), is ASCII, and a UTF-8 decoder keeps each ASCII byte as that
 * character, so the fast path sees the same structure there as in the decoded text. Each value
 * is decoded from its own bytes, between ASCII markup, as the whole text's decoding has it there
 * (a sequence cut short by the markup is U+FFFD either way): a new string of its own, one-byte
 * when it is ASCII, with nothing of the message behind it (no owned() copy), where the decoded
 * text gave two-byte slices of itself whenever the message had Chinese in it. A document the
 * fast path declines is decoded whole and goes to the general parser, as parseXml does.
 */
export function parseXmlBytes(bytes: Buffer): XmlFields {
  const text = bytes.toString('latin1');
  if (FORBIDDEN.test(text)) throw new XmlError('DOCTYPE and ENTITY declarations are not allowed');
  return flatFields(text, bytes) ?? parseTree(bytes.toString());
}

const ENTITY = /&(?:#[xX]([0-9a-fA-F]{1,6})|#([0-9]{1,7})|(amp|lt|gt|quot|apos));/g;
const NAMED: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

/**
 * Decodes the predefined XML entities and character references of text outside CDATA
 * (WeCom sends some fields without CDATA: `a &amp; b` means `a & b`). Anything else that
 * starts with `&` is kept as written.
 */
export function decodeEntities(text: string): string {
  if (!text.includes('&')) return text;
  return text.replace(ENTITY, (whole, hex: string | undefined, dec: string | undefined, name: string | undefined) => {
    if (name) return NAMED[name] ?? whole;
    const code = hex ? Number.parseInt(hex, 16) : Number(dec);
    const valid = code === 0x9 || code === 0xa || code === 0xd || (code >= 0x20 && code <= 0x10ffff && !(code >= 0xd800 && code <= 0xdfff));
    return valid ? String.fromCodePoint(code) : whole;
  });
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
const isBlank = (text: string) => {
  for (let i = 0; i < text.length; i++) if (!isSpace(text.charCodeAt(i))) return false;
  return true;
};

/**
 * The fast path for what WeChat actually sends: one `<xml>` of leaf elements, each plain
 * text or CDATA. Returns undefined for anything else (attributes, nesting, repeated names,
 * comments, trailing content), which then goes to the general parser; the two agree on
 * every document the fast path accepts (a test compares them). It exists because parsing
 * is most of a callback's cost.
 */
export function parseFlatXml(text: string): XmlFields | undefined {
  return flatFields(text, undefined);
}

/**
 * The fast path over `text`; with `bytes`, `text` is their Latin-1 text (see parseXmlBytes) and
 * each value is decoded from them as UTF-8. `toString(undefined, start, end)`: the documented
 * default encoding, which Buffer#toString decodes without looking an encoding up.
 */
function flatFields(text: string, bytes: Buffer | undefined): XmlFields | undefined {
  let i = 0;
  while (i < text.length && isSpace(text.charCodeAt(i))) i++;
  if (text.slice(i, i + 5) === '<?xml') {
    const end = text.indexOf('?>', i);
    if (end < 0) return undefined;
    i = end + 2;
    while (i < text.length && isSpace(text.charCodeAt(i))) i++;
  }
  if (text.slice(i, i + 5) !== '<xml>') return undefined;
  i += 5;
  const fields: XmlFields = {};
  let count = 0;
  // The names of the last document, in order: while this one follows them, each start tag is
  // checked against its expected name instead of being scanned, sliced and looked up.
  const expected = lastNames;
  let following = true;
  for (;;) {
    while (i < text.length && isSpace(text.charCodeAt(i))) i++;
    if (text.charCodeAt(i + 1) === 0x2f /* / */ && text.slice(i, i + 6) === '</xml>') {
      for (i += 6; i < text.length; i++) if (!isSpace(text.charCodeAt(i))) return undefined;
      if (!following || count !== expected.length) lastNames = count <= MAX_EXPECTED_NAMES ? Object.keys(fields) : [];
      return fields;
    }
    if (text.charCodeAt(i) !== 0x3c /* < */) return undefined;
    let name = following ? expected[count] : undefined;
    let close: number;
    // Names and markers are compared as a slice of the text with ===, not by startsWith: for
    // a few characters (their slice a copy), V8's string equality is one loop over both strings,
    // where the startsWith TurboFan inlines reads each character of each string apart (~330
    // against ~200 instructions a name; a bench message's parseXml 17.3k -> 15.1k instructions
    // with the CDATA openers, micro under callgrind). So are '<xml>', '</xml>' and encryptedPayload's
    // markers (a bench callback's encryptedPayload and parseXml: 18.7k -> 18.0k).
    if (name !== undefined && text.charCodeAt(i + 1 + name.length) === 0x3e /* > */ && text.slice(i + 1, i + 1 + name.length) === name) {
      // A name has no '>': this is the first '>' after '<', as below. The expected names are
      // the keys of a document read before: distinct, none of them __proto__.
      close = i + 1 + name.length;
    } else {
      following = false;
      close = text.indexOf('>', i);
      if (close < 0 || !isName(text, i + 1, close)) return undefined;
      name = nameOf(text.slice(i + 1, close));
      if (Object.hasOwn(fields, name) || name === '__proto__') return undefined;
    }
    if (++count > XML_LIMITS.maxElements) throw new XmlError(`more than ${XML_LIMITS.maxElements} elements`);
    i = close + 1;
    let value = '';
    // A value decoded from the bytes is a string of its own, unless CDATA sections were joined.
    let ownString = bytes !== undefined;
    if (text.charCodeAt(i + 1) === 0x21 /* ! */ && text.slice(i, i + 9) === CDATA_OPEN) {
      // Adjacent CDATA sections join up (that is how a literal "]]>" is written).
      do {
        const end = text.indexOf(']]>', i + 9);
        if (end < 0) return undefined;
        if (value !== '') ownString = false;
        value += bytes === undefined ? text.slice(i + 9, end) : bytes.toString(undefined, i + 9, end);
        i = end + 3;
      } while (text.charCodeAt(i + 1) === 0x21 && text.slice(i, i + 9) === CDATA_OPEN);
    } else {
      const end = text.indexOf('<', i);
      if (end < 0) return undefined;
      // Text is trimmed, CDATA kept as sent. A trimmed value is a view of its own string only.
      value = decodeEntities((bytes === undefined ? text.slice(i, end) : bytes.toString(undefined, i, end)).trim());
      i = end;
    }
    // The matching close tag: "</" name ">".
    if (text.charCodeAt(i) !== 0x3c || text.charCodeAt(i + 1) !== 0x2f || text.charCodeAt(i + 2 + name.length) !== 0x3e || text.slice(i + 2, i + 2 + name.length) !== name)
      return undefined;
    i += name.length + 3;
    // A slice of 13+ characters is a view into the whole text: a field kept anywhere (a dedup
    // key, a history entry) would keep the whole decrypted message alive. owned() copies those.
    fields[name] = ownString ? value : owned(value);
  }
}

const CDATA_OPEN = '<![CDATA[';

/** The element names of the last document {@link parseFlatXml} read (none past this many). */
let lastNames: readonly string[] = [];
const MAX_EXPECTED_NAMES = 64;

/**
 * Element names met so far, one string each: a field stored under a name seen before skips
 * V8's string-table lookup for the fresh slice (WeChat sends the same few dozen names in every
 * callback; ~0.5 µs of ~3 a callback, measured). Bounded: past the limit, names are used as sliced.
 */
const NAMES = new Map<string, string>();
const MAX_NAMES = 512;

function nameOf(slice: string): string {
  let name = NAMES.get(slice);
  if (name === undefined) {
    name = owned(slice); // the first slice of a name must not keep its callback's text alive
    if (NAMES.size < MAX_NAMES) NAMES.set(name, name);
  }
  return name;
}

/** An element being read: its name, children so far, and its text pieces. */
interface Frame {
  readonly name: string;
  children: XmlFields | undefined;
  /** All text outside CDATA, decoded. */
  text: string;
  /** CDATA and non-blank text, in order (the value when the element holds CDATA). */
  mixed: string;
  hasCdata: boolean;
}

/**
 * The general parser: elements, text, CDATA, comments, processing instructions; attributes
 * are skipped. Leaves become strings, elements with children objects, repeated names arrays
 * (the shape fast-xml-parser gave). One pass with indexOf scans, bounded by XML_LIMITS.
 */
function parseTree(text: string): XmlFields {
  const stack: Frame[] = [];
  let root: XmlFields | undefined;
  let elements = 0;
  let i = 0;
  const fail = (why: string): never => {
    throw new XmlError(`malformed XML: ${why}`);
  };
  const assign = (frame: Frame, value: unknown) => {
    const parent = stack[stack.length - 1];
    if (!parent) {
      if (frame.name !== 'xml') throw new XmlError('the document has no <xml> root element');
      root = typeof value === 'object' ? (value as XmlFields) : {};
      return;
    }
    const children = (parent.children ??= {});
    const previous = children[frame.name];
    if (!Object.hasOwn(children, frame.name)) children[frame.name] = value;
    else if (Array.isArray(previous)) previous.push(value);
    else children[frame.name] = [previous, value];
  };
  const valueOfFrame = (frame: Frame): unknown => {
    if (frame.children) {
      if (!isBlank(frame.text) || frame.hasCdata) frame.children['#text'] = frame.hasCdata ? frame.mixed : frame.text.trim();
      return frame.children;
    }
    return owned(frame.hasCdata ? frame.mixed : frame.text.trim());
  };
  while (i < text.length) {
    const lt = text.indexOf('<', i);
    const end = lt < 0 ? text.length : lt;
    if (end > i) {
      const chunk = text.slice(i, end);
      const top = stack[stack.length - 1];
      if (top) {
        const decoded = decodeEntities(chunk);
        top.text += decoded;
        if (!isBlank(chunk)) top.mixed += decoded;
      } else if (!isBlank(chunk)) fail('text outside the root element');
    }
    if (lt < 0) break;
    if (text.startsWith('<![CDATA[', lt)) {
      const top = stack[stack.length - 1] ?? fail('CDATA outside the root element');
      const close = text.indexOf(']]>', lt + 9);
      if (close < 0) fail('unterminated CDATA section');
      top.mixed += text.slice(lt + 9, close);
      top.hasCdata = true;
      i = close + 3;
    } else if (text.startsWith('<!--', lt)) {
      const close = text.indexOf('-->', lt + 4);
      if (close < 0) fail('unterminated comment');
      i = close + 3;
    } else if (text.startsWith('<?', lt)) {
      const close = text.indexOf('?>', lt + 2);
      if (close < 0) fail('unterminated processing instruction');
      i = close + 2;
    } else if (text.startsWith('<!', lt)) {
      fail('declarations are not allowed');
    } else if (text.charCodeAt(lt + 1) === 0x2f /* / */) {
      const close = text.indexOf('>', lt + 2);
      if (close < 0) fail('unterminated end tag');
      const name = text.slice(lt + 2, close).trimEnd();
      const frame = stack.pop() ?? fail(`end tag </${name}> without a start tag`);
      if (frame.name !== name) fail(`</${name}> closes <${frame.name}>`);
      assign(frame, valueOfFrame(frame));
      i = close + 1;
    } else {
      let j = lt + 1;
      while (j < text.length) {
        const c = text.charCodeAt(j);
        if (isSpace(c) || c === 0x3e || c === 0x2f || c === 0x3c) break;
        j++;
      }
      const name = text.slice(lt + 1, j);
      if (!name) fail('empty element name');
      if (name === '__proto__') fail('reserved element name');
      if (root !== undefined) fail('content after the root element');
      // Skip attributes (quoted values may hold '>') up to the end of the start tag.
      let close = -1;
      for (let k = j; k < text.length; k++) {
        const c = text.charCodeAt(k);
        if (c === 0x22 || c === 0x27) {
          k = text.indexOf(c === 0x22 ? '"' : "'", k + 1);
          if (k < 0) break;
        } else if (c === 0x3e) {
          close = k;
          break;
        } else if (c === 0x3c) break;
      }
      if (close < 0) fail(`unterminated start tag <${name}>`);
      if (++elements > XML_LIMITS.maxElements) throw new XmlError(`more than ${XML_LIMITS.maxElements} elements`);
      if (stack.length >= XML_LIMITS.maxDepth) throw new XmlError(`elements nested deeper than ${XML_LIMITS.maxDepth}`);
      const frame: Frame = { name, children: undefined, text: '', mixed: '', hasCdata: false };
      if (text.charCodeAt(close - 1) === 0x2f /* self-closing */) assign(frame, '');
      else stack.push(frame);
      i = close + 1;
    }
  }
  if (stack.length > 0) fail(`<${stack[stack.length - 1]?.name}> is not closed`);
  if (root === undefined) throw new XmlError('the document has no <xml> root element');
  return root;
}

/** Reads a leaf field as a string ('' when absent). */
export function field(fields: XmlFields, name: string): string {
  return fieldText(fields[name]);
}

/**
 * A leaf field's value as {@link field} reads it: the string, '' when absent. For a caller that
 * loads `fields['Name']` itself (messageFromXml: a load site of its own for each name, which V8
 * optimizes for the few shapes a callback's fields have, where field()'s one keyed load, shared by
 * every name, goes through the megamorphic stub cache).
 */
export function fieldText(value: unknown): string {
  return typeof value === 'string' ? value : value === undefined || value === null ? '' : String(value);
}

/** Wraps text in CDATA, splitting any `]]>` so it cannot close the section early. */
export function cdata(text: string): string {
  return `<![CDATA[${inCdata(text)}]]>`;
}

/**
 * The text to write between `<![CDATA[` and `]]>`: each `]]>` split across two sections.
 * For a template that writes the markup itself (the passive reply: one template, not one per field).
 */
export function inCdata(text: string): string {
  // replaceAll costs ~45 ns a call even when nothing matches, includes ~10 (measured, Node 20):
  // a passive reply wraps four texts, which hardly ever hold "]]>".
  return text.includes(']]>') ? text.replaceAll(']]>', ']]]]><![CDATA[>') : text;
}

const OPEN = '<Encrypt>';
const CLOSE = '</Encrypt>';

/**
 * Extracts the Encrypt element of an encrypted callback body ('' when there is none),
 * WITHOUT parsing the body: the body is unauthenticated until the signature over this value
 * has been checked, so it gets a bounded scan only (indexOf, linear, no parser, no regex
 * backtracking). `<Encrypt>` inside a CDATA section (a compat-mode plaintext field) does not
 * count; two Encrypt elements are refused.
 */
export function encryptedPayload(body: string): string {
  if (hasDeclaration(body)) throw new XmlError('DOCTYPE and ENTITY declarations are not allowed');
  let found: string | undefined;
  let i = 0;
  // Both searches only move forward, so the scan is linear however the body is built.
  let open = body.indexOf(OPEN);
  let cdataStart = body.indexOf('<![CDATA[');
  while (open >= 0) {
    if (cdataStart >= 0 && cdataStart < open) {
      const end = body.indexOf(']]>', cdataStart + 9);
      if (end < 0) throw new XmlError('malformed XML: unterminated CDATA section');
      i = end + 3;
      cdataStart = body.indexOf('<![CDATA[', i);
      if (open < i) open = body.indexOf(OPEN, i);
      continue;
    }
    if (found !== undefined) throw new XmlError('more than one Encrypt element');
    let start = open + OPEN.length;
    let value: string;
    if (body.slice(start, start + 9) === CDATA_OPEN) {
      const end = body.indexOf(']]>', start + 9);
      if (end < 0) throw new XmlError('malformed XML: unterminated CDATA section');
      value = body.slice(start + 9, end);
      start = end + 3;
    } else {
      const end = body.indexOf('<', start);
      if (end < 0) throw new XmlError('malformed XML: unterminated Encrypt element');
      value = body.slice(start, end).trim();
      start = end;
    }
    if (body.slice(start, start + CLOSE.length) !== CLOSE) throw new XmlError('malformed XML: Encrypt is not a text element');
    found = value;
    i = start + CLOSE.length;
    if (cdataStart >= 0 && cdataStart < i) cdataStart = body.indexOf('<![CDATA[', i);
    open = body.indexOf(OPEN, i);
  }
  return found ?? '';
}
