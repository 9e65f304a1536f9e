import type { Store } from '@wxbot/core';

/**
 * A dialog in progress, as kept in the store: everything needed to resume it on any instance,
 * after any restart. The dialog function is replayed from the start on each answer; `answers`
 * and `results` let the replay reach the pending question without repeating side effects.
 */
export interface DialogState {
  v: 1;
  /** The dialog's name, to find its function. */
  name: string;
  /** What `enter` was given (JSON). */
  args: unknown;
  /** The accepted answers, in the order of the questions. */
  answers: string[];
  /** What `external()` calls returned, in call order. */
  results: unknown[];
  /** Epoch ms after which the pending question has timed out. */
  deadline: number;
  /** Invalid answers given to the pending question so far. */
  attempts: number;
  /** The pending question's own timeout text, if it has one. */
  timeoutText?: string;
}

const keyOf = (conversation: string) => `dialog:${conversation}`;

export async function loadState(store: Store, conversation: string): Promise<DialogState | undefined> {
  const raw = await store.get(keyOf(conversation));
  if (raw === undefined) return undefined;
  const state = JSON.parse(raw) as DialogState;
  return state?.v === 1 && typeof state.name === 'string' && Array.isArray(state.answers) ? state : undefined;
}

/** Saves the state; the key outlives the pending question's deadline by `keepMs`, then the store forgets it. */
export async function saveState(store: Store, conversation: string, state: DialogState, keepMs: number): Promise<void> {
  await store.set(keyOf(conversation), JSON.stringify(state), Math.max(1, state.deadline - Date.now()) + keepMs);
}

export async function deleteState(store: Store, conversation: string): Promise<void> {
  await store.delete(keyOf(conversation));
}
