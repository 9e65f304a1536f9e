/**
 * `@wxbot/core`: what a bot author writes with — the bot and its config, channels, plugins and
 * their capabilities, middleware, the message and reply models, stores, texts and errors.
 *
 * Two narrower entry points sit beside it (as grammY's tiered `mod.ts`):
 * - `@wxbot/core/protocol`: WeChat's crypto, XML, message parsers, passive-reply renderers and
 *   API body builders, for people building on the protocol (a custom channel, a test peer).
 * - `@wxbot/core/delivery`: the delivery-engine and store extension points, for packages that
 *   deliver replies durably (as `@wxbot/redis` does).
 * Everything else is internal and may change in any release.
 * @module
 */

// The bot and its configuration
export { Bot, createBot, PluginSetupError, type BotOptions, type ListenOptions } from './bot.ts';
export { defineConfig, resolveConfig, type WxbotConfig, type WxbotConfigInput } from './config.ts';
export { envConfig, envVariablesOf, EnvConfigError, type EnvConfig, type EnvIssue } from './env.ts';
export { loadDevCredentials, type DevCredentials } from './dev.ts';
export { DEV_FAKE_API, DEV_SECRET, devSetup, type DevSetup } from './devMode.ts';
export type { BotEvents, HandoffEvent } from './events.ts';

// Channels
export type { Channel } from './channels/types.ts';
export { officialAccount, OfficialAccountChannel, type OfficialAccountOptions } from './channels/officialAccount.ts';
export { wecomApp, WecomAppChannel, type WecomAppOptions } from './channels/wecomApp.ts';
export { wecomKf, WecomKfChannel, type WecomKfOptions } from './channels/wecomKf.ts';
export { wecomAiBot, WecomAiBotChannel, type WecomAiBotOptions } from './channels/aibot/channel.ts';
export { wecomWebhook, WecomWebhookChannel, type WecomWebhookOptions, type WebhookMentions } from './channels/wecomWebhook.ts';
export type { CommonChannelOptions } from './channels/base.ts';
export { KfServiceState } from './channels/kf.ts';
export type { KfSessions } from './channels/types.ts';
export { generateEncodingAESKey, generateToken } from './crypto/keys.ts';

// Plugins and their capabilities
export {
  definePlugin,
  PluginScope,
  PluginOptionsError,
  type Plugin,
  type PluginDefinition,
  type PluginFactory,
  type Disposer,
  type RouteMethod,
  type RouteHandler,
  type RouteContext,
  type RouteOptions,
  type ServerHook,
  type ReplyHook,
  type HandoffHandler,
  type HandoffTarget,
  type MediaApi,
} from './plugin.ts';
/** A module a plugin loads at its first use, shared and never kept failed. */
export { loadOnUse } from './loadOnUse.ts';
export { collectPluginOptionErrors, ConfigErrors, didYouMean, parsePluginOptions } from './pluginOptions.ts';
export { UnknownOptionError } from './optionKeys.ts';
export type { HandoffOptions, MediaType, UploadFile } from './vocabulary.ts';
export type { MediaFile } from './api/client.ts';

// Middleware
export { compose, type Middleware, type Next } from './pipeline/compose.ts';
export { Composer, type CommandInfo, type CommandContext, type HearsContext, type MatchOf } from './pipeline/composer.ts';
export type { CommandOptions } from './pipeline/commands.ts';
export { Context, type RegExpMatch } from './pipeline/context.ts';
export type { FlavoredMiddleware } from './pipeline/flavor.ts';
export { conversationKey, withConversation, type ConversationLockOptions } from './pipeline/conversation.ts';
export { session, type SessionOptions, type SessionFlavor, type SessionMiddleware } from './pipeline/session.ts';

// Messages and replies
export type * from './message/types.ts';
export { parseCommand } from './message/command.ts';
export type { Recipient, SendOptions } from './message/recipient.ts';
export { replies, toReply, type Reply, type ReplyInput, type ReplyType, type Article, type TemplateCard } from './reply/types.ts';
export type { TextStream, ReplyStreamHandle } from './delivery/stream.ts';
export type { OutboxJob } from './delivery/outbox.ts';

// Texts
export {
  defineCatalog,
  interpolate,
  I18n,
  DEFAULT_LOCALE,
  coreTexts,
  type Catalog,
  type Texts,
  type Locale,
  type I18nOptions,
  type ParamsOf,
  type PlaceholdersOf,
  type TextRef,
} from './i18n/index.ts';

// Stores and logs
export { getJson, setJson, type Store, type StoreEntry, type LockRelease, type Subscription } from './store/types.ts';
export { MemoryStore, type MemoryStoreOptions } from './store/memory.ts';
export { FileStore, type FileStoreOptions } from './store/file.ts';
export { createLogger, loggableError, type Logger, type LoggerOptions } from './logger.ts';

// Errors
export { ChannelError } from './errors.ts';
export { WeChatApiError } from './api/errors.ts';
export { WxCryptoError } from './crypto/errors.ts';
export { XmlError } from './xml.ts';
export { UnsupportedReplyError } from './reply/passiveXml.ts';
