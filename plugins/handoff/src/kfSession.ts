import { KfServiceState, type KfSessions, type Logger } from '@wxbot/core';
import { recipientOfConversation, type Conversation } from './conversations.ts';

/** What a KF session move did, for the conversation record. */
export interface KfMove {
  readonly kfState?: number;
  readonly servicer?: string;
}

/**
 * Keeps WeCom's own KF session state (kf/service_state) in step with who holds a
 * conversation here. WeCom's state machine (0 new, 1 bot, 2 waiting pool, 3 servicer,
 * 4 ended) only moves forward: 0 and 1 may go anywhere, 2 only to 3 or 4, 3 only to 4.
 * Every call here logs its failures and never throws: the conversation is held or released
 * in this plugin whatever WeCom says.
 */
export class KfSession {
  constructor(
    /** The KF capability of a channel, by name (`scope.kf`). */
    private readonly kfOf: (channelName: string) => KfSessions | undefined,
    private readonly log: Logger,
    private readonly releaseFromHuman: 'end' | 'keep',
  ) {}

  /** Whether a conversation is a KF session (on a KF channel or a WeCom app's KF account). */
  static applies(conversation: Conversation): boolean {
    return conversation.openKfId !== undefined && conversation.openKfId !== '';
  }

  /**
   * An agent took over. Without a WeCom userid the session stays with the bot (0/1): WeCom
   * lets the API send only then, and the agent's replies go out through it. With one, the
   * session goes to that servicer (state 3), who answers in the WeCom client.
   */
  async takeOver(conversation: Conversation, wecomUserId: string | undefined): Promise<KfMove> {
    if (!KfSession.applies(conversation) || !wecomUserId) return {};
    const kf = this.kfOf(conversation.channel);
    if (!kf) return {};
    if (conversation.kfState === KfServiceState.Servicer && conversation.servicer === wecomUserId) return {};
    try {
      await kf.transfer(recipientOfConversation(conversation), KfServiceState.Servicer, wecomUserId);
      return { kfState: KfServiceState.Servicer, servicer: wecomUserId };
    } catch (error) {
      this.log.warn({ conversation: conversation.id, err: error }, 'KF session not moved on take-over; the agent holds the conversation here anyway');
      return {};
    }
  }

  /**
   * Gives the session back to the bot where WeCom allows: 0 → 1. A session in the waiting
   * pool (2) or with a servicer (3) cannot go back to 1; with `releaseFromHuman: 'end'` it is
   * ended (4), so that the customer's next message opens a new session the bot may answer
   * (in 3 WeCom refuses every API message).
   */
  async release(conversation: Conversation): Promise<KfMove> {
    if (!KfSession.applies(conversation)) return {};
    const kf = this.kfOf(conversation.channel);
    if (!kf) return {};
    const session = recipientOfConversation(conversation);
    try {
      const { state } = await kf.state(session);
      let to: number | undefined;
      if (state === KfServiceState.Untreated) to = KfServiceState.Bot;
      else if ((state === KfServiceState.WaitingPool || state === KfServiceState.Servicer) && this.releaseFromHuman === 'end') to = KfServiceState.Ended;
      if (to === undefined) {
        this.log.debug({ conversation: conversation.id, state }, 'KF session left in its state on release');
        return state === undefined ? {} : { kfState: state };
      }
      await kf.transfer(session, to);
      this.log.info({ conversation: conversation.id, from: state, to }, 'KF session moved on release');
      return { kfState: to };
    } catch (error) {
      this.log.warn({ conversation: conversation.id, err: error }, 'KF session not moved on release; the bot answers here anyway');
      return {};
    }
  }

  /**
   * The WeCom servicer holding the session (state 3), if any: WeCom refuses API messages
   * then (95018), which the channel only logs, so an agent's reply must be stopped before.
   * Undefined too when the state cannot be read (the send is tried).
   */
  async servicerHolding(conversation: Conversation): Promise<string | undefined> {
    if (!KfSession.applies(conversation)) return undefined;
    const kf = this.kfOf(conversation.channel);
    if (!kf) return undefined;
    try {
      const { state, servicerUserId } = await kf.state(recipientOfConversation(conversation));
      return state === KfServiceState.Servicer ? (servicerUserId ?? '(unknown)') : undefined;
    } catch (error) {
      this.log.debug({ conversation: conversation.id, err: error }, 'KF session state not readable before an agent reply');
      return undefined;
    }
  }
}
