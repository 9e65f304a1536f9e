/**
 * A copy of `s` that holds only its own characters, as one flat string. V8 makes a substring
 * of 13+ characters a view into its parent, and a concatenation a pair of pointers, so a key
 * built from a message field (`dedup:{oa:<MsgId>}`, `…:<FromUserName>`) would keep the whole
 * decrypted message alive as long as the key lives.
 *
 * Array join writes its parts into one new sequential string; two parts make it copy (one part
 * it returns as it is). `(' ' + s).slice(1)`, used before, flattened into a new string and kept
 * a view into that: two objects, 32 B more, for every kept field and key. Measured on Node 20:
 * ~20 ns more a copy, a quarter fewer bytes allocated (the parts' array is reused), one object.
 * Shorter strings are never views or pairs in V8: they are returned as they are.
 */
export function owned(s: string): string {
  if (s.length < 13) return s;
  PARTS[0] = s.slice(0, 1);
  PARTS[1] = s.slice(1);
  const copy = PARTS.join('');
  PARTS[1] = ''; // the view into `s` must not keep it alive
  return copy;
}

const PARTS = ['', ''];

/**
 * {@link owned} for a short string kept long (the id in a dedup key, kept minutes): one byte a
 * character whenever its characters all fit in one. V8 keeps every field of a callback with any
 * Chinese in it two bytes a character, digits and ids included, and a copy of a two-byte string
 * is two-byte: a 44-character dedup key is 104 bytes against 64. `String.fromCharCode` makes a
 * one-byte string whenever it can (~50 ns more than `owned` for a 19-digit MsgId). Past 128
 * characters, `owned()`.
 */
export function ownedCompact(s: string): string {
  if (s.length > 128) return owned(s);
  const codes = new Array<number>(s.length);
  for (let i = 0; i < s.length; i++) codes[i] = s.charCodeAt(i);
  return String.fromCharCode(...codes);
}
