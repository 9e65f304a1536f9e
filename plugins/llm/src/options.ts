import type { Context } from '@wxbot/core';
import { z } from 'zod';
import type { Turn } from './memory.ts';
import type { ChatMessage } from './messages.ts';

/**
 * Builds the messages of the chat request, e.g. to put retrieved documents (RAG) or tool
 * results in front of the model. `defaults` is what would be sent without the hook: system
 * prompt, remembered turns, and the user's text as the last message. Whatever it returns is
 * sent as is; memory still stores only the user's text and the answer.
 */
export type BuildMessages = (ctx: Context, history: readonly Turn[], defaults: ChatMessage[]) => ChatMessage[] | Promise<ChatMessage[]>;

/** Message types the plugin can answer. `voice` uses WeChat's own transcript (`recognition`). */
export const ANSWERABLE_TYPES = ['text', 'voice'] as const;
/** The message types the LLM plugin answers (`text`, and `voice` through its recognition). */
export type AnswerableType = (typeof ANSWERABLE_TYPES)[number];

const DAY_MS = 24 * 60 * 60 * 1000;

/** The options of {@link llm}, checked when the bot starts. */
export const llmOptionsSchema = z
  .object({
    /** An OpenAI-compatible endpoint, e.g. `http://127.0.0.1:11434/v1`; default api.openai.com (or `OPENAI_BASE_URL`). */
    baseURL: z.url({ protocol: /^https?$/ }).optional(),
    /** The API key; may be left out when `baseURL` points at a server that needs none. */
    apiKey: z.string().min(1).optional(),
    model: z.string().min(1).default('gpt-4o-mini'),
    /** Sent first, as the system message. */
    systemPrompt: z.string().min(1).optional(),
    temperature: z.number().min(0).max(2).optional(),
    /**
     * Ask for the answer as a stream (`stream: true`) and pass it on with `ctx.replyStream`: on
     * the WeCom AI bot the user watches it being written; elsewhere it arrives as one reply.
     */
    stream: z.boolean().default(true),
    /** The most one answer may take (streamed: all of it), hook and retries included; the user gets the apology after. */
    timeoutMs: z.number().int().positive().default(30_000),
    /** Retries of a failed call (connection errors, 429, 5xx) inside `timeoutMs`. */
    maxRetries: z.number().int().min(0).max(10).default(1),
    memory: z
      .object({
        /** Turns remembered per conversation (0: none). */
        turns: z.number().int().min(0).default(10),
        /** How long a turn is remembered. */
        ttlMs: z.number().int().positive().default(DAY_MS),
      })
      .prefault({}),
    /** What the user gets when the model fails or is too slow (default: the `llm.apology` text in the bot's language). */
    apology: z.string().min(1).optional(),
    /** What the user gets after `/reset` (default: the `llm.reset` text in the bot's language). */
    resetReply: z.string().min(1).optional(),
    buildMessages: z.custom<BuildMessages>((value) => typeof value === 'function', { message: 'must be a function' }).optional(),
    /** Message types answered; others go to the next middleware. */
    types: z.array(z.enum(ANSWERABLE_TYPES)).default(['text']),
  })
  .refine((o) => o.apiKey !== undefined || o.baseURL !== undefined, {
    path: ['apiKey'],
    message: 'give apiKey, or baseURL for a server that needs no key',
  });

/** Options as written in bot.config.ts. */
export type LlmOptions = z.input<typeof llmOptionsSchema>;
/** Options after defaults. */
export type ResolvedLlmOptions = z.output<typeof llmOptionsSchema>;
