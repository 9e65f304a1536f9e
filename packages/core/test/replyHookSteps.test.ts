import { describe, expect, it } from 'vitest';
import { HookedOutbox } from '../src/delivery/replyHooks.ts';
import type { Outbox, OutboxJob } from '../src/delivery/outbox.ts';
import { captureLogger } from './helpers.ts';

/**
 * HookedOutbox's steps run on promise callbacks, not async frames: the ways a hook may call
 * next() (synchronously, after an await, not at all, twice) and return (nothing, a promise, a
 * thenable) must give what `await hook(…)` gave.
 */
function setup(fail?: Error) {
  const sent: string[] = [];
  const engine: Outbox = {
    send: async (job) => {
      if (fail) throw fail;
      sent.push(job.reply.type === 'text' ? job.reply.text : job.reply.type);
    },
  };
  const logs = captureLogger();
  const outbox = new HookedOutbox(engine, logs.log, true);
  return { sent, logs, outbox };
}
const job = (text: string): OutboxJob => ({ channel: 'oa', to: { user: 'u' }, reply: { type: 'text', text }, key: `oa:1:${text}` });
const mark =
  (suffix: string) =>
  (out: OutboxJob): OutboxJob => ({ ...out, reply: { type: 'text', text: `${out.reply.type === 'text' ? out.reply.text : ''}${suffix}` } });

describe('HookedOutbox steps', () => {
  it('hooks that call next() synchronously, after an await, or return a thenable all pass the reply on, in order', async () => {
    const { sent, outbox } = setup();
    outbox.add((out, next) => next(mark('a')(out))); // sync, returns next()'s promise
    outbox.add(async (out, next) => {
      await Promise.resolve();
      await next(mark('b')(out)); // next() after an await: read when the hook is done
    });
    // biome-ignore lint/suspicious/noThenProperty: a hook may return any thenable, not only a Promise; this is one
    outbox.add((out, next) => ({ then: (ok: () => void, ko: (e: unknown) => void) => next(mark('c')(out)).then(ok, ko) }) as unknown as Promise<void>);
    outbox.add((out, next) => {
      void next(mark('d')(out)); // not awaited: the sender still waits for delivery
    });
    await outbox.send(job('x'));
    expect(sent).toEqual(['xabcd']);
  });

  it('a delivery failure reaches the sender through every kind of hook, the hooks not blamed', async () => {
    const { outbox, logs } = setup(new Error('api down'));
    outbox.add((out, next) => next(out), 'sync');
    outbox.add(async (out, next) => next(out), 'async');
    outbox.add((out, next) => {
      void next(out).catch(() => {});
    }, 'unawaited');
    await expect(outbox.send(job('x'))).rejects.toThrow('api down');
    expect(logs.lines.filter((l) => l['level'] === 50)).toEqual([]);
  });

  it('a hook that throws synchronously before next() is skipped; one that throws after next() is named, delivery kept', async () => {
    const { sent, outbox, logs } = setup();
    outbox.add(() => {
      throw new Error('sync before');
    }, 'early');
    outbox.add((out, next) => {
      void next(out);
      throw new Error('sync after');
    }, 'late');
    await outbox.send(job('x'));
    expect(sent).toEqual(['x']);
    const errors = logs.lines.filter((l) => l['level'] === 50).map((l) => [l['plugin'], l['msg']]);
    expect(errors).toEqual([
      ['early', 'plugin "early" failed in its reply hook (onReply); the reply goes on without it'],
      ['late', 'plugin "late" failed in its reply hook (onReply); after passing the reply on'],
    ]);
  });

  it('next() twice: the second call throws in the hook, the reply is delivered once', async () => {
    const { sent, outbox, logs } = setup();
    outbox.add(async (out, next) => {
      await next(out);
      await next(out);
    }, 'greedy');
    await outbox.send(job('x'));
    expect(sent).toEqual(['x']);
    const line = logs.lines.find((l) => l['level'] === 50);
    expect(line).toMatchObject({ plugin: 'greedy', msg: 'plugin "greedy" failed in its reply hook (onReply); after passing the reply on' });
    expect(line?.['err']).toMatchObject({ message: 'a reply hook called next() twice' });
  });

  it('a hook that returns without next() drops the reply (and says so once with dev checks)', async () => {
    const { sent, outbox, logs } = setup();
    outbox.add(() => undefined, 'drop');
    await outbox.send(job('x'));
    await outbox.send(job('y'));
    expect(sent).toEqual([]);
    expect(logs.lines.filter((l) => l['level'] === 40 && l['plugin'] === 'drop')).toHaveLength(1);
  });
});
