import type { Message } from './message/types.ts';
import type { HandoffOptions } from './vocabulary.ts';

/** A conversation was handed to humans. `handledByPlatform`: KF moved the session itself. */
export interface HandoffEvent {
  readonly message: Message;
  readonly options: HandoffOptions;
  readonly handledByPlatform: boolean;
}

/** Events the bot emits; subscribe with `bot.events.on(...)`. */
export interface BotEvents {
  handoff: [HandoffEvent];
  /** A plugin or middleware failed on a message (already logged). */
  pluginError: [{ readonly error: unknown; readonly message: Message; readonly plugin: string | undefined }];
}
