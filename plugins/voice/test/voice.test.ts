import { createLogger, definePlugin, PluginOptionsError, type Channel, type MediaFile, type Message, type Plugin, type TextMessage } from '@wxbot/core';
import {
  checkTranscriptionAudio,
  createTestBot,
  makeSpeechWav,
  probeAudio,
  startFakeOpenAI,
  text,
  toAmr,
  voice as voiceMessage,
  type FakeOpenAI,
  type TestBot,
} from '@wxbot/testing';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { checkFfmpeg, findOnPath, sniffVoice, voice, wavSeconds, type VoiceOptions } from '../src/index.ts';

const KEY = 'sk-voice-test-0123456789abcdef';
const APOLOGY = '抱歉，没听清您的语音，请再说一遍或发文字。';

interface LogLine {
  level: number;
  msg: string;
  [key: string]: unknown;
}

/** After voice: answers every text with what it heard, and remembers what it was given. */
const seen: Message[] = [];
const heard = definePlugin({
  name: 'heard',
  setup(bot) {
    bot.on('text', async (ctx) => {
      seen.push(ctx.message);
      await ctx.reply(`heard: ${ctx.message.text}`);
    });
    bot.use((ctx) => ctx.reply(`passed on: ${ctx.message.type}`));
  },
});

let fake: FakeOpenAI;
let lines: LogLine[];
const kits: TestBot[] = [];
let amr: Buffer;
let amrSeconds: number;
let wav: Buffer;

beforeAll(async () => {
  wav = await makeSpeechWav('你好 价格', { voice: 'zh' });
  amr = await toAmr(wav);
  amrSeconds = (await probeAudio(amr)).durationSeconds;
});
beforeEach(async () => {
  fake = await startFakeOpenAI({ apiKey: KEY });
  lines = [];
  seen.length = 0;
});
afterEach(async () => {
  for (const kit of kits.splice(0)) await kit.close();
  await fake.close();
});

/** A test bot: voice first, then `heard`; `media` is what the channel's media/get returns. */
async function bot(options: Partial<VoiceOptions> = {}, extra: { media?: (mediaId: string) => Promise<MediaFile>; plugins?: Plugin[] } = {}): Promise<TestBot> {
  const logger = createLogger({ level: 'debug', destination: { write: (line: string) => void lines.push(JSON.parse(line) as LogLine) } });
  const kit = await createTestBot({ plugins: [voice({ baseURL: fake.url, apiKey: KEY, maxRetries: 0, ...options }), ...(extra.plugins ?? [heard()])], logger, kind: 'wecomKf' });
  kits.push(kit);
  // The recording channel serves only the media given to createTestBot; this stands in for media/get.
  if (extra.media) (kit.bot.channels[0] as Channel).downloadMedia = extra.media;
  return kit;
}

const serve = (data: Buffer) => async (): Promise<MediaFile> => ({ data, contentType: 'audio/amr', fileName: 'voice.amr' });
const voiceLines = () => lines.filter((l) => l['plugin'] === 'voice');

describe('voice plugin (in process)', () => {
  it('transcribe: false: Recognition is understood without an endpoint or ffmpeg; other voice goes on as voice', async () => {
    // A PATH without ffmpeg: start-up must not look for it.
    const path = process.env.PATH;
    process.env.PATH = '/nonexistent';
    let kit: TestBot;
    try {
      kit = await createTestBot({ plugins: [voice({ transcribe: false }), heard()] });
    } finally {
      process.env.PATH = path;
    }
    kits.push(kit);
    expect((await kit.send(voiceMessage('media-1', { recognition: '价格是多少' }))).texts).toEqual(['heard: 价格是多少']);
    expect((await kit.send(voiceMessage('media-2'))).texts).toEqual(['passed on: voice']);
    expect(() => voice({ transcribe: false, useRecognition: false })).toThrow(/option "transcribe"/);
    expect(() => voice({})).toThrow(/transcribe: false/);
  });

  it("uses an Official Account's own transcript, redispatched as a text, without calling the endpoint", async () => {
    const kit = await bot();
    const original = voiceMessage('media-1', { recognition: '价格是多少' });
    const result = await kit.send(original);
    expect(result.texts).toEqual(['heard: 价格是多少']);
    expect(fake.transcriptions.requests).toHaveLength(0);
    const transcribed = seen[0] as TextMessage;
    expect(transcribed).toMatchObject({ type: 'text', text: '价格是多少', id: original.id, from: original.from, to: original.to });
    expect(transcribed.transcribedFrom).toMatchObject({ type: 'voice', mediaId: 'media-1', recognition: '价格是多少' });
    expect(transcribed).not.toHaveProperty('mediaId');
    expect(transcribed).not.toHaveProperty('command');
  });

  it('parses a command in the transcript, and answers the echo first when echoTranscript is on', async () => {
    const kit = await bot({ echoTranscript: true });
    expect((await kit.send(voiceMessage('m', { recognition: '/price 价格' }))).texts).toEqual(['识别结果: /price 价格', 'heard: /price 价格']);
    expect((seen[0] as TextMessage).command).toEqual({ name: 'price', args: ['价格'], argsText: '价格' });

    const custom = await bot({ echoTranscript: true, echoTemplate: '您说的是「{text}」' });
    expect((await custom.send(voiceMessage('m', { recognition: '$& 多少钱' }))).texts).toEqual(['您说的是「$& 多少钱」', 'heard: $& 多少钱']);
  });

  it('downloads, converts AMR to 16 kHz mono WAV with ffmpeg and transcribes it', async () => {
    fake.transcriptions.handler = checkTranscriptionAudio(amrSeconds, 0.2, '价格是多少', { sampleRate: 16000, channels: 1, format: 'wav' });
    const kit = await bot({ language: 'zh', model: 'whisper-large-v3' }, { media: serve(amr) });
    expect((await kit.send(voiceMessage('media-amr'))).texts).toEqual(['heard: 价格是多少']);
    const [request] = fake.transcriptions.requests;
    expect(request).toMatchObject({ fileName: 'voice.wav', contentType: 'audio/wav', model: 'whisper-large-v3', language: 'zh' });
    // The endpoint refuses AMR, so it must never see it.
    expect(request?.file.subarray(0, 6).toString('latin1')).not.toBe('#!AMR\n');
    // An empty recognition (recognition on but failed) counts as none.
    fake.transcriptions.handler = () => '价格是多少';
    expect((await kit.send(voiceMessage('media-amr', { recognition: ' ' }))).texts).toEqual(['heard: 价格是多少']);
  });

  it('a missing ffmpeg stops start-up with the install line', async () => {
    const attempt = createTestBot({ plugins: [voice({ apiKey: KEY, ffmpegPath: '/nonexistent/bin/ffmpeg' })] });
    await expect(attempt).rejects.toThrow(
      /plugin "voice": ffmpeg not found at "\/nonexistent\/bin\/ffmpeg" \(ffmpegPath\); install it: apt-get install -y ffmpeg.*or set the ffmpegPath option/,
    );
    // A program that is not ffmpeg is refused too.
    await expect(createTestBot({ plugins: [voice({ apiKey: KEY, ffmpegPath: '/bin/false' })] })).rejects.toThrow(/"\/bin\/false" \(ffmpegPath\) is not a working ffmpeg/);
  });

  it('checks its options when the bot is configured', () => {
    expect(() => voice({})).toThrow(PluginOptionsError);
    expect(() => voice({ apiKey: KEY, timeoutMs: -1 })).toThrow(/option "timeoutMs"/);
  });

  it('an endpoint error (500) gets the apology and one warning naming the stage, and nothing after voice runs', async () => {
    fake.transcriptions.failNext(500);
    const kit = await bot({}, { media: serve(amr) });
    expect((await kit.send(voiceMessage('media-500'))).texts).toEqual([APOLOGY]);
    expect(seen).toHaveLength(0);
    const failures = voiceLines().filter((l) => l.level >= 40);
    expect(failures).toHaveLength(1);
    expect(failures[0]).toMatchObject({ level: 40, stage: 'transcribe', status: 500, msg: expect.stringContaining('HTTP 500') });
  });

  it('a wrong key (401) is an error for a person, and the key never reaches the log', async () => {
    const kit = await bot({ apiKey: 'sk-wrong-key-abcdefghijklmnop', apology: '请发文字' }, { media: serve(amr) });
    expect((await kit.send(voiceMessage('media-401'))).texts).toEqual(['请发文字']);
    expect(voiceLines().filter((l) => l.level >= 40)).toEqual([expect.objectContaining({ level: 50, stage: 'transcribe', status: 401 })]);
    expect(JSON.stringify(lines)).not.toContain('sk-wrong-key-abcdefghijklmnop');
  });

  it('a slow endpoint is cut off at timeoutMs', async () => {
    fake.transcriptions.delayMs = 3000;
    fake.transcriptions.handler = () => 'too late';
    const kit = await bot({ timeoutMs: 300 }, { media: serve(amr) });
    const started = Date.now();
    expect((await kit.send(voiceMessage('media-slow'))).texts).toEqual([APOLOGY]);
    expect(Date.now() - started).toBeLessThan(1500);
    expect(voiceLines().find((l) => l.level === 40)?.msg).toMatch(/did not answer within 300 ms/);
  });

  it('an empty transcript, a failed download and bytes that are not audio all get the apology', async () => {
    fake.transcriptions.handler = () => '   ';
    const empty = await bot({}, { media: serve(amr) });
    expect((await empty.send(voiceMessage('media-quiet'))).texts).toEqual([APOLOGY]);

    // The recording channel has no media API at all: the download fails.
    const noMedia = await bot();
    expect((await noMedia.send(voiceMessage('media-none'))).texts).toEqual([APOLOGY]);

    const junk = await bot({}, { media: serve(Buffer.from('this is not audio at all, just text '.repeat(20))) });
    expect((await junk.send(voiceMessage('media-junk'))).texts).toEqual([APOLOGY]);

    expect(
      voiceLines()
        .filter((l) => l.level >= 40)
        .map((l) => [l['stage'], l.msg]),
    ).toEqual([
      ['transcribe', expect.stringContaining('heard nothing')],
      ['download', expect.stringContaining('the test channel has no media "media-none"')],
      ['decode', expect.stringContaining('ffmpeg could not convert')],
    ]);
    expect(seen).toHaveLength(0);
  });

  it('SILK voice: a clear error without a decoder, transcribed with one', async () => {
    const silk = Buffer.concat([Buffer.from([0x02]), Buffer.from('#!SILK_V3'), Buffer.alloc(64, 7)]);
    const without = await bot({}, { media: serve(silk) });
    expect((await without.send(voiceMessage('media-silk'))).texts).toEqual([APOLOGY]);
    expect(voiceLines().find((l) => l.level === 50)).toMatchObject({
      stage: 'decode',
      msg: expect.stringMatching(/SILK v3, which ffmpeg cannot decode; set the silkDecoder option/),
    });

    // A decoder that hands back raw PCM (what silk-wasm gives): here, espeak's WAV samples.
    const pcm = wav.subarray(44);
    const decoded: Buffer[] = [];
    fake.transcriptions.handler = checkTranscriptionAudio(pcm.length / 2 / 22050, 0.1, '你好', { sampleRate: 16000 });
    const withDecoder = await bot(
      {
        silkDecoder: (data) => {
          decoded.push(data);
          return { pcm, sampleRate: 22050 };
        },
      },
      { media: serve(silk) },
    );
    expect((await withDecoder.send(voiceMessage('media-silk'))).texts).toEqual(['heard: 你好']);
    expect(decoded[0]?.equals(silk)).toBe(true);
  });

  it('passes other messages on, and never transcribes the same voice twice', async () => {
    const kit = await bot();
    expect((await kit.send(text('文字'))).texts).toEqual(['heard: 文字']);

    // A plugin that sends the voice behind a transcript round again must not start a loop.
    let rounds = 0;
    const boomerang = definePlugin({
      name: 'boomerang',
      setup(b) {
        b.on('text', async (ctx, next) => {
          const from = ctx.message.transcribedFrom;
          if (!from) return next();
          rounds += 1;
          await ctx.redispatch(from);
        });
        b.on('voice', (ctx) => ctx.reply('voice passed on'));
      },
    });
    const looping = await bot({}, { plugins: [boomerang()] });
    expect((await looping.send(voiceMessage('m', { recognition: '再来' }))).texts).toEqual(['voice passed on']);
    expect(rounds).toBe(1);
  });

  it('logs how it went at info, and what was said only at debug', async () => {
    fake.transcriptions.handler = () => '价格是多少';
    const kit = await bot({}, { media: serve(amr) });
    await kit.send(voiceMessage('media-log'));
    const info = lines.filter((l) => l.level === 30);
    expect(info.find((l) => l.msg === 'voice transcribed')).toMatchObject({ source: 'endpoint', container: 'amr', bytes: amr.length, chars: 5 });
    expect(JSON.stringify(info)).not.toContain('价格');
    expect(lines.find((l) => l.msg === 'voice transcript')).toMatchObject({ level: 20, text: '价格是多少' });
  });
});

describe('helpers', () => {
  it('recognises AMR, AMR-WB and SILK (with or without the leading 0x02) by their magic bytes', () => {
    expect(sniffVoice(amr)).toBe('amr');
    expect(sniffVoice(Buffer.from('#!AMR-WB\n\x00'))).toBe('amr-wb');
    expect(sniffVoice(Buffer.from('#!SILK_V3\x00'))).toBe('silk');
    expect(sniffVoice(Buffer.concat([Buffer.from([2]), Buffer.from('#!SILK_V3')]))).toBe('silk');
    expect(sniffVoice(wav)).toBe('other');
  });

  it('measures a WAV from its header, and finds programs on PATH as a shell would', async () => {
    expect(wavSeconds(wav)).toBeCloseTo((wav.length - 44) / 2 / 22050, 2);
    expect(wavSeconds(Buffer.from('not a wav'))).toBeUndefined();
    expect(await findOnPath('ffmpeg', '/nonexistent:/usr/bin')).toBe('/usr/bin/ffmpeg');
    expect(await findOnPath('ffmpeg', '/nonexistent')).toBeUndefined();
    await expect(checkFfmpeg(undefined, '/nonexistent')).rejects.toThrow(
      /^plugin "voice": ffmpeg not found on PATH\. .*install it: apt-get install -y ffmpeg .*or set the ffmpegPath option/,
    );
  });

  it('checkTranscriptionAudio refuses what is not audio, or not of the expected length or rate', async () => {
    const request = (file: Buffer) => ({ file, fileName: 'voice.wav', contentType: 'audio/wav', model: 'whisper-1', responseFormat: 'json' });
    const check = checkTranscriptionAudio(amrSeconds, 0.2, 'ok', { sampleRate: 16000 });
    await expect(check(request(Buffer.from('RIFF but not really a wav file')))).rejects.toThrow(/is not audio/);
    await expect(check(request(amr))).rejects.toThrow(/is 8000 Hz, expected 16000 Hz/);
    await expect(checkTranscriptionAudio(amrSeconds + 1, 0.2, 'ok')(request(amr))).rejects.toThrow(/lasts 1\.\d\d s, expected/);
    expect(await checkTranscriptionAudio(amrSeconds, 0.01, 'ok')(request(amr))).toBe('ok');
  });
});
