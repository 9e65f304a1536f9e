/**
 * Where every reply ends: `ctx.reply`, `bot.sendTo` (an agent's answer, a notification) and,
 * later, streamed replies. The send rules live here once:
 *
 * 1. a text longer than the channel's limit is split, in order, on character boundaries;
 * 2. a reply that is one part goes back passively when the message's HTTP response is still
 *    open and the channel can carry that type passively; a split text goes out whole through
 *    the API when the channel has one (a passive first part could arrive after the second),
 *    else its first part goes passively and the rest is dropped with a warning;
 * 3. everything else is an active send, one per part, in order; a part that fails is logged
 *    and the later parts still go (the send then rejects, saying how many parts failed);
 * 4. KF error 95018 (a human servicer holds the session) on a reply to a message is not the
 *    plugin's failure: it is logged and the rest of that reply dropped. An unprompted send
 *    (`sendTo`) gets the error, since its caller must know.
 *
 * **The engine seam.** {@link Outbox} is what the bot calls; {@link InProcessOutbox} sends
 * at once from this process. A durable engine (jobs in a queue, workers that may run without
 * HTTP) implements `Outbox` too: it keeps the passive step in process (the HTTP response is
 * here), calls {@link planDelivery} to get the active jobs, queues them under their `key`
 * (deterministic, so a retried callback or a second instance makes the same job id), and its
 * worker sends each with {@link sendNow} and applies {@link isHumanHoldsSession} as rule 4
 * does. Jobs are plain data ({@link OutboxJob}) for that reason.
 */
import type { Logger } from 'pino';
import { KF_SESSION_NOT_ALLOWED, WeChatApiError } from '../api/errors.ts';
import type { Channel } from '../channels/types.ts';
import { sendIdOf, type Recipient, type SendOptions } from '../message/recipient.ts';
import type { Metrics } from '../metrics.ts';
import { fitsInBytes, splitText } from '../reply/split.ts';
import type { Reply } from '../reply/types.ts';

/** One reply to deliver, as plain data (a durable engine stores it as a job). */
export interface OutboxJob {
  /** The configured name of the channel to send through. */
  readonly channel: string;
  readonly to: Recipient;
  readonly reply: Reply;
  readonly options?: SendOptions;
  /**
   * Deterministic id of this reply: the n-th reply to a message is `<channel>:<msgId>:<n>`
   * on every instance and every retry, so a durable engine can use it as job id and send
   * idempotently; the channel gets a send id derived from it (KF's client msgid). The parts
   * of a split text are `<key>#<i>`.
   */
  readonly key: string;
  /** The id of the message this answers; absent for unprompted sends (`sendTo`). */
  readonly answers?: string;
  /** When the answered message arrived (epoch ms), for the reply latency metric. */
  readonly receivedAt?: number;
}

/**
 * The HTTP response's chance to carry a reply (the message's passive window). In process
 * only: never part of a job.
 */
export interface PassiveSlot {
  /** Takes the reply for the HTTP response; false when it can no longer go there. */
  take(reply: Reply): boolean;
  /**
   * Why it can no longer take a reply: an earlier reply took it (`reply`), its time ran out
   * (`timeout`), the pipeline ended (`ended`); undefined while open. Only for error messages.
   */
  readonly closedBy?: 'reply' | 'timeout' | 'ended' | undefined;
}

/** Delivers replies by the send rules above. Plugins never see which engine runs. */
export interface Outbox {
  /**
   * Delivers one reply: passively through `passive` when the rules allow, else actively.
   * Resolves once the reply is sent (in process) or safely queued (durable); rejects when it
   * cannot be (no such channel, no active API, an API error other than rule 4's).
   */
  send(job: OutboxJob, passive?: PassiveSlot): Promise<void>;
}

/** The parts a reply goes out as on `channel`: a text over its limit is split, in order. */
export function partsOf(reply: Reply, channel: Channel): readonly Reply[] {
  if (reply.type !== 'text') return [reply];
  const texts = splitText(reply.text, channel.textLimitBytes);
  return texts.length === 1 ? [reply] : texts.map((text): Reply => ({ type: 'text', text }));
}

/**
 * Rules 1–3: offers what may go passively to `passive` (calling `onPassive` for each part
 * taken) and returns the active sends still to make, in order. A reply that is not split
 * keeps its job (and key); parts get `<key>#<i>`.
 */
export function planDelivery(channel: Channel, job: OutboxJob, passive: PassiveSlot | undefined, onPassive?: (job: OutboxJob, part: Reply) => void): OutboxJob[] {
  const { reply } = job;
  // One part (every reply but a text over the channel's limit: nearly all): what the loop below
  // does with it, without the array of parts and the one of texts (every reply passes here).
  if (reply.type !== 'text' || fitsInBytes(reply.text, channel.textLimitBytes)) {
    if (passive !== undefined && channel.passiveReplyTypes.has(reply.type) && passive.take(reply)) {
      onPassive?.(job, reply);
      return [];
    }
    return [job];
  }
  const parts = partsOf(reply, channel);
  const passiveAllowed = passive !== undefined && (parts.length === 1 || !hasActiveApi(channel));
  const active: OutboxJob[] = [];
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i]!;
    if (passiveAllowed && channel.passiveReplyTypes.has(part.type) && passive.take(part)) {
      onPassive?.(job, part);
      continue;
    }
    active.push(parts.length === 1 ? job : { ...job, reply: part, key: `${job.key}#${i}` });
  }
  return active;
}

/** Whether the channel can send through its API (it has `send`, and a credential for it). */
function hasActiveApi(channel: Channel): boolean {
  return channel.send !== undefined && channel.activeApi !== false;
}

/**
 * Why `job` needs the channel's API (an active send) rather than the message's HTTP response,
 * in words, judged after {@link planDelivery} offered it to `passive`: so that the error of a
 * channel without an API says what really happened (a second reply, a `sendTo`, a type that
 * cannot go passively, a window that timed out…), not always "after the reply window".
 */
export function whyActive(channel: Channel, job: OutboxJob, passive: PassiveSlot | undefined): string {
  if (job.answers === undefined) return 'an unprompted send (sendTo) always goes through the API';
  if (!passive) return 'this message has no passive reply here (its callback was answered before it ran: KF, or a queued message)';
  if (!channel.passiveReplyTypes.has(job.reply.type)) return `a ${job.reply.type} reply cannot go passively on this channel`;
  switch (passive.closedBy) {
    case 'reply':
      return 'an earlier reply to this message took its one passive answer (a message gets one; later replies go through the API)';
    case 'timeout':
      return `the ${channel.replyWindowMs / 1000} s reply window had closed before this reply`;
    case 'ended':
      return 'the callback had already been answered: this reply came after the pipeline finished (an un-awaited promise or a timer?)';
    default:
      return `this ${job.reply.type} reply cannot go passively for this message`;
  }
}

/** The error of an active send on a channel without an API: what the send is, and why it was active. */
function noActiveApiError(channel: Channel, job: OutboxJob, why: string | undefined, cause?: unknown): Error {
  const what = job.answers === undefined ? `cannot send this ${job.reply.type} message` : `cannot deliver this ${job.reply.type} reply`;
  return new Error(
    `channel "${channel.name}" ${what}: ${why ?? 'it needs an active send'}, and the channel has no active API (configure its secret)`,
    cause === undefined ? undefined : { cause },
  );
}

/**
 * Sends one job through the channel's active API now, with a send id derived from its key
 * (KF passes it as the client msgid, so a resend after a crash is recognised). `why` (see
 * {@link whyActive}) goes into the error when the channel has no active API.
 */
export async function sendNow(channel: Channel, job: OutboxJob, why?: string): Promise<void> {
  if (!channel.send) throw noActiveApiError(channel, job, why);
  try {
    // inReplyTo: the AI bot's WebSocket mode answers on the message's own req_id.
    await channel.send(job.to, job.reply, { ...job.options, sendId: sendIdOf(job.key), ...(job.answers !== undefined && { inReplyTo: job.answers }) });
  } catch (error) {
    // A channel that says it has no API refused for that reason: say why the reply needed it.
    if (channel.activeApi === false) throw noActiveApiError(channel, job, why, error);
    throw error;
  }
}

/** Rule 4: the platform refused because a human servicer holds the KF session (95018). */
export function isHumanHoldsSession(error: unknown): boolean {
  return error instanceof WeChatApiError && error.errcode === KF_SESSION_NOT_ALLOWED;
}

/** One log line for a reply that could not be delivered where nobody awaits it. */
export function logDeliveryFailure(log: Logger, job: OutboxJob, error: unknown): void {
  log.error({ channel: job.channel, msgId: job.answers, replyType: job.reply.type, err: error }, 'reply could not be delivered');
}

/** What {@link InProcessOutbox.send} gives back when the reply went passively: one promise, of undefined, for every such reply. */
const delivered: Promise<void> = Promise.resolve();

/** The in-process engine: active sends go out at once from this process, in order. */
export class InProcessOutbox implements Outbox {
  readonly #channels: ReadonlyMap<string, Channel>;
  readonly #log: Logger;
  readonly #metrics: Metrics;

  constructor(channels: readonly Channel[], log: Logger, metrics: Metrics) {
    this.#channels = new Map(channels.map((channel) => [channel.name, channel]));
    this.#log = log;
    this.#metrics = metrics;
  }

  /**
   * Not an async function: nearly every reply goes passively, with nothing to send, and that
   * costs no async frame nor promise of its own (the same results: rejects when it throws).
   */
  send(job: OutboxJob, passive?: PassiveSlot): Promise<void> {
    let channel: Channel | undefined;
    let active: OutboxJob[];
    try {
      channel = this.#channels.get(job.channel);
      if (!channel) throw new Error(`no channel named "${job.channel}"`);
      active = planDelivery(channel, job, passive, this.#onPassive);
    } catch (error) {
      return Promise.reject(error);
    }
    return active.length === 0 ? delivered : this.#sendActive(channel, job, passive, active);
  }

  /** The active sends {@link planDelivery} left, in order, by rules 3 and 4. */
  async #sendActive(channel: Channel, job: OutboxJob, passive: PassiveSlot | undefined, active: readonly OutboxJob[]): Promise<void> {
    let why: string | undefined;
    if (!hasActiveApi(channel)) {
      why = whyActive(channel, job, passive);
      const parts = partsOf(job.reply, channel).length;
      if (active.length < parts) {
        // A text longer than one message, no API to send the rest: what fits went passively.
        this.#log.warn(
          { channel: channel.name, msgId: job.answers, parts, sent: parts - active.length },
          'reply too long for one message and the channel has no active API (no secret): only its first part was sent; configure the secret to send the rest',
        );
        return;
      }
    }
    let failed: { error: unknown; count: number } | undefined;
    for (let i = 0; i < active.length; i++) {
      const part = active[i]!;
      try {
        await sendNow(channel, part, why);
      } catch (error) {
        if (job.answers !== undefined && isHumanHoldsSession(error)) {
          this.#log.warn({ channel: channel.name, msgId: job.answers, errcode: KF_SESSION_NOT_ALLOWED }, 'KF reply not sent: a human servicer holds this session (or it ended)');
          return;
        }
        if (active.length === 1) throw error;
        // One part of a split text lost must not lose the rest: log it, send the others.
        this.#log.warn({ channel: channel.name, msgId: job.answers, part: i + 1, parts: active.length, err: error }, 'a part of a split reply could not be sent; sending the rest');
        failed = failed ? { error: failed.error, count: failed.count + 1 } : { error, count: 1 };
        continue;
      }
      this.#observe(job, 'active');
    }
    if (failed) throw new Error(`${failed.count} of ${active.length} parts of a split reply could not be sent (the others were)`, { cause: failed.error });
  }

  readonly #onPassive = (job: OutboxJob): void => this.#observe(job, 'passive');

  #observe(job: OutboxJob, mode: 'passive' | 'active'): void {
    if (job.receivedAt !== undefined) this.#metrics.reply(job.channel, mode, (Date.now() - job.receivedAt) / 1000);
  }
}
