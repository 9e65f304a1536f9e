import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { definePlugin, replies } from '@wxbot/core';
import { createTestBot, image, text } from '../src/index.ts';

/** A plugin that uses what a kit must stand in for: its channel by name, sendTo, media, a route. */
const notifier = definePlugin({
  name: 'notifier',
  setup(scope) {
    scope.command('where', (ctx) => ctx.reply(`${ctx.channel.name}/${ctx.channel.kind}`));
    // Tells an operator, not the sender: a sendTo during a message.
    scope.hears('人工', async (ctx) => {
      await scope.sendTo(ctx.channel.name, { user: 'operator' }, `${ctx.from} wants a human`);
      await ctx.reply('已通知客服');
    });
    scope.on('image', async (ctx) => {
      const file = await ctx.downloadMedia(ctx.message.mediaId);
      const copy = await ctx.uploadMedia('image', { data: file.data, fileName: 'copy.png', contentType: file.contentType });
      await ctx.reply(replies.image(copy));
    });
    scope.route(
      'POST',
      '/notify/:user',
      async (ctx) => {
        await scope.sendTo('wecomApp', { user: ctx.params['user']! }, ctx.request.body.text);
        ctx.body = { ok: true };
      },
      { body: z.object({ text: z.string().min(1) }) },
    );
  },
});

describe('createTestBot', () => {
  it('names its channel after its kind, or as asked', async () => {
    const app = await createTestBot({ kind: 'wecomApp', plugins: [notifier()] });
    expect(app.channelName).toBe('wecomApp');
    expect((await app.send('/where')).texts).toEqual(['wecomApp/wecomApp']);
    await app.close();
    const named = await createTestBot({ kind: 'wecomKf', name: 'kf-shop', plugins: [notifier()] });
    expect((await named.send('/where')).texts).toEqual(['kf-shop/wecomKf']);
    await named.close();
  });

  it("lists sendTo sends in kit.sent, apart from the message's answers", async () => {
    const kit = await createTestBot({ kind: 'wecomApp', plugins: [notifier()] });
    const result = await kit.send(text('人工', { from: 'alice' }));
    expect(result.texts).toEqual(['已通知客服']);
    expect(kit.sent).toEqual([{ channel: 'wecomApp', to: { user: 'operator' }, reply: { type: 'text', text: 'alice wants a human' } }]);
    await kit.close();
  });

  it('serves media by id to downloadMedia and records uploads', async () => {
    const png = Buffer.from('89504e470d0a1a0a', 'hex');
    const kit = await createTestBot({ plugins: [notifier()], media: { 'media-1': { data: png, contentType: 'image/png', fileName: 'a.png' } } });
    expect((await kit.send(image('media-1'))).replies).toEqual([{ type: 'image', mediaId: 'test-media-1' }]);
    expect(kit.uploads).toEqual([{ mediaId: 'test-media-1', type: 'image', file: { data: png, fileName: 'copy.png', contentType: 'image/png' } }]);
    // An id nobody gave: the plugin's download rejects (its error is logged, nothing answers).
    expect((await kit.send(image('unknown'))).replies).toEqual([]);
    // …and kit.errors says why.
    expect(kit.errors).toHaveLength(1);
    expect(kit.errors[0]).toMatchObject({ plugin: 'notifier', message: { type: 'image', mediaId: 'unknown' } });
    expect(String(kit.errors[0]?.error)).toContain('unknown');
    await kit.close();
  });

  it("calls a plugin's routes over HTTP with kit.request", async () => {
    const kit = await createTestBot({ kind: 'wecomApp', plugins: [notifier()] });
    const ok = await kit.request('POST', '/notify/u1', { body: { text: '会议改到 3 点' } });
    expect(ok.status).toBe(200);
    expect(ok.json).toEqual({ ok: true });
    expect(kit.sent).toEqual([{ channel: 'wecomApp', to: { user: 'u1' }, reply: { type: 'text', text: '会议改到 3 点' } }]);
    const bad = await kit.request('POST', '/notify/u1', { body: { text: '' } });
    expect(bad.status).toBe(400);
    expect(bad.text).toMatch(/^text: /);
    expect((await kit.request('GET', '/healthz')).text).toBe('ok');
    // A path without its leading slash: said so, not fetch's "Failed to parse URL from http://127.0.0.1:PORTnotify/u1".
    await expect(kit.request('POST', 'notify/u1')).rejects.toThrow(
      `kit.request: the path must start with "/" (got "notify/u1"), as the route's: kit.request('POST', '/notify/u1')`,
    );
    expect(kit.errors).toEqual([]);
    await kit.close();
  });
});
