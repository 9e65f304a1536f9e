import { definePlugin, type Context, type Logger, type VoiceMessage } from '@wxbot/core';
import { VoiceTranscriptionError, withoutSecret } from './errors.ts';
import { checkFfmpeg } from './ffmpeg.ts';
import { createLimiter } from './limit.ts';
import { fillTemplate, transcribedText } from './message.ts';
import { voiceTexts } from './texts.ts';
import { voiceOptionsSchema, type ResolvedVoiceOptions } from './options.ts';
import { recognize, type RecognizeDeps } from './recognize.ts';
import { createTranscriber } from './transcribe.ts';

/**
 * Turns voice messages into text messages for the rest of the pipeline. An Official
 * Account's own transcript (`recognition`) is used when present; otherwise the voice is
 * downloaded (media/get), converted with ffmpeg (AMR → 16 kHz mono WAV) and sent to an
 * OpenAI-compatible `/audio/transcriptions` endpoint. The transcript is fed back through
 * `ctx.redispatch` as a text with `transcribedFrom`, so keyword, LLM and any other text
 * plugins answer it as if it had been typed.
 *
 * **Put it first** in `plugins`: the plugins before it see the voice message, not the text.
 *
 * ```ts
 * plugins: [voice({ apiKey: process.env.OPENAI_API_KEY, language: 'zh' }), keyword({ rules }), llm({ … })]
 * ```
 *
 * ffmpeg must be installed (`apt-get install -y ffmpeg`); start-up stops with that advice when
 * it is missing. A voice that cannot be understood gets the `apology` and one log line with
 * the cause; nothing after this plugin runs for it. Other messages go to the next middleware.
 */
export const voice = definePlugin({
  name: 'voice',
  options: voiceOptionsSchema,
  async setup(bot, options: ResolvedVoiceOptions) {
    const { apology, echoTranscript, echoTemplate, apiKey, useRecognition } = options;
    // Without an endpoint nothing is converted: no ffmpeg to look for.
    const shared = options.transcribe ? await endpointDeps(options, bot.log) : undefined;
    if (!shared) bot.log.info("voice: no transcription endpoint; only Official Account voice with WeChat's Recognition is understood");
    /*
     * Voice messages this plugin has already taken on. Its own output is text and never
     * reaches the voice handler; this stops the one loop left, a later plugin redispatching
     * the voice it finds in `transcribedFrom`: the second time round it is passed on.
     */
    const taken = new WeakSet<VoiceMessage>();

    /** Sends a text; a delivery failure is logged, not thrown (nothing else to try). */
    const replySafely = async (ctx: Context, text: string, what: string) => {
      try {
        await ctx.reply(text);
      } catch (error) {
        ctx.log.error({ plugin: 'voice', err: error }, `voice ${what} could not be delivered`);
      }
    };

    bot.on('voice', async (ctx, next) => {
      const message = ctx.message;
      if (taken.has(message)) return next();
      taken.add(message);
      const started = performance.now();

      let text: string;
      let details: Record<string, unknown>;
      const recognition = useRecognition ? message.recognition?.trim() : undefined;
      if (recognition) {
        text = recognition;
        details = { source: 'recognition' };
      } else if (!shared) {
        // Nothing to understand it with: the next plugin gets the voice as it came.
        return next();
      } else {
        try {
          const result = await recognize(message, { ...shared, download: (mediaId) => ctx.downloadMedia(mediaId) });
          text = result.text;
          details = { source: 'endpoint', model: options.model, bytes: result.bytes, container: result.container, audioSeconds: +result.seconds.toFixed(2) };
        } catch (error) {
          const e = error instanceof VoiceTranscriptionError ? error : new VoiceTranscriptionError('transcribe', String(error), false, { cause: error });
          const line = {
            plugin: 'voice',
            stage: e.stage,
            ms: Math.round(performance.now() - started),
            status: e.status,
            mediaId: message.mediaId,
            err: withoutSecret(e.cause ?? e, apiKey),
          };
          const summary = `voice not understood (${e.stage}): ${e.message}; sent the apology`;
          if (e.transient) ctx.log.warn(line, summary);
          else ctx.log.error(line, summary);
          await replySafely(ctx, apology ?? ctx.t(voiceTexts, 'apology'), 'apology');
          return;
        }
      }

      // How it went at info; what was said only at debug.
      ctx.log.info({ plugin: 'voice', ...details, chars: text.length, ms: Math.round(performance.now() - started) }, 'voice transcribed');
      ctx.log.debug({ plugin: 'voice', text }, 'voice transcript');
      if (echoTranscript) await replySafely(ctx, echoTemplate ? fillTemplate(echoTemplate, text) : ctx.t(voiceTexts, 'echo', { text }), 'echo');
      await ctx.redispatch(transcribedText(message, text));
    });
  },
  tools: (options) => (options.transcribe ? [options.ffmpegPath ?? 'ffmpeg'] : []),
});

/** What transcribing through the endpoint needs: a working ffmpeg (checked now) and a client. */
async function endpointDeps(options: ResolvedVoiceOptions, log: Logger): Promise<Omit<RecognizeDeps, 'download'>> {
  const ffmpeg = await checkFfmpeg(options.ffmpegPath);
  // `log` is the plugin's own (it names the plugin already: a second `plugin` key would repeat it in the JSON).
  log.info({ ffmpeg: ffmpeg.path, version: ffmpeg.version }, 'voice: ffmpeg ready');
  if (!ffmpeg.decodesAmr) log.warn({ ffmpeg: ffmpeg.path }, 'voice: this ffmpeg has no AMR-NB decoder; KF and WeCom voice will get the apology');
  return {
    ffmpegPath: ffmpeg.path,
    ffmpegTimeoutMs: options.ffmpegTimeoutMs,
    maxSeconds: options.maxSeconds,
    silkDecoder: options.silkDecoder,
    transcribe: await createTranscriber(options, log),
    limit: createLimiter(options.concurrency),
  };
}
