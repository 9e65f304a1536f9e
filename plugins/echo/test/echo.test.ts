import { describe, expect, it } from 'vitest';
import { createTestBot, image, text, voice } from '@wxbot/testing';
import { echo } from '../src/index.ts';

describe('echo plugin', () => {
  it('echoes text, image and voice', async () => {
    const kit = await createTestBot({ plugins: [echo({ prefix: '> ' })] });
    expect((await kit.send('你好')).texts).toEqual(['> 你好']);
    expect((await kit.send(image('m1'))).replies).toEqual([{ type: 'image', mediaId: 'm1' }]);
    expect((await kit.send(voice('v1'))).replies).toEqual([{ type: 'voice', mediaId: 'v1' }]);
    await kit.close();
  });

  it('passes types it does not echo to the next middleware', async () => {
    const kit = await createTestBot({ plugins: [echo({ types: ['text'] })] });
    expect((await kit.send(image('m1'))).replies).toEqual([]);
    // Commands are not echoed: the bot answers an unknown one with a pointer to /help.
    expect((await kit.send(text('/x a'))).texts).toEqual(['没有 /x 这个命令。发送 /help 查看可用命令。']);
    await kit.close();
  });

  it('splits text longer than the channel limit on character boundaries', async () => {
    const kit = await createTestBot({ plugins: [echo()], textLimitBytes: 30 });
    const long = '你好世界'.repeat(5); // 60 bytes
    const { texts } = await kit.send(long);
    expect(texts.join('')).toBe(long);
    expect(texts.every((t) => Buffer.byteLength(t) <= 30)).toBe(true);
    await kit.close();
  });
});

describe('echo plugin: passive and active', () => {
  it('the first reply goes passively on an Official Account, everything actively on KF', async () => {
    const oa = await createTestBot({ plugins: [echo()] });
    expect(await oa.send('hi')).toMatchObject({ passive: { type: 'text', text: 'hi' }, active: [] });
    await oa.close();
    const kf = await createTestBot({ plugins: [echo()], kind: 'wecomKf' });
    expect(await kf.send('hi')).toMatchObject({ passive: undefined, active: [{ type: 'text', text: 'hi' }] });
    await kf.close();
  });
});
