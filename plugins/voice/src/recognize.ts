import type { MediaFile, VoiceMessage } from '@wxbot/core';
import { SilkNotSupportedError, VoiceTranscriptionError } from './errors.ts';
import { convertToWav, type ConvertedAudio } from './ffmpeg.ts';
import type { Limiter } from './limit.ts';
import type { SilkDecoder } from './options.ts';
import { sniffVoice, type VoiceContainer } from './sniff.ts';
import type { Transcriber } from './transcribe.ts';

/** What turning one voice message into text needs. */
export interface RecognizeDeps {
  download(mediaId: string): Promise<MediaFile>;
  ffmpegPath: string;
  ffmpegTimeoutMs: number;
  maxSeconds: number;
  silkDecoder?: SilkDecoder | undefined;
  transcribe: Transcriber;
  limit: Limiter;
}

/** A transcript and what it was made from (for the log line). */
export interface Recognized {
  text: string;
  bytes: number;
  container: VoiceContainer;
  seconds: number;
}

/** A conversion failure (ffmpeg, the SILK decoder, the temporary files) as a stage-tagged error. */
function decodeError(error: unknown): VoiceTranscriptionError {
  // Bad bytes or a timeout may not repeat with the next voice; a missing SILK decoder will.
  const transient = !(error instanceof SilkNotSupportedError);
  return new VoiceTranscriptionError('decode', (error as Error).message, transient, { cause: error });
}

/** Decodes SILK with the configured decoder (or explains why it cannot), then converts. */
async function toWav(data: Buffer, container: VoiceContainer, deps: RecognizeDeps): Promise<ConvertedAudio> {
  const convert = { ffmpegPath: deps.ffmpegPath, timeoutMs: deps.ffmpegTimeoutMs, maxSeconds: deps.maxSeconds };
  if (container !== 'silk') return convertToWav(data, convert);
  if (!deps.silkDecoder) {
    throw new SilkNotSupportedError('the voice is WeChat SILK v3, which ffmpeg cannot decode; set the silkDecoder option (e.g. with silk-wasm) to transcribe it');
  }
  let decoded: Awaited<ReturnType<SilkDecoder>>;
  try {
    decoded = await deps.silkDecoder(data);
  } catch (error) {
    throw new Error(`the SILK decoder failed: ${(error as Error).message}`, { cause: error });
  }
  return decoded instanceof Uint8Array ? convertToWav(decoded, convert) : convertToWav(decoded.pcm, { ...convert, pcmSampleRate: decoded.sampleRate });
}

/**
 * Downloads a voice message (media/get through the channel's API), converts it to 16 kHz
 * mono WAV with ffmpeg, and transcribes it. Every failure is a {@link VoiceTranscriptionError}
 * naming the stage.
 */
export async function recognize(voice: VoiceMessage, deps: RecognizeDeps): Promise<Recognized> {
  let media: MediaFile;
  try {
    media = await deps.download(voice.mediaId);
  } catch (error) {
    throw new VoiceTranscriptionError('download', `the voice could not be downloaded: ${(error as Error).message}`, true, { cause: error });
  }
  if (media.data.length === 0) throw new VoiceTranscriptionError('download', 'the downloaded voice is empty', true);
  const container = sniffVoice(media.data);

  // Conversion and upload share one slot: both are the heavy part.
  return deps.limit(async () => {
    let audio: ConvertedAudio;
    try {
      audio = await toWav(media.data, container, deps);
    } catch (error) {
      throw decodeError(error);
    }
    const text = await deps.transcribe(audio.wav);
    return { text, bytes: media.data.length, container, seconds: audio.seconds };
  });
}
