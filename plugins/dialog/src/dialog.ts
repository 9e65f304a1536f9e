import type { Context, ReplyInput } from '@wxbot/core';
import type { DialogState } from './state.ts';
import { dialogTexts } from './texts.ts';

/** What `validate` says about an answer: true accepts it; false or a text (said to the user) refuses it. */
export type Validation = boolean | string;

/** How a dialog step checks its answer (`validate`) and how long it waits for it (`timeout`, `timeoutMessage`). */
export interface AskOptions {
  /** Checks the answer (trimmed); a refused answer is asked again, up to the dialog's `maxAttempts`. */
  validate?: (answer: string) => Validation | Promise<Validation>;
  /** How long the user has to answer (ms); default the plugin's `timeoutMs`. */
  timeout?: number;
  /** Said when the answer comes after the timeout; default the `dialog.timedOut` text. */
  timeoutMessage?: string;
}

/**
 * What a dialog function gets. Its code runs again from the top for every answer (on whichever
 * instance gets it), so keep side effects in `reply` and `external`, which do not repeat:
 *
 * ```ts
 * const order = await d.ask('您的订单号是？', { validate: (t) => /^\d{6,}$/.test(t) || '订单号是 6 位以上数字' });
 * const status = await d.external(() => api.orderStatus(order)); // called once, its result kept
 * await d.reply(`订单 ${order}：${status}`);
 * ```
 */
export interface DialogContext<A = unknown> {
  /** What `enter(ctx, args)` was given. */
  readonly args: A;
  /** The message being handled now (the answer, or the message that entered the dialog). */
  readonly ctx: Context;
  /** Asks a question (passively, in the reply window) and resolves with the answer when it comes. */
  ask(question: ReplyInput, options?: AskOptions): Promise<string>;
  /** Says something; not said again when the dialog is replayed for a later answer. */
  reply(input: ReplyInput): Promise<void>;
  /** Runs `fn` once and keeps its result (must be JSON) for the replays. */
  external<T>(fn: () => T | Promise<T>): Promise<T>;
}

/** A dialog: a name, a title users see, and the function that talks. Made with {@link defineDialog}. */
export interface Dialog<A = unknown> {
  readonly name: string;
  /** Shown in the texts about the dialog ("已退出「查询订单」"). Default: the name. */
  readonly title: string;
  readonly run: (d: DialogContext<A>) => Promise<void>;
  /**
   * Starts the dialog for the conversation of `ctx` (from a command, a keyword, a menu click).
   * Resolves false, after telling the user, when another dialog is waiting there already.
   * Needs the `dialogs()` plugin listing it, earlier in the pipeline.
   */
  enter(ctx: Context, ...args: undefined extends A ? [args?: A] : [args: A]): Promise<boolean>;
}

/** A dialog whatever its arguments: the plugin's registry holds dialogs whose arguments differ. */
// biome-ignore lint/suspicious/noExplicitAny: an existential type; each dialog checks its own arguments where it is entered
export type AnyDialog = Dialog<any>;

/** How a run of a dialog function ended. */
export type RunOutcome = 'waiting' | 'done' | 'gave-up';

/** The settings a run needs from the plugin. */
export interface RunSettings {
  defaultTimeoutMs: number;
  maxAttempts: number;
}

/**
 * Runs a dialog function once, replaying the answers already given: `answer` (the text of the
 * current message, for the pending question) or none (entering). Mutates `state` and resolves
 * once the function finished or stopped at a question with no answer yet.
 */
export async function runDialog(dialog: AnyDialog, state: DialogState, ctx: Context, answer: string | undefined, settings: RunSettings): Promise<RunOutcome> {
  let asked = 0;
  let externals = 0;
  let pending = answer;
  let stop!: (outcome: RunOutcome) => void;
  const stopped = new Promise<RunOutcome>((resolve) => (stop = resolve));
  // A promise that never settles: the function stays parked at the question and is dropped
  // (garbage) once nothing refers to it. Nothing is thrown, so a try/catch in the dialog
  // cannot swallow the stop.
  const park = () => new Promise<never>(() => {});
  // Before the current answer is taken, the code re-runs what was already done: say nothing.
  const replaying = () => pending !== undefined;

  const d: DialogContext = {
    args: state.args,
    ctx,
    async ask(question, options = {}) {
      const index = asked++;
      if (index < state.answers.length) return state.answers[index]!;
      if (pending !== undefined) {
        const text = pending;
        const verdict = options.validate ? await options.validate(text) : true;
        if (verdict === true) {
          pending = undefined;
          state.answers.push(text);
          state.attempts = 0;
          return text;
        }
        state.attempts += 1;
        if (state.attempts >= settings.maxAttempts) {
          await ctx.reply(ctx.t(dialogTexts, 'tooManyAttempts', { title: dialog.title }));
          stop('gave-up');
          return park();
        }
        await ctx.reply(typeof verdict === 'string' ? verdict : ctx.t(dialogTexts, 'invalid'));
        stop('waiting');
        return park();
      }
      await ctx.reply(question);
      state.deadline = Date.now() + (options.timeout ?? settings.defaultTimeoutMs);
      if (options.timeoutMessage) state.timeoutText = options.timeoutMessage;
      else delete state.timeoutText;
      stop('waiting');
      return park();
    },
    async reply(input) {
      if (!replaying()) await ctx.reply(input);
    },
    async external(fn) {
      const index = externals++;
      if (index < state.results.length) return state.results[index] as never;
      const result = await fn();
      state.results.push(result === undefined ? null : result);
      return result;
    },
  };

  return Promise.race([dialog.run(d).then(() => 'done' as const), stopped]);
}
