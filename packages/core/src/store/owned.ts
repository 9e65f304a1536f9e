/**
 * A copy of `s` that holds only its own characters. V8 makes a substring of 13+ characters a
 * view into its parent, and a concatenation a pair of pointers, so a key built from a message
 * field (`dedup:{oa:<MsgId>}`, `…:<FromUserName>`) would keep the whole decrypted message alive
 * as long as the key lives. Concatenating then slicing makes V8 flatten into a new string of
 * the key's length, which the slice then points into. One short copy.
 */
export function owned(s: string): string {
  // biome-ignore lint/style/useTemplate: the concatenation-then-slice is the point (a flat copy)
  return (' ' + s).slice(1);
}
