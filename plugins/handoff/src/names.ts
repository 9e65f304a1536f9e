import type { Logger, Recipient, Store } from '@wxbot/core';
import { recipientOfConversation, type Conversation } from './conversations.ts';

/** Looks names up on the platform (`scope.displayNames`). */
export type NameLookup = (channelName: string, users: readonly Recipient[]) => Promise<Map<string, string>>;

const HOUR_MS = 60 * 60_000;

/**
 * Display names of the users agents talk to (OA remark from user/info, KF nickname from
 * kf/customer/batchget), cached in the store: a name for a day, "no name" for an hour, so a
 * busy console does not call the API for every conversation it opens. A failed lookup is
 * logged, leaves the raw id, and is not tried again for that user for 5 minutes.
 */
export class DisplayNames {
  constructor(
    private readonly store: Store,
    private readonly lookup: NameLookup,
    private readonly log: Logger,
    private readonly ttl: { nameMs: number; missMs: number; failureMs: number } = { nameMs: 24 * HOUR_MS, missMs: HOUR_MS, failureMs: 5 * 60_000 },
  ) {}

  /** The conversation's user's name, or undefined when the platform gives none. */
  async of(conversation: Conversation): Promise<string | undefined> {
    const key = `handoff:name:${encodeURIComponent(conversation.channel)}/${encodeURIComponent(conversation.user)}`;
    const cached = await this.store.get(key);
    if (cached !== undefined) return cached || undefined;
    let name = '';
    try {
      name = (await this.lookup(conversation.channel, [recipientOfConversation(conversation)])).get(conversation.user) ?? '';
    } catch (error) {
      // Remembered briefly, so a missing API permission does not cost a call (and a warning)
      // on every hand-off.
      this.log.warn({ conversation: conversation.id, err: error }, 'display name not looked up; the console shows the user id');
      await this.store.set(key, '', this.ttl.failureMs).catch(() => undefined);
      return undefined;
    }
    await this.store.set(key, name, name ? this.ttl.nameMs : this.ttl.missMs);
    return name || undefined;
  }
}
