export { voice } from './plugin.ts';
export { voiceTexts } from './texts.ts';
export { voiceOptionsSchema, type VoiceOptions, type ResolvedVoiceOptions, type SilkDecoder, type DecodedSilk } from './options.ts';
export { VoiceTranscriptionError, FfmpegNotFoundError, FfmpegError, SilkNotSupportedError, type VoiceStage } from './errors.ts';
export { checkFfmpeg, convertToWav, findOnPath, type FfmpegInfo, type ConvertOptions, type ConvertedAudio } from './ffmpeg.ts';
export { sniffVoice, wavSeconds, type VoiceContainer } from './sniff.ts';
export { transcribedText } from './message.ts';
