/**
 * `@wxbot/plugin-dialog`: multi-step conversations as straight-line code (`await d.ask(…)`),
 * kept in the bot's store so they survive restarts and work across instances.
 */
export { dialogs, defineDialog, type DialogsOptions } from './plugin.ts';
export type { Dialog, DialogContext, AskOptions, Validation } from './dialog.ts';
export type { DialogState } from './state.ts';
export { dialogTexts } from './texts.ts';
