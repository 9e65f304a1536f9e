import { definePlugin, type Context, type Logger, type MessageOf } from '@wxbot/core';
import type OpenAI from 'openai';
import { keepAliveFetch } from './fetch.ts';
import { ConversationMemory, memoryKey, type Turn } from './memory.ts';
import { defaultMessages, type ChatMessage } from './messages.ts';
import { llmOptionsSchema, type AnswerableType, type ResolvedLlmOptions } from './options.ts';
import { llmTexts } from './texts.ts';

/**
 * Sent as the key when none is configured: the SDK refuses to start without one, and an
 * explicit placeholder keeps it from falling back to `OPENAI_API_KEY`, which would hand a real
 * OpenAI key to whatever server `baseURL` names.
 */
const PLACEHOLDER_KEY = 'no-key';

/** The model answered nothing usable (empty content, a refusal, only tool calls). */
export class LlmEmptyAnswerError extends Error {
  override readonly name = 'LlmEmptyAnswerError';
}

type AnswerableContext = Context<MessageOf<'text'> | MessageOf<'voice'>>;

/** The text to answer, or undefined when this message is not for the model. */
function inputOf(message: MessageOf<'text'> | MessageOf<'voice'>, types: readonly AnswerableType[]): string | undefined {
  const text = message.type === 'text' ? (types.includes('text') ? message.text : undefined) : types.includes('voice') ? message.recognition : undefined;
  return text?.trim() ? text.trim() : undefined;
}

/** The first piece of a streamed answer, and the iterator the rest comes from. */
interface FirstContent {
  first: string;
  iterator: AsyncIterator<OpenAI.ChatCompletionChunk>;
}

/**
 * Reads deltas up to the first text. Waiting for it before replying keeps the apology path of
 * a call that fails outright (or answers nothing) the same as without streaming.
 */
async function firstContent(iterator: AsyncIterator<OpenAI.ChatCompletionChunk>): Promise<FirstContent> {
  let finishReason: string | null | undefined;
  for (;;) {
    const next = await iterator.next();
    if (next.done) throw new LlmEmptyAnswerError(`the model answered no text (finish_reason ${finishReason ?? 'none'})`);
    const choice = next.value.choices[0];
    finishReason = choice?.finish_reason ?? finishReason;
    // Leading whitespace is dropped as the non-streamed answer is trimmed.
    const piece = (choice?.delta?.content ?? '').replace(/^\s+/, '');
    if (piece) return { first: piece, iterator };
  }
}

/**
 * Aborts after `ms` as `AbortSignal.timeout` does (a `TimeoutError`, a timer that does not keep
 * the process up), for a third of its CPU: Node 20 makes every timeout signal transferable.
 */
function deadlineSignal(ms: number): AbortSignal {
  const controller = new AbortController();
  setTimeout(() => controller.abort(new DOMException('The operation was aborted due to timeout', 'TimeoutError')), ms).unref();
  return controller.signal;
}

/** Rejects when `signal` aborts first: the deadline covers the hook as well as the call. */
function beforeDeadline<T>(work: () => T | Promise<T>, signal: AbortSignal): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    Promise.resolve()
      .then(work)
      .then(resolve, reject)
      .finally(() => signal.removeEventListener('abort', onAbort));
  });
}

/** The error with the key blanked out, should it ever appear in a message (a hook's, say). */
function withoutKey(error: unknown, key: string | undefined): unknown {
  if (!key || !(error instanceof Error) || !`${error.message}${error.stack ?? ''}`.includes(key)) return error;
  const copy = new Error(error.message.replaceAll(key, '[redacted]'));
  copy.name = error.name;
  copy.stack = error.stack?.replaceAll(key, '[redacted]');
  return copy;
}

/** The SDK's own log lines into pino; its retry notices (info) are detail, so debug. */
function sdkLogger(log: Logger) {
  return {
    error: (message: string, ...rest: unknown[]) => log.error({ details: rest }, message),
    warn: (message: string, ...rest: unknown[]) => log.warn({ details: rest }, message),
    info: (message: string, ...rest: unknown[]) => log.debug({ details: rest }, message),
    debug: (message: string, ...rest: unknown[]) => log.debug({ details: rest }, message),
  };
}

/**
 * Answers text messages with a chat model behind any OpenAI-compatible endpoint (OpenAI,
 * Azure-style proxies, DeepSeek, Qwen, Ollama, vLLM…), remembering the last turns of each
 * conversation in the bot's store.
 *
 * ```ts
 * plugins: [llm({ apiKey: process.env.OPENAI_API_KEY, systemPrompt: '你是客服助手，回答简洁。' })]
 * plugins: [llm({ baseURL: 'http://127.0.0.1:11434/v1', model: 'qwen2.5' })] // local, no key
 * ```
 *
 * `/reset` forgets the sender's conversation (listed by `/help`). Other commands and other message types go to
 * the next middleware. A failed or slow call gets the `apology` and one log line, never a
 * crash; nothing after this plugin runs for a message it answered.
 */
export const llm = definePlugin({
  name: 'llm',
  options: llmOptionsSchema,
  async setup(bot, options: ResolvedLlmOptions) {
    const { model, systemPrompt, temperature, timeoutMs, apology, resetReply, buildMessages, types, apiKey } = options;
    /** The `apology` option, or the catalog's in the conversation's language: every failure path ends with it. */
    const apologyFor = (ctx: Context) => apology ?? ctx.t(llmTexts, 'apology');
    // Loaded here, not at the module's import: bot.config.ts files import this plugin whether or
    // not an endpoint is configured, and the SDK is ~2 MiB of the heap of a bot that never calls it.
    const { default: OpenAI, APIConnectionError, APIConnectionTimeoutError, APIError } = await import('openai');
    const client = new OpenAI({
      apiKey: apiKey ?? PLACEHOLDER_KEY,
      ...(options.baseURL !== undefined && { baseURL: options.baseURL }),
      timeout: timeoutMs,
      maxRetries: options.maxRetries,
      logger: sdkLogger(bot.log),
      fetch: keepAliveFetch(),
    });

    /** Sends a fallback text; a delivery failure is logged, not thrown (nothing else to try). */
    const replySafely = async (ctx: AnswerableContext, text: string) => {
      try {
        await ctx.reply(text);
      } catch (error) {
        ctx.log.error({ plugin: 'llm', err: error }, 'llm reply could not be delivered');
      }
    };

    const reset = async (ctx: AnswerableContext) => {
      try {
        await new ConversationMemory(ctx.store, options.memory).clear(memoryKey(ctx.channel.name, ctx.message.from));
      } catch (error) {
        ctx.log.error({ plugin: 'llm', err: error }, 'llm memory could not be cleared');
        return replySafely(ctx, apologyFor(ctx));
      }
      await replySafely(ctx, resetReply ?? ctx.t(llmTexts, 'reset'));
    };

    const answer = async (ctx: AnswerableContext, text: string) => {
      const memory = new ConversationMemory(ctx.store, options.memory);
      const key = memoryKey(ctx.channel.name, ctx.message.from);
      let history: Turn[] = [];
      try {
        history = await memory.load(key);
      } catch (error) {
        // A store outage costs the context, not the answer.
        ctx.log.warn({ plugin: 'llm', err: error }, 'llm memory could not be read; answering without it');
      }

      const started = performance.now();
      // One deadline for hook, call and retries: the user waits for all of them together.
      const deadline = deadlineSignal(timeoutMs);
      let content: string;
      let usage: OpenAI.CompletionUsage | undefined;
      let streamed: FirstContent | undefined;
      try {
        const defaults = defaultMessages(systemPrompt, history, text);
        const messages: ChatMessage[] = buildMessages ? await beforeDeadline(() => buildMessages(ctx, history, defaults), deadline) : defaults;
        // Streamed only where the user sees it grow: elsewhere the reply is one text either way,
        // and a whole answer costs one JSON parse instead of an event stream's per-chunk work.
        if (options.stream && ctx.canStream) {
          const deltas = await client.chat.completions.create({ model, messages, stream: true, ...(temperature !== undefined && { temperature }) }, { signal: deadline });
          streamed = await firstContent(deltas[Symbol.asyncIterator]());
          content = streamed.first;
        } else {
          const completion = await client.chat.completions.create({ model, messages, ...(temperature !== undefined && { temperature }) }, { signal: deadline });
          const choice = completion.choices[0];
          content = choice?.message.content?.trim() ?? '';
          if (!content) throw new LlmEmptyAnswerError(`the model answered no text (finish_reason ${choice?.finish_reason ?? 'none'})`);
          usage = completion.usage;
        }
      } catch (error) {
        const ms = Math.round(performance.now() - started);
        const timedOut = deadline.aborted || error instanceof APIConnectionTimeoutError;
        const status = error instanceof APIError ? error.status : undefined;
        // Outages and overload fix themselves; anything else (bad key, bad model, a broken hook) needs a person.
        const transient = timedOut || error instanceof APIConnectionError || status === 429 || (status !== undefined && status >= 500);
        const line = { plugin: 'llm', model, ms, status, err: withoutKey(error, apiKey) };
        if (transient) ctx.log.warn(line, timedOut ? `llm call timed out after ${timeoutMs} ms; sent the apology` : 'llm call failed; sent the apology');
        else ctx.log.error(line, 'llm call failed; sent the apology');
        await replySafely(ctx, apologyFor(ctx));
        return;
      }

      try {
        if (streamed) {
          const rest = streamed;
          let broken = false;
          // The rest of the deltas as they come; a break mid-answer ends it with the apology.
          const chunks = async function* (): AsyncIterable<string> {
            yield rest.first;
            try {
              for (;;) {
                const next = await rest.iterator.next();
                if (next.done) return;
                if (next.value.usage) usage = next.value.usage;
                const piece = next.value.choices[0]?.delta?.content ?? '';
                if (!piece) continue;
                content += piece;
                yield piece;
              }
            } catch (error) {
              broken = true;
              const timedOut = deadline.aborted || error instanceof APIConnectionTimeoutError;
              ctx.log.warn(
                { plugin: 'llm', model, err: withoutKey(error, apiKey) },
                timedOut ? `llm stream cut off after ${timeoutMs} ms; ended with the apology` : 'llm stream broke; ended with the apology',
              );
              yield `\n\n${apologyFor(ctx)}`;
            }
          };
          await ctx.replyStream(chunks());
          content = content.trim();
          if (broken) return; // a cut-off answer is not remembered
        } else {
          await ctx.reply(content);
        }
      } catch (error) {
        // Not remembered: the user never saw it (or not all of it).
        ctx.log.error({ plugin: 'llm', err: error }, 'llm answer could not be delivered');
        return;
      }
      ctx.log.info(
        {
          plugin: 'llm',
          model,
          ms: Math.round(performance.now() - started),
          turns: history.length,
          promptTokens: usage?.prompt_tokens,
          completionTokens: usage?.completion_tokens,
        },
        'llm answered',
      );
      try {
        await memory.append(key, { user: text, assistant: content, at: Date.now() });
      } catch (error) {
        ctx.log.warn({ plugin: 'llm', err: error }, 'llm memory could not be saved');
      }
    };

    bot.command('reset', { catalog: llmTexts, key: 'resetHelp' }, (ctx) => reset(ctx));
    bot.on(['text', 'voice'], async (ctx, next) => {
      const { message } = ctx;
      if (message.type === 'text' && message.command) return next();
      const text = inputOf(message, types);
      if (text === undefined) return next();
      await answer(ctx, text);
    });
  },
});
