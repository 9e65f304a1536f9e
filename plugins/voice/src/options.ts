import { z } from 'zod';

/** What a SILK decoder may return: a file ffmpeg can read (e.g. WAV), or raw PCM with its rate. */
export type DecodedSilk = Uint8Array | { pcm: Uint8Array; sampleRate: number };

/**
 * Decodes WeChat SILK v3 voice, which ffmpeg cannot: plug in a decoder such as `silk-wasm`
 * (`async (silk) => { const { data } = await decode(silk, 24000); return { pcm: data, sampleRate: 24000 }; }`).
 */
export type SilkDecoder = (silk: Buffer) => DecodedSilk | Promise<DecodedSilk>;

/** The options of {@link voice}, checked when the bot starts. */
export const voiceOptionsSchema = z
  .object({
    /** An OpenAI-compatible endpoint, e.g. `http://127.0.0.1:8000/v1`; default api.openai.com (or `OPENAI_BASE_URL`). */
    baseURL: z.url({ protocol: /^https?$/ }).optional(),
    /** The API key; may be left out when `baseURL` points at a server that needs none. */
    apiKey: z.string().min(1).optional(),
    /** The transcription model. */
    model: z.string().min(1).default('whisper-1'),
    /** ISO-639-1 language of the speech (`zh`, `en`…): faster and more accurate when known. */
    language: z.string().min(2).optional(),
    /** Text that guides the model: product names, the expected style. */
    prompt: z.string().min(1).optional(),
    /** The most one transcription call may take, retries included; the user gets the apology after. */
    timeoutMs: z.number().int().positive().default(30_000),
    /** Retries of a failed call (connection errors, 429, 5xx) inside `timeoutMs`. */
    maxRetries: z.number().int().min(0).max(10).default(1),
    /**
     * `false`: no transcription endpoint. Only Official Account voice that carries WeChat's own
     * transcript (`Recognition`) is understood (no ffmpeg needed); other voice goes on to the
     * next plugin as a voice message.
     */
    transcribe: z.boolean().default(true),
    /** Use the transcript an Official Account already carries (`Recognition`) instead of calling the endpoint. */
    useRecognition: z.boolean().default(true),
    /** ffmpeg to run; default: `ffmpeg` found on PATH. Checked at start. */
    ffmpegPath: z.string().min(1).optional(),
    /** The most one conversion may take. */
    ffmpegTimeoutMs: z.number().int().positive().default(10_000),
    /** Audio past this many seconds is not transcribed (WeChat voice lasts at most 60 s). */
    maxSeconds: z.number().positive().max(1200).default(120),
    /** Conversions and calls running at once; more voice messages wait their turn. */
    concurrency: z.number().int().positive().default(4),
    /** Decoder for WeChat SILK v3 voice, which ffmpeg cannot read; without it SILK gets the apology. */
    silkDecoder: z.custom<SilkDecoder>((value) => typeof value === 'function', { message: 'must be a function' }).optional(),
    /** First answer with the transcript (`echoTemplate`), then let the other plugins answer it. */
    echoTranscript: z.boolean().default(false),
    /** The echo; `{text}` is replaced by the transcript. */
    echoTemplate: z.string().min(1).optional(),
    /** What the user gets when the voice cannot be understood (download, conversion or endpoint failed, or nothing was heard). */
    apology: z.string().min(1).optional(),
  })
  .refine((o) => !o.transcribe || o.apiKey !== undefined || o.baseURL !== undefined, {
    path: ['apiKey'],
    message: "give apiKey, or baseURL for a server that needs no key (or transcribe: false to use only WeChat's Recognition)",
  })
  .refine((o) => o.transcribe || o.useRecognition, {
    path: ['transcribe'],
    message: 'with transcribe: false and useRecognition: false no voice could be understood',
  });

/** Options as written in bot.config.ts. */
export type VoiceOptions = z.input<typeof voiceOptionsSchema>;
/** Options after defaults. */
export type ResolvedVoiceOptions = z.output<typeof voiceOptionsSchema>;
