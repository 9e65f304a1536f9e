import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FakeTranscriptionHandler, FakeTranscriptionRequest } from './fakeOpenAI.ts';

/*
 * Real test audio made with the system's tools, so voice tests exercise real codecs rather
 * than bytes that merely look like audio:
 *   apt-get install -y espeak-ng sox libsox-fmt-all libopencore-amrnb0 ffmpeg
 * espeak-ng speaks, sox encodes AMR-NB (Debian's ffmpeg decodes AMR-NB but cannot encode it),
 * ffprobe measures.
 */

const INSTALL_HINT = 'install the audio tools: apt-get install -y espeak-ng sox libsox-fmt-all libopencore-amrnb0 ffmpeg';
const TOOL_TIMEOUT_MS = 15_000;

/** What ffprobe says about a piece of audio. */
export interface AudioProbe {
  /** Container as ffprobe names it: `wav`, `amr`, `mp3`, `ogg`, … */
  format: string;
  /** Codec of the first audio stream: `pcm_s16le`, `amr_nb`, … */
  codec: string;
  durationSeconds: number;
  sampleRate: number;
  channels: number;
}

/** Runs a tool without a shell and resolves with its stdout; rejects with its stderr. */
function run(command: string, args: readonly string[]): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const stdout: Buffer[] = [];
    let stderr = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), TOOL_TIMEOUT_MS);
    child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => {
      stderr = (stderr + chunk.toString('utf8')).slice(-2000);
    });
    child.on('error', (error: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      reject(error.code === 'ENOENT' ? new Error(`${command} not found on PATH; ${INSTALL_HINT}`) : error);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve(Buffer.concat(stdout));
      else reject(new Error(`${command} ${signal ? `was killed (${signal})` : `exited with code ${code}`}: ${stderr.trim() || '(no output)'}`));
    });
  });
}

/** Runs `work` in a fresh temporary directory that is removed afterwards, whatever happens. */
async function inTempDir<T>(work: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'wxbot-audio-'));
  try {
    return await work(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** How test speech is synthesised with espeak-ng: voice and speed. */
export interface SpeechOptions {
  /** An espeak-ng voice: `zh` (Mandarin, the default), `en`, `yue`, … */
  voice?: string;
  /** Speaking rate in words per minute (espeak-ng's default is 175). */
  wordsPerMinute?: number;
}

/**
 * Speaks `text` with espeak-ng and returns the WAV file (22.05 kHz mono, 16-bit).
 *
 * ```ts
 * const wav = await makeSpeechWav('你好 价格', { voice: 'zh' });
 * const amr = await toAmr(wav); // what a KF customer's voice message looks like
 * ```
 */
export function makeSpeechWav(text: string, options: SpeechOptions = {}): Promise<Buffer> {
  return inTempDir(async (dir) => {
    // Read from a file so a text starting with '-' is never taken for an option.
    const textFile = join(dir, 'text.txt');
    const wavFile = join(dir, 'speech.wav');
    await writeFile(textFile, text, 'utf8');
    await run('espeak-ng', ['-v', options.voice ?? 'zh', '-s', String(options.wordsPerMinute ?? 175), '-w', wavFile, '-f', textFile]);
    return readFile(wavFile);
  });
}

/**
 * Encodes audio sox can read (WAV, …) as AMR-NB, 8 kHz mono, 12.2 kbit/s (`-C 7`): the
 * format of WeCom and KF voice messages. The result starts with `#!AMR\n`.
 */
export function toAmr(audio: Buffer, inputType = 'wav'): Promise<Buffer> {
  return inTempDir(async (dir) => {
    const input = join(dir, `input.${inputType}`);
    const output = join(dir, 'output.amr');
    await writeFile(input, audio);
    await run('sox', [input, '-r', '8000', '-c', '1', '-t', 'amr-nb', '-C', '7', output]);
    return readFile(output);
  });
}

interface FfprobeJson {
  format?: { format_name?: string; duration?: string };
  streams?: Array<{ codec_type?: string; codec_name?: string; sample_rate?: string; channels?: number }>;
}

/**
 * Measures audio with ffprobe. Rejects when the bytes are not audio ffprobe can read, or
 * have no audio stream or no known duration.
 */
export function probeAudio(data: Buffer): Promise<AudioProbe> {
  return inTempDir(async (dir) => {
    // A file rather than stdin: ffprobe measures a seekable input exactly.
    const file = join(dir, 'audio');
    await writeFile(file, data);
    const out = await run('ffprobe', ['-v', 'error', '-show_entries', 'format=format_name,duration:stream=codec_type,codec_name,sample_rate,channels', '-of', 'json', file]);
    const json = JSON.parse(out.toString('utf8')) as FfprobeJson;
    const stream = json.streams?.find((s) => s.codec_type === 'audio');
    const durationSeconds = Number(json.format?.duration);
    if (!stream || !json.format?.format_name || !Number.isFinite(durationSeconds)) {
      throw new Error(`ffprobe found no measurable audio (${JSON.stringify(json)})`);
    }
    return {
      format: json.format.format_name,
      codec: stream.codec_name ?? 'unknown',
      durationSeconds,
      sampleRate: Number(stream.sample_rate),
      channels: stream.channels ?? 0,
    };
  });
}

/** What else the received audio must be, beyond its length. */
export interface AudioExpectations {
  sampleRate?: number;
  channels?: number;
  /** ffprobe's format name, e.g. `wav`. */
  format?: string;
}

/** A transcription handler that checks the audio it gets; `received` holds what it measured. */
export type CheckedTranscriptionHandler = FakeTranscriptionHandler & {
  /** The probe of every upload, in order (including rejected ones that were still audio). */
  readonly received: AudioProbe[];
};

/**
 * A handler for the fake OpenAI's `/audio/transcriptions` that ffprobes every upload and
 * throws (so the fake answers 500) unless it is real audio lasting `expectedSeconds` ±
 * `toleranceSeconds` (and, if given, with the expected sample rate, channels and format);
 * otherwise it answers `transcript`.
 *
 * ```ts
 * fake.transcriptions.handler = checkTranscriptionAudio(1.8, 0.25, '价格是多少', { sampleRate: 16000, channels: 1 });
 * ```
 */
export function checkTranscriptionAudio(
  expectedSeconds: number,
  toleranceSeconds: number,
  transcript: string | ((request: FakeTranscriptionRequest, probe: AudioProbe) => string),
  expectations: AudioExpectations = {},
): CheckedTranscriptionHandler {
  const received: AudioProbe[] = [];
  const handler = async (request: FakeTranscriptionRequest): Promise<string> => {
    let probe: AudioProbe;
    try {
      probe = await probeAudio(request.file);
    } catch (error) {
      throw new Error(`upload "${request.fileName}" (${request.file.length} bytes) is not audio: ${(error as Error).message}`);
    }
    received.push(probe);
    const problems = [
      Math.abs(probe.durationSeconds - expectedSeconds) > toleranceSeconds &&
        `lasts ${probe.durationSeconds.toFixed(2)} s, expected ${expectedSeconds.toFixed(2)} ± ${toleranceSeconds} s`,
      expectations.sampleRate !== undefined && probe.sampleRate !== expectations.sampleRate && `is ${probe.sampleRate} Hz, expected ${expectations.sampleRate} Hz`,
      expectations.channels !== undefined && probe.channels !== expectations.channels && `has ${probe.channels} channels, expected ${expectations.channels}`,
      expectations.format !== undefined && probe.format !== expectations.format && `is ${probe.format}, expected ${expectations.format}`,
    ].filter((p): p is string => typeof p === 'string');
    if (problems.length > 0) throw new Error(`upload "${request.fileName}" ${problems.join('; ')}`);
    return typeof transcript === 'string' ? transcript : transcript(request, probe);
  };
  return Object.assign(handler, { received });
}
