/** What the downloaded bytes are, as far as the voice plugin cares. */
export type VoiceContainer = 'amr' | 'amr-wb' | 'silk' | 'other';

const AMR_NB = Buffer.from('#!AMR\n');
const AMR_WB = Buffer.from('#!AMR-WB\n');
const SILK = Buffer.from('#!SILK_V3');

/**
 * Identifies the voice formats WeChat uses by their magic bytes. KF and WeCom send AMR
 * (`#!AMR\n`); WeChat's own SILK v3 (`#!SILK_V3`, in WeChat's files usually after one 0x02
 * byte) needs a separate decoder, because ffmpeg has none. Anything else is left to ffmpeg
 * to recognise.
 */
export function sniffVoice(data: Uint8Array): VoiceContainer {
  const bytes = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  if (bytes.subarray(0, AMR_WB.length).equals(AMR_WB)) return 'amr-wb';
  if (bytes.subarray(0, AMR_NB.length).equals(AMR_NB)) return 'amr';
  if (bytes.subarray(0, SILK.length).equals(SILK) || bytes.subarray(1, 1 + SILK.length).equals(SILK)) return 'silk';
  return 'other';
}

/**
 * Seconds of audio in a PCM WAV file, from its `fmt ` and `data` chunks; undefined when the
 * bytes are not a WAV this can read.
 */
export function wavSeconds(wav: Buffer): number | undefined {
  if (wav.length < 12 || wav.toString('latin1', 0, 4) !== 'RIFF' || wav.toString('latin1', 8, 12) !== 'WAVE') return undefined;
  let byteRate: number | undefined;
  for (let offset = 12; offset + 8 <= wav.length; ) {
    const id = wav.toString('latin1', offset, offset + 4);
    const size = wav.readUInt32LE(offset + 4);
    if (id === 'fmt ' && offset + 20 <= wav.length) byteRate = wav.readUInt32LE(offset + 16);
    if (id === 'data') {
      if (!byteRate) return undefined;
      // A streamed WAV may carry a placeholder size: trust the bytes actually there.
      return Math.min(size, wav.length - offset - 8) / byteRate;
    }
    offset += 8 + size + (size % 2); // chunks are padded to an even length
  }
  return undefined;
}
