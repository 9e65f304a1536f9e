import type { ChatCompletionMessageParam } from 'openai/resources/chat/completions';
import type { Turn } from './memory.ts';

/** One message of a chat completion request, exactly as the openai SDK types it. */
export type ChatMessage = ChatCompletionMessageParam;

/** The turns as alternating user / assistant messages, oldest first. */
export function historyMessages(history: readonly Turn[]): ChatMessage[] {
  return history.flatMap((turn): ChatMessage[] => [
    { role: 'user', content: turn.user },
    { role: 'assistant', content: turn.assistant },
  ]);
}

/**
 * The messages the plugin sends when no `buildMessages` hook is set: the system prompt (if
 * any), the remembered turns, then the new user text — always last.
 */
export function defaultMessages(systemPrompt: string | undefined, history: readonly Turn[], text: string): ChatMessage[] {
  return [...(systemPrompt ? [{ role: 'system', content: systemPrompt } satisfies ChatMessage] : []), ...historyMessages(history), { role: 'user', content: text }];
}
