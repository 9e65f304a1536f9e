/** Where in the voice pipeline something failed. */
export type VoiceStage = 'download' | 'decode' | 'transcribe';

/**
 * A voice message could not be turned into text. `transient` says whether it may work on a
 * later try (a network error, a timeout, a 5xx) or needs a person (a bad key, a missing
 * decoder): the plugin logs the first at `warn` and the second at `error`.
 */
export class VoiceTranscriptionError extends Error {
  override readonly name = 'VoiceTranscriptionError';
  /** The HTTP status of a failed endpoint call, when there was one. */
  readonly status: number | undefined;

  constructor(
    readonly stage: VoiceStage,
    message: string,
    readonly transient: boolean,
    options?: { cause?: unknown; status?: number },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.status = options?.status;
  }
}

/** The voice arrived as WeChat SILK v3, which ffmpeg cannot decode, and no `silkDecoder` is set. */
export class SilkNotSupportedError extends Error {
  override readonly name = 'SilkNotSupportedError';
}

/**
 * ffmpeg is missing or does not run. Thrown from setup, so the bot refuses to start rather
 * than apologising for every voice message.
 */
export class FfmpegNotFoundError extends Error {
  override readonly name = 'FfmpegNotFoundError';
}

/** ffmpeg ran but failed, or took longer than allowed. */
export class FfmpegError extends Error {
  override readonly name = 'FfmpegError';
  constructor(
    message: string,
    readonly timedOut = false,
  ) {
    super(message);
  }
}

/** The error with `secret` blanked out, should it ever appear in a message or stack. */
export function withoutSecret(error: unknown, secret: string | undefined): unknown {
  if (!secret || !(error instanceof Error) || !`${error.message}${error.stack ?? ''}`.includes(secret)) return error;
  const copy = new Error(error.message.replaceAll(secret, '[redacted]'));
  copy.name = error.name;
  copy.stack = error.stack?.replaceAll(secret, '[redacted]');
  return copy;
}
