import { conversationKey, definePlugin, withConversation, type Context } from '@wxbot/core';
import { z } from 'zod';
import { runDialog, type AnyDialog, type Dialog, type DialogContext, type RunOutcome, type RunSettings } from './dialog.ts';
import { deleteState, loadState, saveState, type DialogState } from './state.ts';
import { dialogTexts } from './texts.ts';

/** Where `dialogs()` leaves its runtime on each context, for `enter`. */
const RUNTIME = '@wxbot/plugin-dialog';

interface Runtime extends RunSettings {
  readonly dialogs: ReadonlyMap<string, AnyDialog>;
  readonly keepMs: number;
}

/**
 * Defines a dialog: a multi-step conversation written as straight-line code.
 *
 * ```ts
 * export const orderLookup = defineDialog({
 *   name: 'order',
 *   title: '查询订单',
 *   async run(d) {
 *     const order = await d.ask('您的订单号是？', { validate: (t) => /^\d{6,}$/.test(t) || '订单号是 6 位以上的数字，请再输入一次。' });
 *     const phone = await d.ask('下单手机号的后四位？', { validate: (t) => /^\d{4}$/.test(t) });
 *     await d.reply(await d.external(() => lookUp(order, phone)));
 *   },
 * });
 * // bot.config.ts: plugins: [dialogs({ dialogs: [orderLookup] }), myCommands()]
 * // a plugin: bot.command('order', '查询订单', (ctx) => orderLookup.enter(ctx));
 * ```
 */
export function defineDialog<A = undefined>(definition: { name: string; title?: string; run: (d: DialogContext<A>) => Promise<void> }): Dialog<A> {
  const dialog: Dialog<A> = {
    name: definition.name,
    title: definition.title ?? definition.name,
    run: definition.run,
    enter: (ctx, ...[args]) => enter(dialog, ctx, args),
  };
  return dialog;
}

async function enter(dialog: AnyDialog, ctx: Context, args: unknown): Promise<boolean> {
  const runtime = ctx.state[RUNTIME] as Runtime | undefined;
  if (!runtime)
    throw new Error(`dialog "${dialog.name}" entered, but no dialogs() plugin ran before this middleware: add dialogs({ dialogs: [...] }) to the plugins, ahead of this one`);
  if (runtime.dialogs.get(dialog.name) !== dialog) throw new Error(`dialog "${dialog.name}" is not listed in dialogs({ dialogs: [...] })`);
  const conversation = conversationKey(ctx.message);
  // Reentrant: inside the dialogs() middleware this conversation is already held.
  return withConversation(ctx.store, conversation, ctx.log, async () => {
    const current = await loadState(ctx.store, conversation);
    if (current && Date.now() < current.deadline) {
      const title = runtime.dialogs.get(current.name)?.title ?? current.name;
      await ctx.reply(ctx.t(dialogTexts, 'busy', { title }));
      return false;
    }
    const state: DialogState = { v: 1, name: dialog.name, args: args ?? null, answers: [], results: [], deadline: 0, attempts: 0 };
    ctx.log.info({ dialog: dialog.name }, 'dialog entered');
    await advance(runtime, dialog, state, ctx, conversation, undefined);
    return true;
  });
}

/** Runs the dialog one step and stores (or forgets) its state. */
async function advance(runtime: Runtime, dialog: AnyDialog, state: DialogState, ctx: Context, conversation: string, answer: string | undefined): Promise<void> {
  let outcome: RunOutcome;
  try {
    outcome = await runDialog(dialog, state, ctx, answer, runtime);
  } catch (error) {
    // A dialog that throws is over: forget it, so the user is not stuck in it.
    await deleteState(ctx.store, conversation);
    throw error;
  }
  if (outcome === 'waiting') await saveState(ctx.store, conversation, state, runtime.keepMs);
  else {
    await deleteState(ctx.store, conversation);
    ctx.log.info({ dialog: dialog.name, outcome }, 'dialog ended');
  }
}

const optionsSchema = z.object({
  /** The dialogs this bot can run (from {@link defineDialog}). */
  dialogs: z.array(
    z.custom<AnyDialog>((d) => typeof (d as Dialog | undefined)?.run === 'function' && typeof (d as Dialog).name === 'string', {
      message: 'expected a dialog from defineDialog()',
    }),
  ),
  /** Texts that leave the dialog (compared trimmed, case-insensitive). */
  cancelWords: z.array(z.string().min(1)).default(['取消', '退出', 'cancel', 'exit', '/cancel']),
  /** How long a question waits for its answer, unless `ask` says otherwise (default 5 minutes). */
  timeoutMs: z
    .number()
    .int()
    .positive()
    .default(5 * 60_000),
  /** Invalid answers to one question before the dialog gives up (default 3). */
  maxAttempts: z.number().int().min(1).default(3),
  /** How long a timed-out dialog is remembered, to tell the user it timed out (default one day). */
  keepMs: z
    .number()
    .int()
    .positive()
    .default(24 * 60 * 60_000),
  /** How long one message may hold its conversation (see `withConversation`). */
  lockTtlMs: z.number().int().positive().optional(),
});

/** Options as written in bot.config.ts. */
export type DialogsOptions = z.input<typeof optionsSchema>;

/**
 * Runs dialogs: put it ahead of the plugins that enter them. While a dialog waits in a
 * conversation, that conversation's texts are its answers, except cancel words (which leave
 * it) and `/commands` (which go on, so `/help` still works). Everything else — other
 * conversations, images, events, texts after a dialog timed out — goes on through the
 * pipeline. The state lives in the bot's store: a dialog survives restarts and its answers
 * may land on any instance sharing the store.
 */
export const dialogs = definePlugin({
  name: 'dialog',
  options: optionsSchema,
  setup(bot, options) {
    const byName = new Map<string, AnyDialog>();
    for (const dialog of options.dialogs) {
      if (byName.has(dialog.name)) throw new Error(`two dialogs are named "${dialog.name}"`);
      byName.set(dialog.name, dialog);
    }
    const runtime: Runtime = { dialogs: byName, defaultTimeoutMs: options.timeoutMs, maxAttempts: options.maxAttempts, keepMs: options.keepMs };
    const cancelWords = new Set(options.cancelWords.map((w) => w.trim().toLowerCase()));
    const lock = options.lockTtlMs ? { lockTtlMs: options.lockTtlMs } : {};

    bot.use(async (ctx, next) => {
      ctx.state[RUNTIME] = runtime;
      const conversation = conversationKey(ctx.message);
      await withConversation(
        ctx.store,
        conversation,
        ctx.log,
        async () => {
          let state: DialogState | undefined;
          try {
            state = await loadState(ctx.store, conversation);
          } catch (error) {
            ctx.log.warn({ err: error }, 'dialog state could not be loaded; the message goes on as if no dialog waited');
            return next();
          }
          if (!state) return next();
          const dialog = byName.get(state.name);
          if (!dialog) {
            ctx.log.warn({ dialog: state.name }, 'a stored dialog is no longer listed in dialogs(); forgetting it');
            await deleteState(ctx.store, conversation);
            return next();
          }
          const { message } = ctx;
          if (message.type !== 'text') return next();
          const text = message.text.trim();
          if (cancelWords.has(text.toLowerCase())) {
            await deleteState(ctx.store, conversation);
            ctx.log.info({ dialog: dialog.name }, 'dialog cancelled');
            return ctx.reply(ctx.t(dialogTexts, 'cancelled', { title: dialog.title }));
          }
          if (Date.now() >= state.deadline) {
            // Timed out while nobody was watching: say so, then handle the text as a new message.
            await deleteState(ctx.store, conversation);
            ctx.log.info({ dialog: dialog.name }, 'dialog timed out');
            await ctx.reply(state.timeoutText ?? ctx.t(dialogTexts, 'timedOut', { title: dialog.title }));
            return next();
          }
          if (message.command) return next();
          await advance(runtime, dialog, state, ctx, conversation, text);
        },
        lock,
      );
    });
  },
});
