import { constants } from 'node:fs';
import { access, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { FfmpegError, FfmpegNotFoundError } from './errors.ts';
import { runTool, ToolTimeoutError, type ToolResult } from './process.ts';
import { wavSeconds } from './sniff.ts';

const INSTALL = 'install it: apt-get install -y ffmpeg (Debian/Ubuntu; brew install ffmpeg on macOS), or set the ffmpegPath option';
const CHECK_TIMEOUT_MS = 10_000;
/** What the transcription endpoint gets: what speech models are trained on, and small. */
const SAMPLE_RATE = 16_000;

/** The first executable called `name` in the PATH directories, as a shell would find it. */
export async function findOnPath(name: string, pathVariable = process.env['PATH'] ?? ''): Promise<string | undefined> {
  const names = process.platform === 'win32' ? [`${name}.exe`, name] : [name];
  for (const dir of pathVariable.split(delimiter).filter(Boolean)) {
    for (const candidate of names) {
      const file = join(dir, candidate);
      try {
        await access(file, constants.X_OK);
        return file;
      } catch {
        // not here; keep looking
      }
    }
  }
  return undefined;
}

/** The ffmpeg the plugin will run, checked at start. */
export interface FfmpegInfo {
  path: string;
  /** As `ffmpeg -version` reports it, e.g. `5.1.9-0+deb12u1`. */
  version: string;
  /** Whether it has an AMR-NB decoder (KF and WeCom voice are AMR-NB). */
  decodesAmr: boolean;
}

/** Checks already passed, by path: ffmpeg does not vanish while the process runs, and a test run starts many bots. */
const checked = new Map<string, FfmpegInfo>();

/**
 * Finds ffmpeg (the configured path, else PATH) and checks it runs (`ffmpeg -version`), and
 * whether it can decode AMR-NB (`ffmpeg -decoders`). Throws {@link FfmpegNotFoundError} with
 * the install line when it is missing or broken.
 */
export async function checkFfmpeg(configuredPath: string | undefined, pathVariable?: string): Promise<FfmpegInfo> {
  const path = configuredPath ?? (await findOnPath('ffmpeg', pathVariable));
  if (path === undefined) throw new FfmpegNotFoundError(`plugin "voice": ffmpeg not found on PATH. It converts voice messages for transcription; ${INSTALL}.`);
  const known = checked.get(path);
  if (known) return known;
  const where = configuredPath === undefined ? `"${path}"` : `"${path}" (ffmpegPath)`;
  let result: ToolResult;
  // Both at once: start-up waits for the slower one only.
  const decoders = runTool(path, ['-hide_banner', '-decoders'], CHECK_TIMEOUT_MS).catch(() => undefined);
  try {
    result = await runTool(path, ['-version'], CHECK_TIMEOUT_MS);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const problem = code === 'ENOENT' ? 'not found' : code === 'EACCES' ? 'not executable' : `did not run (${(error as Error).message})`;
    throw new FfmpegNotFoundError(`plugin "voice": ffmpeg ${problem} at ${where}; ${INSTALL}.`);
  }
  const version = result.code === 0 ? /^ffmpeg version (\S+)/m.exec(result.stdout)?.[1] : undefined;
  if (version === undefined) {
    const said = (result.stderr || result.stdout).trim().split('\n')[0] ?? '';
    throw new FfmpegNotFoundError(
      `plugin "voice": ${where} is not a working ffmpeg (\`-version\` exited with ${result.code ?? result.signal}${said ? `: ${said}` : ''}); ${INSTALL}.`,
    );
  }
  const list = (await decoders)?.stdout ?? '';
  const info = { path, version, decodesAmr: /^\s*A\S*\s+(amrnb|libopencore_amrnb)\s/m.test(list) };
  checked.set(path, info);
  return info;
}

/** How to convert. */
export interface ConvertOptions {
  ffmpegPath: string;
  timeoutMs: number;
  /** Audio past this is cut off (WeChat voice lasts at most 60 s). */
  maxSeconds: number;
  /** The input is headerless 16-bit little-endian mono PCM at this rate (a SILK decoder's output). */
  pcmSampleRate?: number;
}

/** A converted file. */
export interface ConvertedAudio {
  /** 16 kHz mono 16-bit PCM WAV. */
  wav: Buffer;
  seconds: number;
}

/**
 * Converts any audio ffmpeg can read (AMR-NB/WB, MP3, …) into 16 kHz mono WAV for the
 * transcription endpoint, which refuses AMR. Input and output go through a private temporary
 * directory, removed afterwards: a seekable input lets ffmpeg recognise any container, and a
 * file output gets a WAV header with real sizes (piped WAV has placeholders).
 */
export async function convertToWav(input: Uint8Array, options: ConvertOptions): Promise<ConvertedAudio> {
  const dir = await mkdtemp(join(tmpdir(), 'wxbot-voice-'));
  try {
    const inputFile = join(dir, 'input');
    const outputFile = join(dir, 'output.wav');
    await writeFile(inputFile, input);
    const rawInput = options.pcmSampleRate === undefined ? [] : ['-f', 's16le', '-ar', String(options.pcmSampleRate), '-ac', '1'];
    const args = [
      '-nostdin',
      '-hide_banner',
      '-loglevel',
      'error',
      '-y',
      ...rawInput,
      '-i',
      inputFile,
      '-vn',
      '-map_metadata',
      '-1',
      '-t',
      String(options.maxSeconds),
      '-ac',
      '1',
      '-ar',
      String(SAMPLE_RATE),
      '-c:a',
      'pcm_s16le',
      '-fflags',
      '+bitexact',
      '-f',
      'wav',
      outputFile,
    ];
    let result: ToolResult;
    try {
      result = await runTool(options.ffmpegPath, args, options.timeoutMs);
    } catch (error) {
      if (error instanceof ToolTimeoutError) throw new FfmpegError(`ffmpeg did not finish within ${options.timeoutMs} ms`, true);
      throw new FfmpegError(`ffmpeg did not run: ${(error as Error).message}`);
    }
    // Exit status decides, not stderr: the AMR decoder complains about comfort-noise frames
    // (silence) yet decodes the speech fine.
    if (result.code !== 0) {
      const said = result.stderr.trim().split('\n').slice(-3).join(' | ');
      throw new FfmpegError(`ffmpeg could not convert the voice (exit ${result.code ?? result.signal}): ${said || 'no message'}`);
    }
    const wav = await readFile(outputFile);
    const seconds = wavSeconds(wav);
    if (seconds === undefined || seconds <= 0) throw new FfmpegError('ffmpeg produced no audio');
    return { wav, seconds };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
