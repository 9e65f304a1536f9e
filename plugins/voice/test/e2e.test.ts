import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createBot, createLogger, generateEncodingAESKey, officialAccount, wecomKf, type Bot } from '@wxbot/core';
import { keyword } from '@wxbot/plugin-keyword';
import {
  WeChatPeer,
  checkTranscriptionAudio,
  makeSpeechWav,
  probeAudio,
  startFakeOpenAI,
  startFakeWeChatApi,
  toAmr,
  type AudioProbe,
  type FakeOpenAI,
  type FakeWeChatApi,
} from '@wxbot/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { voice } from '../src/index.ts';

/*
 * End to end over HTTP: a fake WeChat (signed, encrypted callbacks; media/get; kf/sync_msg;
 * kf/send_msg; message/custom/send), the real bot server, real ffmpeg, and a fake OpenAI whose
 * transcription endpoint measures what it receives with ffprobe.
 */

const CORP = 'ww-voice-corp';
const KF_SECRET = 'kf-voice-secret';
const KF_TOKEN = 'kf-voice-token';
const KF_KEY = generateEncodingAESKey();
const OA = { appId: 'wx-voice-oa', appSecret: 'oa-voice-secret', token: 'oa-voice-token' };
const OPENAI_KEY = 'sk-voice-e2e-0123456789abcdef';
const PRICE_ANSWER = '我们的价格是每月 99 元。';
const APOLOGY = '抱歉，没听清您的语音，请再说一遍或发文字。';

let api: FakeWeChatApi;
let openai: FakeOpenAI;
let bot: Bot;
let kfPeer: WeChatPeer;
let oaPeer: WeChatPeer;
let amr: Buffer;
let amrProbe: AudioProbe;
const dir = mkdtempSync(join(tmpdir(), 'wxbot-voice-e2e-'));

beforeAll(async () => {
  // Real speech, encoded as KF voice is: AMR-NB, 8 kHz mono, 12.2 kbit/s.
  amr = await toAmr(await makeSpeechWav('你好 价格', { voice: 'zh' }));
  amrProbe = await probeAudio(amr);
  api = await startFakeWeChatApi({
    credentials: [
      { id: CORP, secret: KF_SECRET },
      { id: OA.appId, secret: OA.appSecret },
    ],
  });
  openai = await startFakeOpenAI({ apiKey: OPENAI_KEY });
  bot = createBot({
    channels: [
      wecomKf({ corpId: CORP, secret: KF_SECRET, token: KF_TOKEN, encodingAESKey: KF_KEY, apiBaseUrl: api.url, cursorFile: join(dir, 'cursor.json') }),
      officialAccount({ ...OA, apiBaseUrl: api.url }),
    ],
    plugins: [
      voice({ baseURL: openai.url, apiKey: OPENAI_KEY, language: 'zh', maxRetries: 0 }),
      keyword({ rules: [{ keywords: '价格', match: 'contains', reply: PRICE_ANSWER }] }),
    ],
    logger: createLogger({ level: 'silent' }),
  });
  const { url } = await bot.start({ port: 0, host: '127.0.0.1' });
  kfPeer = new WeChatPeer({ url: `${url}/wecom/kf`, kind: 'wecomKf', token: KF_TOKEN, encodingAESKey: KF_KEY, receiveId: CORP });
  oaPeer = new WeChatPeer({ url: `${url}/wx`, kind: 'officialAccount', token: OA.token, receiveId: OA.appId });
});
afterAll(async () => {
  await bot?.stop();
  await Promise.all([api?.close(), openai?.close()]);
  rmSync(dir, { recursive: true, force: true });
});

const kfTexts = (openKfId: string) => api.kf.sent.filter((m) => m['open_kfid'] === openKfId).map((m) => (m['text'] as { content?: string } | undefined)?.content);
const notifyKf = (openKfId: string) => kfPeer.event('kf_msg_or_event', { Token: `sync-${Date.now()}`, OpenKfId: openKfId }, { from: 'sys' });

describe('voice plugin end to end', () => {
  it('KF: real AMR speech is downloaded, converted by ffmpeg, transcribed, and answered by keyword through kf/send_msg', async () => {
    // The speech really is ~1.8 s of AMR-NB at 8 kHz, as a KF voice message is.
    expect(amr.subarray(0, 6).toString('latin1')).toBe('#!AMR\n');
    expect(amrProbe).toMatchObject({ format: 'amr', codec: 'amr_nb', sampleRate: 8000, channels: 1 });
    expect(amrProbe.durationSeconds).toBeGreaterThan(1);
    expect(amrProbe.durationSeconds).toBeLessThan(3);

    api.media.put('kf-voice-media-1', { data: amr, contentType: 'audio/amr', fileName: 'kf-voice-media-1.amr' });
    // The endpoint only answers for real 16 kHz mono audio of the speech's length (±0.2 s).
    const handler = checkTranscriptionAudio(amrProbe.durationSeconds, 0.2, '价格是多少', { sampleRate: 16000, channels: 1, format: 'wav' });
    openai.transcriptions.handler = handler;
    const requestsBefore = openai.transcriptions.requests.length;

    api.kf.push('wk-voice', { msgtype: 'voice', voice: { media_id: 'kf-voice-media-1' } });
    expect((await notifyKf('wk-voice')).body).toBe('success');
    await api.waitFor(() => kfTexts('wk-voice').length === 1, 5000);

    expect(api.kf.sent.filter((m) => m['open_kfid'] === 'wk-voice')).toEqual([
      expect.objectContaining({ touser: 'wm-customer-1', msgtype: 'text', text: { content: PRICE_ANSWER } }),
    ]);
    expect(api.calls.filter((c) => c.path === '/cgi-bin/media/get').map((c) => c.query['media_id'])).toContain('kf-voice-media-1');
    const requests = openai.transcriptions.requests.slice(requestsBefore);
    expect(requests).toHaveLength(1);
    expect(requests[0]).toMatchObject({ model: 'whisper-1', language: 'zh', fileName: 'voice.wav' });
    expect(handler.received).toHaveLength(1);
    expect(handler.received[0]).toMatchObject({ format: 'wav', codec: 'pcm_s16le', sampleRate: 16000, channels: 1 });
    expect(Math.abs((handler.received[0]?.durationSeconds ?? 0) - amrProbe.durationSeconds)).toBeLessThan(0.2);
  });

  it('KF: a voice whose media/get fails gets the apology through kf/send_msg', async () => {
    api.kf.push('wk-voice-gone', { msgtype: 'voice', voice: { media_id: 'no-such-media' } });
    await notifyKf('wk-voice-gone');
    await api.waitFor(() => kfTexts('wk-voice-gone').length === 1, 5000);
    expect(kfTexts('wk-voice-gone')).toEqual([APOLOGY]);
  });

  it("Official Account: a voice with Recognition is answered from WeChat's transcript, passively, without the endpoint", async () => {
    const before = openai.transcriptions.requests.length;
    const response = await oaPeer.post(oaPeer.message('voice', { MediaId: 'oa-media-1', Format: 'amr', Recognition: '请问价格是多少？' }, { from: 'o-user-1' }));
    expect(response.reply).toMatchObject({ MsgType: 'text', Content: PRICE_ANSWER, ToUserName: 'o-user-1' });
    expect(openai.transcriptions.requests.length).toBe(before);
    expect(api.calls.some((c) => c.path === '/cgi-bin/media/get' && c.query['media_id'] === 'oa-media-1')).toBe(false);
  });

  it('Official Account: a voice without Recognition is downloaded and transcribed, still answered within the passive window', async () => {
    api.media.put('oa-media-2', { data: amr, contentType: 'audio/amr', fileName: 'oa-media-2.amr' });
    openai.transcriptions.handler = checkTranscriptionAudio(amrProbe.durationSeconds, 0.2, '价格怎么算', { sampleRate: 16000, channels: 1 });
    const response = await oaPeer.post(oaPeer.message('voice', { MediaId: 'oa-media-2', Format: 'amr' }, { from: 'o-user-2' }));
    expect(response.reply).toMatchObject({ MsgType: 'text', Content: PRICE_ANSWER });
  });
});
