import OpenAI, { APIConnectionTimeoutError, AuthenticationError, BadRequestError, InternalServerError, toFile } from 'openai';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startFakeOpenAI, type FakeOpenAI } from '../src/index.ts';

let fake: FakeOpenAI;
let client: OpenAI;

beforeEach(async () => {
  fake = await startFakeOpenAI({ apiKey: 'sk-test-1234567890' });
  client = new OpenAI({ baseURL: fake.url, apiKey: 'sk-test-1234567890', maxRetries: 0 });
});
afterEach(async () => {
  await fake.close();
});

describe('fake OpenAI: chat completions', () => {
  it('streams server-sent events the real SDK reads, one chunk each, with usage when asked', async () => {
    fake.chat.reply = () => '一二三四五六七八九';
    fake.chat.chunks = (content) => [content.slice(0, 3), content.slice(3, 6), content.slice(6)];
    const stream = await client.chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: '数数' }],
      stream: true,
      stream_options: { include_usage: true },
    });
    const deltas: string[] = [];
    let finish: string | null = null;
    let usage = 0;
    for await (const chunk of stream) {
      expect(chunk.object).toBe('chat.completion.chunk');
      const choice = chunk.choices[0];
      if (choice?.delta.content) deltas.push(choice.delta.content);
      if (choice?.finish_reason) finish = choice.finish_reason;
      if (chunk.usage) usage = chunk.usage.total_tokens;
    }
    expect(deltas).toEqual(['一二三', '四五六', '七八九']);
    expect(finish).toBe('stop');
    expect(usage).toBeGreaterThan(0);
    expect(fake.chat.requests[0]).toMatchObject({ stream: true });
  });

  it('answers the real SDK with a real chat.completion and records the request', async () => {
    const completion = await client.chat.completions.create({
      model: 'gpt-4o-mini',
      temperature: 0.2,
      messages: [
        { role: 'system', content: '你是助手' },
        { role: 'user', content: '你好' },
      ],
    });
    expect(completion.object).toBe('chat.completion');
    expect(completion.id).toMatch(/^chatcmpl-/);
    expect(completion.model).toBe('gpt-4o-mini');
    expect(completion.choices[0]?.message).toMatchObject({ role: 'assistant', content: '回答: 你好' });
    expect(completion.choices[0]?.finish_reason).toBe('stop');
    expect(completion.usage?.total_tokens).toBeGreaterThan(0);
    expect(fake.chat.requests).toEqual([
      {
        model: 'gpt-4o-mini',
        temperature: 0.2,
        messages: [
          { role: 'system', content: '你是助手' },
          { role: 'user', content: '你好' },
        ],
      },
    ]);
  });

  it('uses a programmed reply, sync or async', async () => {
    fake.chat.reply = async (request) => `${request.messages.length} messages`;
    const completion = await client.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'x' }] });
    expect(completion.choices[0]?.message.content).toBe('1 messages');
  });

  it('refuses a wrong or missing key with 401 and the real error JSON', async () => {
    const wrong = new OpenAI({ baseURL: fake.url, apiKey: 'sk-wrong-000000000000', maxRetries: 0 });
    const error = await wrong.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'x' }] }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AuthenticationError);
    expect((error as AuthenticationError).status).toBe(401);
    expect((error as AuthenticationError).code).toBe('invalid_api_key');
    expect((error as AuthenticationError).type).toBe('invalid_request_error');
    expect((error as AuthenticationError).message).not.toContain('sk-wrong-000000000000');

    const response = await fetch(`${fake.url}/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'x' }] }),
    });
    expect(response.status).toBe(401);
    const body = (await response.json()) as { error: { message: string; type: string; code: string | null } };
    expect(body.error.message).toMatch(/didn't provide an API key/);
    expect(body.error).toMatchObject({ type: 'invalid_request_error', code: null });
    expect(fake.chat.requests).toEqual([]);
  });

  it('refuses what the real API refuses: no model, no or empty messages, bad roles, bad JSON', async () => {
    const post = async (body: string) => {
      const response = await fetch(`${fake.url}/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: 'Bearer sk-test-1234567890' },
        body,
      });
      return { status: response.status, error: ((await response.json()) as { error: { message: string; code: string | null; param: string | null } }).error };
    };
    expect(await post(JSON.stringify({ messages: [{ role: 'user', content: 'x' }] }))).toMatchObject({ status: 400, error: { message: 'you must provide a model parameter' } });
    expect(await post(JSON.stringify({ model: 'm' }))).toMatchObject({ status: 400, error: { code: 'missing_required_parameter', param: 'messages' } });
    expect(await post(JSON.stringify({ model: 'm', messages: [] }))).toMatchObject({ status: 400, error: { code: 'empty_array' } });
    expect(await post(JSON.stringify({ model: 'm', messages: [{ role: 'bot', content: 'x' }] }))).toMatchObject({
      status: 400,
      error: { code: 'invalid_value', param: 'messages[0].role' },
    });
    expect(await post(JSON.stringify({ model: 'm', messages: [{ role: 'user' }] }))).toMatchObject({ status: 400, error: { param: 'messages[0].content' } });
    expect(await post('{not json')).toMatchObject({ status: 400, error: { message: expect.stringMatching(/could not parse the JSON body/) } });
    expect(fake.chat.requests).toEqual([]);

    const sdkError = await client.chat.completions.create({ model: 'm', messages: [] }).catch((e: unknown) => e);
    expect(sdkError).toBeInstanceOf(BadRequestError);
  });

  it('fails the next requests on demand, then recovers', async () => {
    fake.chat.failNext(500, 2);
    const body = { model: 'm', messages: [{ role: 'user' as const, content: 'x' }] };
    await expect(client.chat.completions.create(body)).rejects.toBeInstanceOf(InternalServerError);
    // The SDK retries a 500 by itself: the second forced failure is absorbed by one retry.
    const retrying = new OpenAI({ baseURL: fake.url, apiKey: 'sk-test-1234567890', maxRetries: 1 });
    const completion = await retrying.chat.completions.create(body);
    expect(completion.choices[0]?.message.content).toBe('回答: x');
    expect(fake.chat.requests).toHaveLength(3);
  });

  it('delays answers so clients can time out, and close() does not wait for them', async () => {
    fake.chat.delayMs = 5_000;
    const started = Date.now();
    const error = await client.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'x' }] }, { timeout: 200 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(APIConnectionTimeoutError);
    expect(Date.now() - started).toBeLessThan(2_000);
    const pending = client.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'x' }] }).catch((e: unknown) => e);
    await new Promise((r) => setTimeout(r, 50));
    const closing = Date.now();
    await fake.close();
    expect(Date.now() - closing).toBeLessThan(1_000);
    expect(await pending).toBeInstanceOf(Error);
  });

  it('with apiKey null accepts any key, as a local server does', async () => {
    const open = await startFakeOpenAI({ apiKey: null });
    const anyKey = new OpenAI({ baseURL: open.url, apiKey: 'whatever', maxRetries: 0 });
    const completion = await anyKey.chat.completions.create({ model: 'llama3', messages: [{ role: 'user', content: 'hi' }] });
    expect(completion.choices[0]?.message.content).toBe('回答: hi');
    await open.close();
  });
});

describe('fake OpenAI: audio transcriptions', () => {
  it('receives the multipart upload intact and answers {text}', async () => {
    const audio = Buffer.from(Array.from({ length: 70_000 }, (_, i) => (i * 31) % 256)); // every byte value, crosses chunks
    fake.transcriptions.handler = async ({ file }) => `${file.length} bytes`;
    const result = await client.audio.transcriptions.create({
      file: await toFile(audio, '语音.mp3', { type: 'audio/mpeg' }),
      model: 'whisper-1',
      language: 'zh',
    });
    expect(result.text).toBe('70000 bytes');
    expect(fake.transcriptions.requests).toHaveLength(1);
    const request = fake.transcriptions.requests[0]!;
    expect(request.file.equals(audio)).toBe(true);
    expect(request).toMatchObject({ fileName: '语音.mp3', contentType: 'audio/mpeg', model: 'whisper-1', language: 'zh', responseFormat: 'json' });
  });

  it('answers plain text for response_format text', async () => {
    fake.transcriptions.handler = () => '你好';
    const result = await client.audio.transcriptions.create({ file: await toFile(Buffer.from('RIFF'), 'a.wav'), model: 'whisper-1', response_format: 'text' });
    expect(String(result).trim()).toBe('你好');
  });

  it('answers 500 with the real error shape when no handler is set', async () => {
    const error = await client.audio.transcriptions.create({ file: await toFile(Buffer.from('x'), 'a.mp3'), model: 'whisper-1' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InternalServerError);
    expect((error as InternalServerError).message).toContain('no transcription handler');
    expect((error as InternalServerError).type).toBe('server_error');
  });

  it('refuses a missing file, a missing model and a format the real API rejects (amr)', async () => {
    const post = async (form: FormData) => {
      const response = await fetch(`${fake.url}/audio/transcriptions`, { method: 'POST', headers: { authorization: 'Bearer sk-test-1234567890' }, body: form });
      return { status: response.status, message: ((await response.json()) as { error: { message: string } }).error.message };
    };
    const noFile = new FormData();
    noFile.set('model', 'whisper-1');
    expect(await post(noFile)).toMatchObject({ status: 400, message: expect.stringContaining('body -> file') });
    const noModel = new FormData();
    noModel.set('file', new File([Buffer.from('x')], 'a.mp3'));
    expect(await post(noModel)).toMatchObject({ status: 400, message: expect.stringContaining('body -> model') });
    const amr = await client.audio.transcriptions.create({ file: await toFile(Buffer.from('#!AMR\n'), 'voice.amr'), model: 'whisper-1' }).catch((e: unknown) => e);
    expect(amr).toBeInstanceOf(BadRequestError);
    expect((amr as BadRequestError).message).toContain('Invalid file format');
    expect(fake.transcriptions.requests).toEqual([]);
  });
});
