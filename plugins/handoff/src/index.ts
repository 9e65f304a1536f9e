export { handoff } from './plugin.ts';
export { handoffOptionsSchema, agentSchema, type HandoffPluginOptions, type ResolvedHandoffPluginOptions, type AgentConfig } from './options.ts';
export {
  PROTOCOL_VERSION,
  commandSchema,
  parseCommand,
  CommandError,
  type Command,
  type ServerEvent,
  type BroadcastEvent,
  type DirectEvent,
  type ErrorCode,
  type RequestId,
} from './protocol.ts';
export { conversationId, conversationIdOf, type Conversation, type ConversationStatus } from './conversations.ts';
export type { HistoryEntry, Author } from './history.ts';
export { consoleHtml } from './consoleHtml.ts';
