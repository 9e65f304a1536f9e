import type { HandoffEvent, Logger, Message, Recipient, Reply, ReplyInput } from '@wxbot/core';
import type { EventBus } from './bus.ts';
import { conversationId, conversationIdOf, isHeld, recipientOfConversation, type Conversation, type ConversationStore } from './conversations.ts';
import { entryFromMessage, entryFromReply, previewOf, type History, type HistoryEntry } from './history.ts';
import type { KfSession } from './kfSession.ts';
import type { DisplayNames } from './names.ts';
import { CommandError } from './protocol.ts';

/** An authenticated agent. */
export interface Agent {
  readonly name: string;
  readonly wecomUserId?: string;
}

export interface HandoffServiceDeps {
  /** Sends an agent's answer (`scope.sendTo`). */
  sendTo(channelName: string, to: Recipient, input: ReplyInput): Promise<void>;
  readonly log: Logger;
  readonly conversations: ConversationStore;
  readonly history: History;
  readonly bus: EventBus;
  readonly kf: KfSession;
  readonly idleTimeoutMs: number;
  /** Agents by name, to name the holder when WeCom reports a servicer this plugin knows. */
  readonly agents: readonly Agent[];
  /** Users' display names (cached); absent: the console shows ids. */
  readonly names?: DisplayNames;
}

/** WeCom session_status_change change_type values (KF event doc). */
const KF_CHANGE = { FromPool: 1, Transferred: 2, Ended: 3, Reopened: 4 } as const;

/**
 * What the plugin does, independent of WebSocket and pipeline: record messages, hold and
 * release conversations, carry out the agents' commands, and tell every agent. All state is
 * in the store, so any instance may run any of it.
 */
export class HandoffService {
  /** Hand-offs still being recorded, so the customer's next message waits for them. */
  readonly #pending = new Map<string, Promise<void>>();
  readonly #deps: HandoffServiceDeps;

  constructor(deps: HandoffServiceDeps) {
    this.#deps = deps;
  }

  /**
   * Records a message from a user and tells the agents when its conversation is open.
   * Returns `held` when a human holds the conversation: the bot must not answer it.
   * The common case (no hand-off pending, no conversation open, history in this process) is
   * answered synchronously: every message of every user passes here.
   */
  onUserMessage(message: Message): 'pass' | Promise<'held' | 'pass'> {
    // Not conversationIdOf(message): one function fewer on every message's path, each of which a
    // fresh bot runs in V8's slower tiers until it is compiled, and compiles on its own when
    // it got hot first (conversationIdOf was ~3.3 KB of machine code a few thousand messages in).
    const id = conversationId(message.channel.name, message.from, message.openKfId);
    // Waited for only when there is one.
    const pending = this.#pending.get(id);
    if (pending) return pending.then(() => this.#onUserMessage(id, message));
    return this.#onUserMessage(id, message);
  }

  #onUserMessage(id: string, message: Message): 'pass' | Promise<'held' | 'pass'> {
    if (message.type === 'event') {
      // Events are not conversation: the bot's plugins still see them.
      if (message.event === 'session_status_change') return this.#onKfSessionChange(id, message.changeType, message.newServicerUserId).then(() => 'pass');
      return 'pass';
    }
    if (this.#deps.conversations.surelyAbsent(id)) {
      // In process, a text is recorded without building its entry.
      const appended = this.#deps.history.appendMessage(id, message);
      return appended ? appended.then(() => 'pass') : 'pass';
    }
    const entry = entryFromMessage(message);
    if (!entry) return 'pass';
    return this.#onOpenMessage(id, message, entry);
  }

  /** A message whose conversation may be open (its record is read). */
  async #onOpenMessage(id: string, message: Message, entry: HistoryEntry): Promise<'held' | 'pass'> {
    const { conversations, history, bus, log } = this.#deps;
    const current = await conversations.get(id);
    const appended = history.append(id, entry, current !== undefined);
    if (appended) await appended; // in-process history: nothing to wait for
    if (!current) return 'pass';
    if (isHeld(current) && !(await conversations.holdAlive(id))) {
      // The idle timer ran out before the sweeper noticed: the bot answers this message.
      await this.expire(id);
      return 'pass';
    }
    const updated = await conversations.update(id, (c) => {
      if (!c) return undefined;
      c.unread += 1;
      c.lastMessageAt = Date.now();
      c.preview = previewOf(entry);
      return c;
    });
    if (!updated) return 'pass';
    bus.publish({ type: 'message.in', conversationId: id, message: entry, unread: updated.unread, lastMessageAt: updated.lastMessageAt });
    if (isHeld(updated)) {
      log.debug({ conversation: id, msgId: message.id, status: updated.status }, 'message held for a human');
      return 'held';
    }
    return 'pass';
  }

  /** Whether {@link onBotReply} records a reply to `id` synchronously (in process, the conversation surely not open). */
  botReplyRecordedAtOnce(id: string): boolean {
    return this.#deps.history.inProcess && this.#deps.conversations.surelyAbsent(id);
  }

  /**
   * Records a reply the bot sent and shows it to the agents when the conversation is open;
   * synchronous when it surely is not (see {@link onUserMessage}).
   */
  onBotReply(id: string, reply: Reply): void | Promise<void> {
    if (this.#deps.conversations.surelyAbsent(id)) return this.#deps.history.appendReply(id, reply, 'bot');
    return this.#recordOut(id, entryFromReply(reply, 'bot')).then(() => undefined);
  }

  /** `ctx.handoff()` ran: hold the conversation and open it for the agents. */
  onHandoff(event: HandoffEvent): Promise<void> {
    const id = conversationIdOf(event.message);
    const work = (this.#pending.get(id) ?? Promise.resolve()).then(() => this.#hold(id, event));
    const settled = work.catch((error: unknown) => this.#deps.log.error({ err: error, conversation: id }, 'hand-off not recorded'));
    this.#pending.set(id, settled);
    void settled.then(() => {
      if (this.#pending.get(id) === settled) this.#pending.delete(id);
    });
    return settled;
  }

  async #hold(id: string, event: HandoffEvent): Promise<void> {
    const { conversations, history, bus, log } = this.#deps;
    const { message, options, handledByPlatform } = event;
    const entry = entryFromMessage(message);
    // What ctx.handoff() did on KF: the core moved the session to the pool or a servicer.
    const kf = handledByPlatform && message.openKfId ? { kfState: options.servicerUserId ? 3 : 2, ...(options.servicerUserId && { servicer: options.servicerUserId }) } : {};
    let opened = false;
    const conversation = await conversations.update(id, (c) => {
      const now = Date.now();
      if (!c) {
        opened = true;
        return {
          id,
          channel: message.channel.name,
          channelKind: message.channel.kind,
          user: message.from,
          ...(message.openKfId && { openKfId: message.openKfId }),
          ...(message.agentId && { agentId: message.agentId }),
          status: 'waiting',
          ...(options.reason && { reason: options.reason }),
          unread: entry ? 1 : 0,
          ...(entry && { preview: previewOf(entry) }),
          openedAt: now,
          lastMessageAt: now,
          ...kf,
        } satisfies Conversation;
      }
      if (c.status === 'bot') c.status = 'waiting';
      if (options.reason) c.reason = options.reason;
      c.lastMessageAt = now;
      return Object.assign(c, kf);
    });
    if (!conversation) return;
    log.info(
      { conversation: id, status: conversation.status, reason: options.reason, handledByPlatform },
      opened ? 'conversation handed to the agents' : 'conversation held again',
    );
    if (opened) {
      await history.keep(id);
      await conversations.addOpen(id);
      bus.publish({ type: 'conversation.opened', conversation });
      // The message that asked for a human was recorded before the conversation was open.
      if (entry) bus.publish({ type: 'message.in', conversationId: id, message: entry, unread: conversation.unread, lastMessageAt: conversation.lastMessageAt });
    } else {
      bus.publish({ type: 'conversation.updated', conversation });
    }
    if (conversation.displayName === undefined) void this.#name(conversation);
  }

  /** Looks the user's name up (not holding the hand-off back) and shows it to the agents. */
  async #name(conversation: Conversation): Promise<void> {
    const { names, conversations, bus, log } = this.#deps;
    try {
      const name = await names?.of(conversation);
      if (!name) return;
      let changed = false;
      const updated = await conversations.update(conversation.id, (c) => {
        if (!c || c.displayName === name) return undefined;
        changed = true;
        c.displayName = name;
        return c;
      });
      if (changed && updated) bus.publish({ type: 'conversation.updated', conversation: updated });
    } catch (error) {
      log.warn({ conversation: conversation.id, err: error }, 'display name not recorded');
    }
  }

  /**
   * The open conversation `id`, if `mediaId` is one of its recorded messages' media (what an
   * agent may preview); undefined otherwise.
   */
  async conversationWithMedia(id: string, mediaId: string): Promise<Conversation | undefined> {
    const conversation = await this.#deps.conversations.get(id);
    if (!conversation) return undefined;
    const entries = await this.#deps.history.read(id);
    return entries.some((e) => e.mediaId === mediaId) ? conversation : undefined;
  }

  /** The open conversation `id`, if any. */
  conversation(id: string): Promise<Conversation | undefined> {
    return this.#deps.conversations.get(id);
  }

  /** The open conversations, newest first (for `hello`). */
  list(): Promise<Conversation[]> {
    return this.#deps.conversations.listOpen();
  }

  /** An agent takes a conversation: the bot stops answering it. */
  async takeover(id: string, agent: Agent): Promise<Conversation> {
    const { conversations, kf, bus, log } = this.#deps;
    const conversation = await conversations.update(id, async (c) => {
      if (!c) throw notFound(id);
      const wasHeldBy = c.status === 'agent' ? c.agent : undefined;
      c.status = 'agent';
      c.agent = agent.name;
      c.unread = 0;
      Object.assign(c, await kf.takeOver(c, agent.wecomUserId));
      log.info({ conversation: id, agent: agent.name, from: wasHeldBy }, 'agent took over');
      return c;
    });
    if (!conversation) throw notFound(id);
    bus.publish({ type: 'conversation.updated', conversation });
    return conversation;
  }

  /** Gives a conversation back to the bot; it stays in the list until closed or idle. */
  async release(id: string, agent: Agent | undefined): Promise<Conversation> {
    const { conversations, bus, log } = this.#deps;
    let changed = false;
    const conversation = await conversations.update(id, async (c) => {
      if (!c) throw notFound(id);
      if (!isHeld(c)) return undefined;
      changed = true;
      return this.#toBot(c);
    });
    if (!conversation) throw notFound(id);
    if (changed) {
      log.info({ conversation: id, agent: agent?.name }, 'conversation released to the bot');
      bus.publish({ type: 'conversation.updated', conversation });
    }
    return conversation;
  }

  /** Releases a conversation if held and removes it from the list. */
  async close(id: string, agent: Agent | undefined, reason: 'closed' | 'idle' = 'closed'): Promise<void> {
    const { conversations, bus, log } = this.#deps;
    let found = false;
    await conversations.update(id, async (c) => {
      if (!c) return undefined;
      found = true;
      if (isHeld(c)) await this.#toBot(c);
      await conversations.remove(id);
      return undefined;
    });
    if (!found) throw notFound(id);
    log.info({ conversation: id, agent: agent?.name, reason }, 'conversation closed');
    bus.publish({ type: 'conversation.closed', conversationId: id, reason, ...(agent && { by: agent.name }) });
  }

  /**
   * Sends an agent's answer to the user. A conversation the agent does not hold yet is taken
   * over first: once a human answers, the bot must be quiet.
   */
  async reply(id: string, agent: Agent, reply: Reply): Promise<Conversation> {
    const { conversations, kf, log } = this.#deps;
    let conversation = await conversations.get(id);
    if (!conversation) throw notFound(id);
    if (conversation.status !== 'agent') conversation = await this.takeover(id, agent);
    const servicer = await kf.servicerHolding(conversation);
    if (servicer !== undefined) {
      throw new CommandError(
        'kf_servicer_session',
        `WeCom servicer ${servicer} holds this KF session and WeCom refuses API messages in it: answer in the WeCom client, or release the conversation`,
      );
    }
    try {
      await this.#deps.sendTo(conversation.channel, recipientOfConversation(conversation), reply);
    } catch (error) {
      log.warn({ conversation: id, agent: agent.name, replyType: reply.type, err: error }, 'agent reply not sent');
      throw new CommandError('send_failed', `not sent: ${error instanceof Error ? error.message : String(error)}`);
    }
    log.info({ conversation: id, agent: agent.name, replyType: reply.type }, 'agent reply sent');
    return (await this.#recordOut(id, entryFromReply(reply, 'agent', agent.name), { read: true })) ?? conversation;
  }

  /** The last messages of an open conversation; marks it read. */
  async history(id: string, limit: number | undefined): Promise<HistoryEntry[]> {
    const { conversations, history, bus } = this.#deps;
    let changed = false;
    const conversation = await conversations.update(id, (c) => {
      if (!c) throw notFound(id);
      if (c.unread === 0) return undefined;
      changed = true;
      c.unread = 0;
      return c;
    });
    if (changed && conversation) bus.publish({ type: 'conversation.updated', conversation });
    return history.read(id, limit);
  }

  /**
   * Ends what idled: a held conversation whose hold key expired goes back to the bot, and
   * any open conversation quiet for the idle timeout leaves the list. Runs on a timer on
   * every instance; the per-conversation lock makes one of them do it.
   */
  async sweep(): Promise<void> {
    const { conversations, idleTimeoutMs } = this.#deps;
    const now = Date.now();
    for (const conversation of await conversations.listOpen()) {
      const idle = isHeld(conversation) ? !(await conversations.holdAlive(conversation.id)) : conversation.lastMessageAt + idleTimeoutMs <= now;
      if (idle) await this.expire(conversation.id);
    }
  }

  /** Closes a conversation for idleness, if it still is idle once its lock is held. */
  async expire(id: string): Promise<void> {
    const { conversations, bus, log, idleTimeoutMs } = this.#deps;
    let expired = false;
    await conversations.update(id, async (c) => {
      if (!c) return undefined;
      const idle = isHeld(c) ? !(await conversations.holdAlive(id)) : c.lastMessageAt + idleTimeoutMs <= Date.now();
      if (!idle) return undefined;
      expired = true;
      if (isHeld(c)) await this.#toBot(c);
      await conversations.remove(id);
      return undefined;
    });
    if (!expired) return;
    log.info({ conversation: id }, 'idle conversation given back to the bot');
    bus.publish({ type: 'conversation.closed', conversationId: id, reason: 'idle' });
  }

  /** Moves a held conversation back to the bot (KF session included). */
  async #toBot(c: Conversation): Promise<Conversation> {
    const move = await this.#deps.kf.release(c);
    c.status = 'bot';
    delete c.agent;
    if (move.kfState !== undefined) {
      c.kfState = move.kfState;
      if (move.kfState !== 3) delete c.servicer;
    }
    return c;
  }

  async #recordOut(id: string, entry: HistoryEntry, options: { read?: boolean } = {}): Promise<Conversation | undefined> {
    const { conversations, history, bus } = this.#deps;
    const open = (await conversations.get(id)) !== undefined;
    const appended = history.append(id, entry, open);
    if (appended) await appended; // in-process history: nothing to wait for
    if (!open) return undefined; // not open: nobody is watching
    const conversation = await conversations.update(id, (c) => {
      if (!c) return undefined;
      c.lastMessageAt = Date.now();
      c.preview = previewOf(entry);
      if (options.read) c.unread = 0;
      return c;
    });
    if (conversation) bus.publish({ type: 'message.out', conversationId: id, message: entry, lastMessageAt: conversation.lastMessageAt });
    return conversation;
  }

  /** WeCom reported a KF session change made in its own client (a servicer took or ended it). */
  async #onKfSessionChange(id: string, changeType: number, newServicer: string | undefined): Promise<void> {
    const { conversations, bus, agents } = this.#deps;
    if (!(await conversations.get(id))) return;
    const conversation = await conversations.update(id, (c) => {
      if (!c) return undefined;
      if (changeType === KF_CHANGE.Ended) {
        c.kfState = 4;
        delete c.servicer;
        if (isHeld(c)) {
          c.status = 'bot';
          delete c.agent;
        }
        return c;
      }
      if (changeType === KF_CHANGE.FromPool || changeType === KF_CHANGE.Transferred || changeType === KF_CHANGE.Reopened) {
        c.kfState = 3;
        if (newServicer) c.servicer = newServicer;
        c.status = 'agent';
        c.agent = agents.find((a) => newServicer !== undefined && a.wecomUserId === newServicer)?.name ?? `wecom:${newServicer ?? '?'}`;
        return c;
      }
      return undefined;
    });
    if (conversation) bus.publish({ type: 'conversation.updated', conversation });
  }
}

function notFound(id: string): CommandError {
  return new CommandError('not_found', `no open conversation ${JSON.stringify(id.slice(0, 200))}`);
}
