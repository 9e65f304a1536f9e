export { llm, LlmEmptyAnswerError } from './plugin.ts';
export { llmTexts } from './texts.ts';
export { llmOptionsSchema, ANSWERABLE_TYPES, type LlmOptions, type ResolvedLlmOptions, type BuildMessages, type AnswerableType } from './options.ts';
export { ConversationMemory, memoryKey, type Turn, type MemoryOptions } from './memory.ts';
export { defaultMessages, historyMessages, type ChatMessage } from './messages.ts';
