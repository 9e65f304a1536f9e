import type { ChatCompletionMessageParam } from 'openai/resources/chat/completions';
import type { Turn } from './memory.ts';

/** One message of a chat completion request, exactly as the openai SDK types it. */
export type ChatMessage = ChatCompletionMessageParam;

/** The turns as alternating user / assistant messages, oldest first. */
export function historyMessages(history: readonly Turn[]): ChatMessage[] {
  const messages: ChatMessage[] = [];
  pushTurns(messages, history);
  return messages;
}

// Plain loops: the request is built once per answer, and flatMap / spread made a throwaway array per turn.
function pushTurns(messages: ChatMessage[], history: readonly Turn[]): void {
  for (const turn of history) messages.push({ role: 'user', content: turn.user }, { role: 'assistant', content: turn.assistant });
}

/**
 * The messages the plugin sends when no `buildMessages` hook is set: the system prompt (if
 * any), the remembered turns, then the new user text — always last.
 */
export function defaultMessages(systemPrompt: string | undefined, history: readonly Turn[], text: string): ChatMessage[] {
  const messages: ChatMessage[] = systemPrompt ? [{ role: 'system', content: systemPrompt }] : [];
  pushTurns(messages, history);
  messages.push({ role: 'user', content: text });
  return messages;
}
