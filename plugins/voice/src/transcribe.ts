import type { Logger } from '@wxbot/core';
import { VoiceTranscriptionError } from './errors.ts';

/**
 * Sent as the key when none is configured: the SDK refuses to start without one, and an
 * explicit placeholder keeps it from falling back to `OPENAI_API_KEY`, which would hand a real
 * OpenAI key to whatever server `baseURL` names.
 */
const PLACEHOLDER_KEY = 'no-key';

/** What a transcription call needs. */
export interface TranscriberOptions {
  baseURL?: string;
  apiKey?: string;
  model: string;
  language?: string;
  prompt?: string;
  timeoutMs: number;
  maxRetries: number;
}

/** Turns WAV audio into text through `POST /audio/transcriptions`. */
export type Transcriber = (wav: Buffer) => Promise<string>;

/** The SDK's own log lines into pino; its retry notices (info) are detail, so debug. */
function sdkLogger(log: Logger) {
  return {
    error: (message: string, ...rest: unknown[]) => log.error({ details: rest }, message),
    warn: (message: string, ...rest: unknown[]) => log.warn({ details: rest }, message),
    info: (message: string, ...rest: unknown[]) => log.debug({ details: rest }, message),
    debug: (message: string, ...rest: unknown[]) => log.debug({ details: rest }, message),
  };
}

/**
 * A transcriber for any OpenAI-compatible endpoint (OpenAI, Groq, a local faster-whisper or
 * whisper.cpp server…). Failures become {@link VoiceTranscriptionError} with stage
 * `transcribe`; an empty transcript is one too, since there is nothing to answer. Resolves once
 * the SDK is loaded (at the plugin's setup).
 */
export async function createTranscriber(options: TranscriberOptions, log: Logger): Promise<Transcriber> {
  const { model, language, prompt, timeoutMs } = options;
  // Loaded only when an endpoint is configured: a bot that transcribes nothing (or only with
  // WeChat's own Recognition) does not carry the SDK's ~2 MiB of heap.
  const { default: OpenAI, APIConnectionError, APIConnectionTimeoutError, APIError, toFile } = await import('openai');
  const client = new OpenAI({
    apiKey: options.apiKey ?? PLACEHOLDER_KEY,
    ...(options.baseURL !== undefined && { baseURL: options.baseURL }),
    timeout: timeoutMs,
    maxRetries: options.maxRetries,
    logger: sdkLogger(log),
  });

  return async (wav) => {
    // One deadline for the call and its retries: the user waits for all of them together.
    const deadline = AbortSignal.timeout(timeoutMs);
    let text: string;
    try {
      const file = await toFile(wav, 'voice.wav', { type: 'audio/wav' });
      const result = await client.audio.transcriptions.create(
        { file, model, ...(language !== undefined && { language }), ...(prompt !== undefined && { prompt }) },
        { signal: deadline },
      );
      text = result.text.trim();
    } catch (error) {
      const timedOut = deadline.aborted || error instanceof APIConnectionTimeoutError;
      const status = error instanceof APIError ? error.status : undefined;
      // Outages and overload fix themselves; anything else (bad key, unknown model) needs a person.
      const transient = timedOut || error instanceof APIConnectionError || status === 429 || (status !== undefined && status >= 500);
      const message = timedOut ? `the transcription endpoint did not answer within ${timeoutMs} ms` : `the transcription endpoint failed${status ? ` (HTTP ${status})` : ''}`;
      throw new VoiceTranscriptionError('transcribe', message, transient, { cause: error, ...(status !== undefined && { status }) });
    }
    if (!text) throw new VoiceTranscriptionError('transcribe', 'the transcription endpoint heard nothing (empty transcript)', true);
    return text;
  };
}
