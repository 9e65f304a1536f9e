/**
 * The agent protocol: JSON text frames over a WebSocket. README.md describes it for people
 * writing their own client; these types and schemas are the reference.
 */
import { z } from 'zod';
import type { Conversation } from './conversations.ts';
import type { HistoryEntry } from './history.ts';

/** The protocol version sent in `hello`; bumped on incompatible changes. */
export const PROTOCOL_VERSION = 1;

const requestId = z.union([z.string().max(64), z.number().int()]);
const conversationIdField = z.string().min(1).max(512);

/** Agent → server commands, checked before anything runs. */
export const commandSchema = z.discriminatedUnion('type', [
  z.strictObject({
    type: z.literal('reply'),
    id: requestId,
    conversationId: conversationIdField,
    text: z.string().trim().min(1).max(8000).optional(),
    image: z.strictObject({ mediaId: z.string().min(1).max(256) }).optional(),
  }),
  z.strictObject({ type: z.literal('takeover'), id: requestId, conversationId: conversationIdField }),
  z.strictObject({ type: z.literal('release'), id: requestId, conversationId: conversationIdField }),
  z.strictObject({ type: z.literal('close'), id: requestId, conversationId: conversationIdField }),
  z.strictObject({
    type: z.literal('history'),
    id: requestId,
    conversationId: conversationIdField,
    limit: z.number().int().min(1).max(1000).optional(),
  }),
]);

/** A frame an agent sends the console server: take, release, close, reply, history… */
export type Command = z.output<typeof commandSchema>;
/** The id an agent gives a command; the server's `ack` or `error` carries it back. */
export type RequestId = z.output<typeof requestId>;

/** Error codes of `error` frames. */
export type ErrorCode =
  /** Not JSON, unknown type, or fields that fail the schema. */
  | 'bad_request'
  /** No open conversation with that id. */
  | 'not_found'
  /** `reply` with neither or both of `text` and `image`. */
  | 'bad_reply'
  /** KF: a WeCom servicer holds the session (state 3); WeCom refuses API messages in it. */
  | 'kf_servicer_session'
  /** Sending through WeChat failed (the message says why, without secrets). */
  | 'send_failed'
  | 'internal';

/** Server → agent events, broadcast to every connected agent (on every instance). */
export type BroadcastEvent =
  | { readonly type: 'conversation.opened'; readonly conversation: Conversation }
  | { readonly type: 'conversation.updated'; readonly conversation: Conversation }
  | { readonly type: 'conversation.closed'; readonly conversationId: string; readonly reason: 'closed' | 'idle'; readonly by?: string }
  // lastMessageAt: the conversation's, by the server's clock (WeChat's message times are in
  // seconds, and a browser's clock is not the server's): what the list is sorted by.
  | { readonly type: 'message.in'; readonly conversationId: string; readonly message: HistoryEntry; readonly unread: number; readonly lastMessageAt: number }
  | { readonly type: 'message.out'; readonly conversationId: string; readonly message: HistoryEntry; readonly lastMessageAt: number };

/** Server → one agent: the greeting, command answers. */
export type DirectEvent =
  | {
      readonly type: 'hello';
      readonly protocol: number;
      readonly agent: { readonly name: string };
      readonly conversations: readonly Conversation[];
      readonly maxPayload: number;
      /** This server process; another one after a reconnect means it restarted. */
      readonly instance: string;
      /** False when the conversations live in this process only (a restart loses them). */
      readonly persistent: boolean;
    }
  | { readonly type: 'ack'; readonly id: RequestId; readonly conversation?: Conversation }
  | { readonly type: 'history'; readonly id: RequestId; readonly conversationId: string; readonly messages: readonly HistoryEntry[] }
  | { readonly type: 'error'; readonly id?: RequestId; readonly code: ErrorCode; readonly message: string };

/** A frame the console server sends an agent: broadcasts to every agent, or direct answers. */
export type ServerEvent = BroadcastEvent | DirectEvent;

/** A command failure with a protocol error code. */
export class CommandError extends Error {
  override readonly name = 'CommandError';
  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/** Parses one frame; a CommandError says what is wrong (and the id, when it could be read). */
export function parseCommand(raw: string): { command: Command } | { error: CommandError; id?: RequestId } {
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch {
    return { error: new CommandError('bad_request', 'not JSON') };
  }
  const result = commandSchema.safeParse(json);
  if (result.success) return { command: result.data };
  const id = requestId.safeParse((json as { id?: unknown } | null)?.id);
  const problems = result.error.issues.map((i) => `${i.path.map(String).join('.') || '(root)'}: ${i.message}`).join('; ');
  return { error: new CommandError('bad_request', problems), ...(id.success && { id: id.data }) };
}
