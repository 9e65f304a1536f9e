import { coreTexts } from '../i18n/coreTexts.ts';
import type { CommandInfo } from './composer.ts';
import type { Context } from './context.ts';
import { resolvesToUndefined, type Next } from './compose.ts';

/** What the bot does with commands nothing of its own handles. */
export interface CommandOptions {
  /** Answer `/help`, `帮助` and `help` with the described commands (default true). A plugin's own `help` command wins. */
  help?: boolean;
  /** Answer a `/command` nobody registered and nothing answered with a pointer to `/help` (default true). */
  unknown?: boolean;
}

const HELP_WORDS = new Set(['帮助', 'help']);
const LONGEST_HELP_WORD = Math.max(...[...HELP_WORDS].map((word) => word.length));

/**
 * Whether a text is one of the help words. Longer texts are not lower-cased to be looked up:
 * every text message passes here, and lower-casing a Chinese text goes through ICU (~75 ns of
 * ~88 a text, measured). Lower-casing never shortens a string (checked for every code point).
 */
function isHelpWord(text: string): boolean {
  const trimmed = text.trim();
  return trimmed.length <= LONGEST_HELP_WORD && HELP_WORDS.has(trimmed.toLowerCase());
}

/**
 * The bot's own command handling around the pipeline: `/help` before it (so no plugin echoes
 * or guesses at it), the unknown-command answer after it (only when nothing answered, so
 * plugins that read `ctx.message.command` themselves keep working).
 */
export class BuiltinCommands {
  #commands: readonly CommandInfo[] = [];
  #names = new Set<string>();

  /** The plugins' pipeline {@link run} runs, composed at the first message by `composePipeline`. */
  #pipeline: ((ctx: Context, next: Next) => Promise<void>) | undefined;

  constructor(
    private readonly options: CommandOptions,
    private readonly composePipeline: () => (ctx: Context, next: Next) => Promise<void>,
  ) {}

  /** The registered commands, collected once the plugins are set up. */
  setCommands(commands: readonly CommandInfo[]): void {
    this.#commands = commands;
    this.#names = new Set(commands.flatMap((c) => c.names));
  }

  /** The `/help` text in the bot's language. */
  helpText(ctx: Context): string {
    const described = this.#commands.filter((c): c is CommandInfo & { description: NonNullable<CommandInfo['description']> } => c.description !== undefined);
    if (described.length === 0) return ctx.t(coreTexts, 'helpEmpty');
    const lines = described.map(({ names, description }) =>
      ctx.t(coreTexts, 'helpLine', { command: names.join(' /'), description: typeof description === 'string' ? description : ctx.i18n.raw(description.catalog, description.key) }),
    );
    return [ctx.t(coreTexts, 'helpTitle'), ...lines].join('\n');
  }

  /**
   * Runs `pipeline` with `/help` answered before it and unknown commands after it. Not an async
   * function, and the end of the pipeline is a shared no-op unless the message is a command:
   * every message passes here (a frame and a closure less each).
   */
  run(ctx: Context): Promise<void> {
    const pipeline = (this.#pipeline ??= this.composePipeline());
    const { message } = ctx;
    if (message.type === 'text' && this.options.help !== false && !this.#names.has('help')) {
      const asked = message.command ? message.command.name === 'help' : isHelpWord(message.text);
      if (asked) return ctx.reply(this.helpText(ctx));
    }
    const command = message.type === 'text' ? message.command : undefined;
    if (this.options.unknown === false || !command) return pipeline(ctx, pipelineEnd);
    return pipeline(ctx, async () => {
      if (ctx.replies > 0 || this.#names.has(command.name)) return;
      await ctx.reply(ctx.t(coreTexts, 'unknownCommand', { command: command.name }));
    });
  }
}

/**
 * The end of the pipeline for a message that is not a command: nothing to do. It gives every
 * message the same settled promise instead of a new one each (most messages reach the end).
 */
const ended = Promise.resolve();
const pipelineEnd: Next = resolvesToUndefined(() => ended);
