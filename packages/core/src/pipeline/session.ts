import type { Middleware } from './compose.ts';
import type { Context } from './context.ts';
import { conversationKey, withConversation, type ConversationLockOptions } from './conversation.ts';
import type { FlavoredMiddleware } from './flavor.ts';

/**
 * The property `session()` adds: `ctx.session`, read as `S`; assigning `undefined` deletes the
 * stored session (the next message of the conversation starts from `initial()` again).
 */
export interface SessionFlavor<S> {
  get session(): S;
  set session(value: S | undefined);
}

/** What `session()` returns: middleware that gives the handlers after it a typed `ctx.session`. */
export type SessionMiddleware<S> = FlavoredMiddleware<Context, SessionFlavor<S>>;

/** How `session()` keeps per-conversation data: its initial value, key, lifetime and store. */
export interface SessionOptions<S> {
  /** The session of a conversation that has none yet (called once per new conversation). */
  initial: () => S;
  /**
   * Forget a conversation's session this long (ms) after its last message; default never.
   * Every message then rewrites the session, to move its expiry on.
   */
  ttl?: number;
  /**
   * Which session a message uses; default {@link conversationKey} (the group, else channel +
   * sender). Return undefined for messages that get no session (`ctx.session` stays unset).
   */
  key?: (ctx: Context) => string | undefined;
  /** Store key prefix (default `session:`), to keep two sessions of one bot apart. */
  prefix?: string;
  /** How long a message may hold its conversation, and wait for it. */
  lock?: ConversationLockOptions;
}

interface Loaded<S> {
  value: S;
  /** The JSON last read or written, to skip writes that change nothing. */
  stored: string | undefined;
}

/**
 * Per-conversation state kept in the bot's store (memory, file or Redis), loaded before the
 * handlers after it and saved when they are done:
 *
 * ```ts
 * const counted = bot.use(session({ initial: () => ({ count: 0 }), ttl: 30 * 60_000 }));
 * counted.on('text', (ctx) => ctx.reply(`第 ${++ctx.session.count} 条`));
 * ```
 *
 * Messages of one conversation take turns while their session is out (a per-conversation
 * lock, held across instances through the store), so two messages arriving together never
 * lose each other's updates. Assign `ctx.session = undefined` to delete it. Values must be
 * JSON. A handler that throws leaves the stored session as it was.
 */
export function session<S>(options: SessionOptions<S>): SessionMiddleware<S> {
  const prefix = options.prefix ?? 'session:';
  const keyOf = options.key ?? ((ctx: Context) => conversationKey(ctx.message));
  const middleware: Middleware<Context> = async (ctx, next) => {
    const key = keyOf(ctx);
    if (key === undefined) return next();
    const storeKey = prefix + key;
    await withConversation(
      ctx.store,
      key,
      ctx.log,
      async (scope) => {
        // A nested run of the same conversation (a transcript redispatched from inside this
        // one) shares the loaded session; only the outermost run loads and saves it.
        let loaded = scope.shared.get(storeKey) as Loaded<S | undefined> | undefined;
        const outermost = loaded === undefined;
        let writable = true;
        if (!loaded) {
          let stored: string | undefined;
          try {
            stored = await ctx.store.get(storeKey);
          } catch (error) {
            // Answering matters more than the session: go on with a fresh one, and do not
            // overwrite the real one when the store is back.
            ctx.log.warn({ err: error }, 'session could not be loaded; this message gets a fresh one that is not saved');
            writable = false;
          }
          loaded = { value: parse(stored, options.initial, ctx), stored };
          scope.shared.set(storeKey, loaded);
        }
        const box = loaded;
        Object.defineProperty(ctx, 'session', {
          configurable: true,
          enumerable: true,
          get: () => box.value,
          set: (value: S | undefined) => void (box.value = value),
        });
        await next();
        if (!outermost || !writable) return;
        try {
          if (box.value === undefined || box.value === null) {
            if (box.stored !== undefined) await ctx.store.delete(storeKey);
            return;
          }
          const json = JSON.stringify(box.value);
          if (json === box.stored && !options.ttl) return;
          await ctx.store.set(storeKey, json, options.ttl);
          box.stored = json;
        } catch (error) {
          ctx.log.error({ err: error }, 'session could not be saved');
        }
      },
      options.lock,
    );
  };
  return middleware as SessionMiddleware<S>;
}

function parse<S>(stored: string | undefined, initial: () => S, ctx: Context): S {
  if (stored === undefined) return initial();
  try {
    return JSON.parse(stored) as S;
  } catch (error) {
    ctx.log.warn({ err: error }, 'stored session is not JSON; starting a fresh one');
    return initial();
  }
}
