/*
 * examples/kf-desk end to end: a fake WeChat API (kf/sync_msg, kf/send_msg, media/get,
 * service_state), a fake OpenAI whose transcription endpoint measures the audio it gets, real
 * speech (espeak-ng → AMR-NB, as a KF customer's voice is), and the example started through
 * the CLI with its environment pointing at the fakes.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateEncodingAESKey, resolveConfig, type Plugin } from '@wxbot/core';
import {
  WeChatPeer,
  checkTranscriptionAudio,
  createTestBot,
  makeSpeechWav,
  probeAudio,
  startFakeOpenAI,
  startFakeWeChatApi,
  toAmr,
  voice as voiceMessage,
  type AudioProbe,
  type FakeOpenAI,
  type FakeWeChatApi,
} from '@wxbot/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startWxbot, stopWxbot, type WxbotProcess } from '../../../test/support/wxbotProcess.ts';
import config, { FALLBACK, HANDOFF_REPLY, SYSTEM_PROMPT, VOICE_UNSUPPORTED, WELCOME } from '../bot.config.ts';

const CORP = 'ww-kf-desk-example';
const KF_SECRET = 'kf-desk-secret';
const TOKEN = 'kf-desk-token';
const KEY = generateEncodingAESKey();

const cwd = mkdtempSync(join(tmpdir(), 'wxbot-kf-desk-'));
let api: FakeWeChatApi;
let openai: FakeOpenAI;
let cli: WxbotProcess;
let peer: WeChatPeer;
let amr: Buffer;
let amrProbe: AudioProbe;

beforeAll(async () => {
  [api, openai] = await Promise.all([startFakeWeChatApi({ credentials: [{ id: CORP, secret: KF_SECRET, kind: 'wecomKf' }] }), startFakeOpenAI()]);
  cli = startWxbot(
    'examples/kf-desk/bot.config.ts',
    {
      WECOM_CORP_ID: CORP,
      WECOM_KF_SECRET: KF_SECRET,
      WECOM_KF_TOKEN: TOKEN,
      WECOM_KF_AES_KEY: KEY,
      WECOM_API_BASE: api.url,
      KF_CURSOR_FILE: join(cwd, 'kf-cursors.json'),
      OPENAI_BASE_URL: openai.url,
      OPENAI_API_KEY: openai.apiKey!,
      OPENAI_MODEL: 'fake-chat-model',
      OPENAI_TRANSCRIBE_MODEL: '',
      LLM_SYSTEM_PROMPT: '',
      REDIS_URL: '',
      PORT: '',
      LOG_LEVEL: 'info',
      LOG_FORMAT: 'json',
    },
    cwd,
  );
  cli.ready.catch(() => {}); // awaited below; a start-up failure must not count as unhandled meanwhile
  // Meanwhile, a customer's voice message: real Mandarin speech, AMR-NB 8 kHz as KF sends it.
  amr = await toAmr(await makeSpeechWav('退款多久到账', { voice: 'zh' }));
  amrProbe = await probeAudio(amr);
  const url = await cli.ready;
  peer = new WeChatPeer({ url: `${url}/wecom/kf`, kind: 'wecomKf', token: TOKEN, encodingAESKey: KEY, receiveId: CORP });
});
afterAll(async () => {
  if (cli) await stopWxbot(cli.child);
  await Promise.all([api?.close(), openai?.close()]);
  rmSync(cwd, { recursive: true, force: true });
});

/** What WeChat does when customers wrote: a kf_msg_or_event callback, then the bot syncs. */
async function notify(openKfId: string): Promise<void> {
  const response = await peer.event('kf_msg_or_event', { Token: `sync-${Date.now()}`, OpenKfId: openKfId }, { from: 'sys' });
  expect(response).toMatchObject({ status: 200, body: 'success' });
}
const textsTo = (openKfId: string, customer: string) =>
  api.kf.sent.filter((m) => m['open_kfid'] === openKfId && m['touser'] === customer).map((m) => (m['text'] as { content?: string } | undefined)?.content);

describe('examples/kf-desk', () => {
  it('greets a customer who opens the chat, with the welcome code', async () => {
    const code = api.kf.pushEnterSession('wk-desk-welcome', 'wm-welcome');
    await notify('wk-desk-welcome');
    const sent = await api.waitFor(() => api.kf.sentOnEvent.find((m) => m['code'] === code));
    expect(sent).toMatchObject({ msgtype: 'text', text: { content: WELCOME } });
  });

  it('a text matching the FAQ gets its answer through kf/send_msg', async () => {
    api.kf.push('wk-desk-faq', { external_userid: 'wm-faq', text: { content: '你们的产品保修多久？' } });
    await notify('wk-desk-faq');
    await api.waitFor(() => textsTo('wk-desk-faq', 'wm-faq').length === 1);
    expect(textsTo('wk-desk-faq', 'wm-faq')[0]).toMatch(/^所有设备自签收之日起享受 1 年免费保修/);
  });

  it('a voice message is downloaded, converted, transcribed, and answered by the FAQ', async () => {
    api.media.put('kf-desk-voice-1', { data: amr, contentType: 'audio/amr', fileName: 'kf-desk-voice-1.amr' });
    // The endpoint answers only for real 16 kHz mono audio as long as the speech (± 0.25 s).
    const handler = checkTranscriptionAudio(amrProbe.durationSeconds, 0.25, '请问退款多久到账', { sampleRate: 16000, channels: 1 });
    openai.transcriptions.handler = handler;
    api.kf.push('wk-desk-voice', { external_userid: 'wm-voice', msgtype: 'voice', voice: { media_id: 'kf-desk-voice-1' } });
    await notify('wk-desk-voice');
    await api.waitFor(() => textsTo('wk-desk-voice', 'wm-voice').length === 1, 6000);
    expect(textsTo('wk-desk-voice', 'wm-voice')[0]).toMatch(/^仓库收到退货并确认无误后 1–3 个工作日内退款，原路返回/);
    expect(handler.received).toHaveLength(1);
    expect(openai.transcriptions.requests.at(-1)).toMatchObject({ model: 'whisper-1', language: 'zh' });
  });

  it('人工: the hand-off reply is sent, then the session moves from the bot (1) to the waiting pool (2)', async () => {
    api.kf.setState('wk-desk-human', 'wm-human', 1); // the bot holds the session, as after its first answer
    api.kf.push('wk-desk-human', { external_userid: 'wm-human', text: { content: '我要转人工' } });
    await notify('wk-desk-human');
    const transition = await api.waitFor(() => api.kf.transitions.find((t) => t.open_kfid === 'wk-desk-human'));
    expect(transition).toMatchObject({ external_userid: 'wm-human', from: 1, to: 2 });
    expect(transition?.servicer_userid).toBeUndefined();
    expect(api.kf.state('wk-desk-human', 'wm-human').service_state).toBe(2);
    expect(textsTo('wk-desk-human', 'wm-human')).toEqual([HANDOFF_REPLY]);
    // The reply went out while the bot still held the session, before the transfer.
    const paths = api.calls.map((c) => c.path);
    expect(paths.lastIndexOf('/cgi-bin/kf/send_msg')).toBeLessThan(paths.lastIndexOf('/cgi-bin/kf/service_state/trans'));
  });

  it('a question neither the rules nor the FAQ cover goes to the LLM, with the desk prompt', async () => {
    api.kf.push('wk-desk-llm', { external_userid: 'wm-llm', text: { content: '智能门锁能在国外用吗' } });
    await notify('wk-desk-llm');
    await api.waitFor(() => textsTo('wk-desk-llm', 'wm-llm').length === 1);
    expect(textsTo('wk-desk-llm', 'wm-llm')).toEqual(['回答: 智能门锁能在国外用吗']);
    expect(openai.chat.requests.at(-1)?.messages[0]).toEqual({ role: 'system', content: SYSTEM_PROMPT });
  });
});

describe('examples/kf-desk without an LLM', () => {
  it('answers what nothing else did with the fallback, never an echo', async () => {
    // Credentials set (no dev mode, nothing written to the repo), no OpenAI: no voice, no llm.
    const env = { WECOM_CORP_ID: CORP, WECOM_KF_SECRET: KF_SECRET, WECOM_KF_TOKEN: TOKEN, WECOM_KF_AES_KEY: KEY, OPENAI_API_KEY: '', OPENAI_BASE_URL: '', REDIS_URL: '' };
    const saved = Object.fromEntries(Object.keys(env).map((name) => [name, process.env[name]]));
    Object.assign(process.env, env);
    let plugins: Plugin[];
    try {
      plugins = (await resolveConfig(config)).plugins ?? [];
    } finally {
      for (const [name, value] of Object.entries(saved)) {
        if (value === undefined) delete process.env[name];
        else process.env[name] = value;
      }
    }
    expect(plugins.map((p) => p.name)).toEqual(['keyword', 'kf-desk']);
    const kit = await createTestBot({ plugins, kind: 'wecomKf' });
    try {
      expect((await kit.send('今天天气怎么样')).texts).toEqual([FALLBACK]);
      expect((await kit.send(voiceMessage('kf-voice-no-endpoint'))).texts).toEqual([VOICE_UNSUPPORTED]);
      expect((await kit.send('发票怎么开')).texts[0]).toMatch(/^可以开具电子普通发票/);
    } finally {
      await kit.close();
    }
  });
});
