import { describe, expect, it } from 'vitest';
import { Inbound } from '../src/delivery/inbound.ts';
import { InProcessOutbox, planDelivery, type Outbox, type OutboxJob, type PassiveSlot } from '../src/delivery/outbox.ts';
import { PassiveWindow } from '../src/delivery/passiveWindow.ts';
import { compose } from '../src/pipeline/compose.ts';
import { Metrics } from '../src/metrics.ts';
import { I18n } from '../src/i18n/catalog.ts';
import { BaseChannel, KF_SESSION_NOT_ALLOWED, type CallbackResult } from '../src/protocol.ts';
import {
  MemoryStore,
  WeChatApiError,
  createBot,
  officialAccount,
  parseCommand,
  type Channel,
  type ChannelKind,
  type Message,
  type Recipient,
  type Reply,
  type ReplyType,
  type SendOptions,
} from '../src/index.ts';
import { WeChatPeer } from '@wxbot/testing';
import { captureLogger } from './helpers.ts';

/** A channel whose active sends are recorded (or fail with `failWith`). */
class FakeChannel extends BaseChannel implements Channel {
  readonly kind: ChannelKind = 'wecomApp';
  readonly passiveReplyTypes: ReadonlySet<ReplyType> = new Set(['text', 'image']);
  readonly textLimitBytes = 10;
  readonly sent: { to: Recipient; reply: Reply }[] = [];
  readonly sendIds: (string | undefined)[] = [];
  failWith: unknown;
  constructor(name = 'fake') {
    super({ name, path: `/${name}` }, { name, path: `/${name}` });
  }
  verify(): string {
    return '';
  }
  receive(): CallbackResult {
    throw new Error('not used');
  }
  async send(to: Recipient, reply: Reply, options?: SendOptions): Promise<void> {
    if (this.failWith) throw this.failWith;
    this.sent.push({ to, reply });
    this.sendIds.push(options?.sendId);
  }
  describe(): Record<string, unknown> {
    return {};
  }
}

const job = (reply: Reply, extra: Partial<OutboxJob> = {}): OutboxJob => ({ channel: 'fake', to: { user: 'u1' }, reply, key: 'fake:m1:0', answers: 'm1', ...extra });
const openSlot = (): PassiveSlot & { taken: Reply[] } => {
  const taken: Reply[] = [];
  return { taken, take: (reply) => taken.length === 0 && taken.push(reply) > 0 };
};

describe('the send rules (delivery/outbox)', () => {
  it('a short reply goes passively while the slot is open; a split text goes out whole through the API, parts keyed in order', () => {
    const channel = new FakeChannel();
    const slot = openSlot();
    expect(planDelivery(channel, job({ type: 'text', text: 'short' }), slot)).toEqual([]);
    expect(slot.taken).toEqual([{ type: 'text', text: 'short' }]);

    const second = openSlot();
    const active = planDelivery(channel, job({ type: 'text', text: '0123456789abcdefghij' }), second);
    expect(second.taken).toEqual([]);
    expect(active.map((j) => [j.key, j.reply])).toEqual([
      ['fake:m1:0#0', { type: 'text', text: '0123456789' }],
      ['fake:m1:0#1', { type: 'text', text: 'abcdefghij' }],
    ]);
    // A type the channel cannot answer passively goes actively even with the slot open.
    expect(planDelivery(channel, job({ type: 'file', mediaId: 'f' }), openSlot())).toHaveLength(1);
  });

  it('sendTo uses the same rules as ctx.reply: long texts are split by the channel limit', async () => {
    const channel = new FakeChannel();
    const bot = createBot({ channels: [channel], logger: captureLogger().log });
    await bot.init();
    await bot.sendTo('fake', { user: 'u9' }, 'ABCDEFGHIJKLMNO');
    expect(channel.sent).toEqual([
      { to: { user: 'u9' }, reply: { type: 'text', text: 'ABCDEFGHIJ' } },
      { to: { user: 'u9' }, reply: { type: 'text', text: 'KLMNO' } },
    ]);
    await expect(bot.sendTo('nope', { user: 'u9' }, 'x')).rejects.toThrow('no channel named "nope": sendTo takes a channel\'s name; this bot\'s channels are "fake"');
    await expect(bot.sendTo('fak', { user: 'u9' }, 'x')).rejects.toThrow('no channel named "fak" (did you mean "fake"?)');
    await bot.stop();
  });

  it('every active send carries a send id derived from its key: the same on a resend, distinct per part', async () => {
    const channel = new FakeChannel();
    const outbox = new InProcessOutbox([channel], captureLogger().log, new Metrics({}));
    await outbox.send(job({ type: 'text', text: '0123456789abcdefghij' }));
    await outbox.send(job({ type: 'text', text: '0123456789abcdefghij' }));
    const [a, b, again, againB] = channel.sendIds;
    expect(a).toMatch(/^[0-9A-Za-z_-]{32}$/);
    expect(a).not.toBe(b);
    expect([again, againB]).toEqual([a, b]);
  });

  it('send never throws where it is called: an unknown channel, or a throw while planning, is a rejected promise', async () => {
    const outbox = new InProcessOutbox([new FakeChannel()], captureLogger().log, new Metrics({}));
    const broken: PassiveSlot = {
      take: () => {
        throw new Error('slot broke');
      },
    };
    // Called without await: a synchronous throw would fail here, not in the expectations below.
    const unknown = outbox.send(job({ type: 'text', text: 'hi' }, { channel: 'nope' }));
    const planning = outbox.send(job({ type: 'text', text: 'hi' }), broken);
    await expect(unknown).rejects.toThrow('no channel named "nope"');
    await expect(planning).rejects.toThrow('slot broke');
    // A passive reply's promise resolves (one shared promise), an active one's after its send.
    await expect(outbox.send(job({ type: 'text', text: 'hi' }), openSlot())).resolves.toBeUndefined();
  });

  it('KF 95018 on a reply is logged and not thrown; an unprompted send gets the error', async () => {
    const logs = captureLogger();
    const channel = new FakeChannel();
    channel.failWith = new WeChatApiError('cgi-bin/kf/send_msg', KF_SESSION_NOT_ALLOWED, 'session not allowed');
    const outbox = new InProcessOutbox([channel], logs.log, new Metrics({}));
    await expect(outbox.send(job({ type: 'file', mediaId: 'f' }))).resolves.toBeUndefined();
    expect(logs.lines.some((l) => String(l['msg']).includes('human servicer holds this session'))).toBe(true);
    await expect(outbox.send(job({ type: 'file', mediaId: 'f' }, { answers: undefined }))).rejects.toBeInstanceOf(WeChatApiError);
    channel.failWith = new WeChatApiError('cgi-bin/kf/send_msg', 40001, 'bad token');
    await expect(outbox.send(job({ type: 'file', mediaId: 'f' }))).rejects.toThrow('40001');
  });
});

describe('a text over one message with no active API', () => {
  it('sends what fits passively and logs a warning (an Official Account without AppSecret)', async () => {
    const logs = captureLogger();
    const bot = createBot({ channels: [officialAccount({ appId: 'wx-no-secret', token: 'tok' })], logger: logs.log });
    bot.on('text', (ctx) => ctx.reply('长'.repeat(1500))); // 4500 bytes: three messages' worth
    await bot.init();
    try {
      const peer = new WeChatPeer({ url: 'http://unused', kind: 'officialAccount', mode: 'plain', token: 'tok', receiveId: 'wx-no-secret' });
      const { query, body } = peer.buildCallback(peer.message('text', { Content: 'long please' }, { msgId: '88001' }));
      const answer = await bot.handleCallback(bot.channels[0]!, Object.fromEntries(query), body);
      const content = /<Content><!\[CDATA\[(.*?)\]\]><\/Content>/s.exec(answer)?.[1] ?? '';
      expect(content.length).toBeGreaterThan(0);
      expect(Buffer.byteLength(content)).toBeLessThanOrEqual(2048);
      expect('长'.repeat(1500).startsWith(content)).toBe(true);
      expect(logs.lines.find((l) => String(l['msg']).startsWith('reply too long for one message and the channel has no active API'))).toMatchObject({
        level: 40,
        parts: 3,
        sent: 1,
      });
      expect(logs.lines.filter((l) => Number(l['level']) >= 50)).toEqual([]);
    } finally {
      await bot.stop();
    }
  });
});

describe('the inbound path (delivery/inbound)', () => {
  it('hands every reply to the outbox as a job with a deterministic key, and the window as the passive slot', async () => {
    const channel = new FakeChannel();
    const jobs: { job: OutboxJob; passive: boolean }[] = [];
    // Any engine can sit behind the Outbox interface: here, one that records.
    const outbox: Outbox = {
      async send(j, passive) {
        jobs.push({ job: j, passive: passive !== undefined });
      },
    };
    const logs = captureLogger();
    const inbound = new Inbound({
      log: logs.log,
      store: new MemoryStore(),
      i18n: new I18n(),
      metrics: new Metrics({}),
      outbox,
      slowHandlerWarnMs: 60_000,
      pipeline: async (ctx) => {
        await ctx.reply('one');
        await ctx.reply({ type: 'image', mediaId: 'm' });
      },
      handoff: async () => {},
      canHandoff: () => false,
      reportError: (error) => {
        throw error;
      },
    });
    const message: Message = { id: 'msg-7', channel: channel.ref, from: 'u1', to: 'corp', time: new Date(), raw: {}, type: 'text', text: 'hi', command: parseCommand('hi') };
    await inbound.run(channel, message, new PassiveWindow(1000));
    expect(jobs.map(({ job: j, passive }) => [j.key, j.channel, j.to, j.answers, passive])).toEqual([
      ['fake:msg-7:0', 'fake', { user: 'u1' }, 'msg-7', true],
      ['fake:msg-7:1', 'fake', { user: 'u1' }, 'msg-7', true],
    ]);
    inbound.close();
  });
});

describe('compose: the unawaited next() check', () => {
  it('reports the middleware that returned while its next() still ran, and only then', async () => {
    const reported: number[] = [];
    const slow = async () => void (await new Promise((r) => setTimeout(r, 10)));
    const run = compose<object>(
      [
        async (_ctx, next) => {
          await next();
        },
        (_ctx, next) => {
          void next(); // forgot await
        },
        slow,
      ],
      { onUnawaitedNext: (index) => void reported.push(index) },
    );
    await run({});
    expect(reported).toEqual([1]);
    await new Promise((r) => setTimeout(r, 20));
    // Without the option nothing is tracked.
    const plain = compose<object>([(_ctx, next) => void next(), slow]);
    await expect(plain({})).resolves.toBeUndefined();
  });
});

describe('the passive window closes when the pipeline ends', () => {
  it('a callback nothing answers (or whose handler throws) gets "success" at once, not at the end of its window', async () => {
    const logs = captureLogger();
    // An hour's window: were it left open when the pipeline ended, the callback would outlast the test.
    const bot = createBot({ channels: [officialAccount({ appId: 'wx-window', token: 'tok', replyWindowMs: 3_600_000 })], logger: logs.log });
    bot.on('text', (ctx) => {
      if (ctx.message.text === 'boom') throw new Error('handler failed');
    });
    await bot.init();
    try {
      const peer = new WeChatPeer({ url: 'http://unused', kind: 'officialAccount', mode: 'plain', token: 'tok', receiveId: 'wx-window' });
      for (const [text, msgId] of [
        ['quiet', '99001'],
        ['boom', '99002'],
      ]) {
        const { query, body } = peer.buildCallback(peer.message('text', { Content: text }, { msgId }));
        expect(await bot.handleCallback(bot.channels[0]!, Object.fromEntries(query), body)).toBe('success');
      }
    } finally {
      await bot.stop();
    }
  });

  it('a callback whose handler throws and whose pluginError listener throws too still gets "success", and nothing is left unhandled', async () => {
    const logs = captureLogger();
    const bot = createBot({ channels: [officialAccount({ appId: 'wx-window', token: 'tok', replyWindowMs: 3_600_000 })], logger: logs.log });
    bot.on('text', () => {
      throw new Error('handler failed');
    });
    bot.events.on('pluginError', () => {
      throw new Error('listener failed');
    });
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => void unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    await bot.init();
    try {
      const peer = new WeChatPeer({ url: 'http://unused', kind: 'officialAccount', mode: 'plain', token: 'tok', receiveId: 'wx-window' });
      const { query, body } = peer.buildCallback(peer.message('text', { Content: 'boom' }, { msgId: '99003' }));
      expect(await bot.handleCallback(bot.channels[0]!, Object.fromEntries(query), body)).toBe('success');
      // Node reports an unhandled rejection after the microtasks of the turn it happened in.
      await new Promise((resolve) => setTimeout(resolve, 10));
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', onUnhandled);
      await bot.stop();
    }
  });
});
