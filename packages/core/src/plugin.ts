import type { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import type { z } from 'zod';
import { Composer } from './pipeline/composer.ts';
import type { Context } from './pipeline/context.ts';
import type { Store } from './store/types.ts';
import type { BotEvents } from './events.ts';
import { parsePluginOptions, PluginOptionsError, recordPluginOptionsError } from './pluginOptions.ts';
import type { Server } from 'node:http';
import type Router from '@koa/router';
import type { Channel } from './channels/types.ts';
import type { Recipient } from './message/recipient.ts';
import type { ReplyInput } from './reply/types.ts';

/** The bot's services beyond middleware that a plugin may use (an interface: no import of the Bot). */
export interface PluginHost {
  readonly channels: readonly Channel[];
  /** Extra HTTP routes mounted when the server starts. */
  readonly routes: ((router: Router) => void)[];
  onServer(hook: (server: Server) => void): void;
  sendTo(channelName: string, to: Recipient, input: ReplyInput): Promise<void>;
  takeHandoffsInApp(): void;
}

/**
 * What a plugin's `setup` receives: a composer scoped to the plugin (its middleware runs in
 * an error boundary that names the plugin), plus the bot's services.
 */
export class PluginScope extends Composer<Context> {
  constructor(
    readonly pluginName: string,
    readonly log: Logger,
    readonly store: Store,
    readonly events: EventEmitter<BotEvents>,
    /** The bot, for services beyond middleware: `sendTo`, `channels`, `routes`, `onServer`. */
    readonly bot: PluginHost,
  ) {
    super();
  }
}

/** Undoes what setup did (closes watchers, timers, connections). */
export type Disposer = () => void | Promise<void>;

/** A plugin: a name and a setup that registers middleware. Made with {@link definePlugin}. */
export interface Plugin {
  readonly name: string;
  /** Registers middleware; may return a disposer (run when the bot stops). */
  setup(scope: PluginScope): void | Disposer | Promise<void | Disposer>;
  /** Also run when the bot stops, after the disposer `setup` returned. */
  dispose?(): void | Promise<void>;
  /** Programs the plugin runs (`ffmpeg`…): `wxbot check` looks for them. */
  readonly tools?: readonly string[];
}

export { PluginOptionsError } from './pluginOptions.ts';

export interface PluginDefinition<S extends z.ZodType> {
  name: string;
  /** zod schema of the options; defaults and transforms apply. */
  options?: S;
  setup(scope: PluginScope, options: z.output<S>): void | Disposer | Promise<void | Disposer>;
  /** Run when the bot stops (for state kept outside setup's closure). */
  dispose?(): void | Promise<void>;
  /** Programs these options make the plugin run (`ffmpeg`…), for `wxbot check`. */
  tools?(options: z.output<S>): readonly string[];
}

/**
 * Defines a plugin factory with validated options:
 *
 * ```ts
 * export const greet = definePlugin({
 *   name: 'greet',
 *   options: z.object({ greeting: z.string().default('你好') }),
 *   setup(bot, { greeting }) {
 *     bot.hears(/^hi$/i, (ctx) => ctx.reply(greeting));
 *   },
 * });
 * // bot.config.ts: plugins: [greet({ greeting: 'Hello' })]
 * ```
 * A wrong option throws {@link PluginOptionsError} naming the plugin and the option (an unknown
 * one with a did-you-mean); while `wxbot` loads a config, every plugin's errors are reported together.
 */
export function definePlugin<S extends z.ZodType>(definition: PluginDefinition<S>): (options?: z.input<S>) => Plugin {
  return (options) => {
    let parsed: z.output<S> = options as z.output<S>;
    if (definition.options) {
      try {
        parsed = parsePluginOptions(definition.name, definition.options, options);
      } catch (error) {
        // While a config loads, every plugin's errors are gathered and reported together.
        if (!(error instanceof PluginOptionsError) || !recordPluginOptionsError(error)) throw error;
        return { name: definition.name, setup: () => Promise.reject(error) };
      }
    }
    return {
      name: definition.name,
      setup: (scope) => definition.setup(scope, parsed),
      ...(definition.dispose && { dispose: definition.dispose }),
      ...(definition.tools && { tools: definition.tools(parsed) }),
    };
  };
}
