import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ConversationOrder } from '../src/durable/order.ts';
import { redisTestConnection } from './fixture.ts';

const { prefix: PREFIX, run, redis } = await redisTestConnection('ConversationOrder tests');

describe.runIf(run)('ConversationOrder (real Redis)', () => {
  const S = ConversationOrder.SLOTS;

  it('gives a message one arrival number, whoever asks and how often', async () => {
    const order = new ConversationOrder(redis, PREFIX);
    const a = await order.seqOf('ch:m1');
    const b = await order.seqOf('ch:m2');
    expect(b).toBe(a + 1);
    expect(await Promise.all([order.seqOf('ch:m1'), order.seqOf('ch:m1')])).toEqual([a, a]);
  });

  it('a page: arrival numbers as seqOf gives them (one per message, kept), entries at their place, in one command', async () => {
    const order = new ConversationOrder(redis, PREFIX);
    const [c1, c2] = [`c-${randomUUID()}`, `c-${randomUUID()}`];
    const known = await order.seqOf('page:m0');
    const seqs = await order.enterPage([
      { messageKey: 'page:m1', conversation: c1, entry: 'in|m1' },
      { messageKey: 'page:m0', conversation: c2, entry: 'in|m0' },
      { messageKey: 'page:m2', conversation: c1, entry: 'in|m2' },
      { messageKey: 'page:m1', conversation: c1, entry: 'in|m1' },
    ]);
    expect(seqs[1]).toBe(known);
    expect(seqs[2]).toBe(seqs[0]! + 1);
    expect(seqs[3]).toBe(seqs[0]);
    expect(await order.seqOf('page:m2')).toBe(seqs[2]);
    expect(await redis.zrange(order.keyOf(c1), '0', '-1', 'WITHSCORES')).toEqual(['in|m1', String(seqs[0]! * S), 'in|m2', String(seqs[2]! * S)]);
    expect(await redis.zrange(order.keyOf(c2), '0', '-1', 'WITHSCORES')).toEqual(['in|m0', String(known * S)]);
    const ttl = await redis.pttl(order.keyOf(c1));
    expect(ttl).toBeGreaterThan(ConversationOrder.TTL_MS - 60_000);
    expect(await redis.pttl(`${PREFIX}seq:page:m2`)).toBeGreaterThan(ConversationOrder.TTL_MS - 60_000);
    expect(await order.enterPage([])).toEqual([]);
  });

  it("a message waits for the earlier messages; a send waits for everything before it except its own message's run", async () => {
    const order = new ConversationOrder(redis, PREFIX);
    const conv = `c-${randomUUID()}`;
    await order.enter(conv, 'in-1', 1 * S);
    await order.enter(conv, 'out-1a', 1 * S + 1);
    await order.enter(conv, 'out-1b', 1 * S + 2);
    await order.enter(conv, 'in-2', 2 * S);
    await order.enter(conv, 'out-2a', 2 * S + 1);
    // The first message's run and its first send may go; its second send waits for the first.
    expect(await order.blockers(conv, 'in-1', 1 * S)).toEqual([]);
    expect(await order.blockers(conv, 'out-1a', 1 * S + 1)).toEqual([]);
    expect(await order.blockers(conv, 'out-1b', 1 * S + 2)).toEqual(['out-1a']);
    // The next message waits for the earlier message's run, not for its sends; its own sends
    // wait for every earlier send.
    expect(await order.blockers(conv, 'in-2', 2 * S)).toEqual(['in-1']);
    expect(await order.blockers(conv, 'out-2a', 2 * S + 1)).toEqual(['in-1', 'out-1a', 'out-1b']);
    await order.leave(conv, 'in-1');
    expect(await order.blockers(conv, 'in-2', 2 * S)).toEqual([]);
    expect(await order.blockers(conv, 'out-2a', 2 * S + 1)).toEqual(['out-1a', 'out-1b']);
    await order.leave(conv, 'out-1a');
    await order.leave(conv, 'out-1b');
    expect(await order.blockers(conv, 'out-2a', 2 * S + 1)).toEqual([]);
    expect(await order.head(conv, 2)).toEqual(['in-2', 'out-2a']);
  });

  it('entering again keeps the first place; other conversations never block', async () => {
    const order = new ConversationOrder(redis, PREFIX);
    const conv = `c-${randomUUID()}`;
    await order.enter(conv, 'in-1', 5 * S);
    await order.enter(conv, 'in-2', 6 * S);
    await order.enter(conv, 'in-1', 9 * S); // a retry: stays at 5
    expect(await order.open(conv)).toEqual(['in-1', 'in-2']);
    expect(await order.blockers(`c-${randomUUID()}`, 'in-3', 7 * S)).toEqual([]);
  });
});
