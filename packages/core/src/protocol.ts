/**
 * `@wxbot/core/protocol`: the WeChat/WeCom wire protocol on its own — WXBizMsgCrypt and
 * signatures, the XML reader and writer, parsers from wire formats to wxbot's message model,
 * passive-reply renderers, active-send body builders and the API client. For people building on
 * the protocol (a custom channel, a test peer, a gateway); a bot needs only `@wxbot/core`.
 * @module
 */

// Crypto
export { WxCryptoError, WxCryptoErrorCode } from './crypto/errors.ts';
export { sortedSha1, signaturesEqual } from './crypto/signature.ts';
export { decodeEncodingAESKey, generateEncodingAESKey, generateToken } from './crypto/keys.ts';
export { WXBizMsgCrypt } from './crypto/wxBizMsgCrypt.ts';
export { decryptAiBotMedia } from './crypto/media.ts';

// XML
export { XmlError, XML_LIMITS, parseXml, parseFlatXml, decodeEntities, encryptedPayload, cdata, field, type XmlFields } from './xml.ts';

// Wire formats → messages
export { messageFromXml } from './message/fromXml.ts';
export { messageFromKf, type KfMessageItem } from './message/fromKf.ts';
export { messageFromAiBot, type AiBotJson } from './message/fromAiBot.ts';
export { parseCommand } from './message/command.ts';
export { recipientOf, sendOptionsOf, type Recipient, type SendOptions } from './message/recipient.ts';

// Replies → wire formats
export { passiveReplyXml, UnsupportedReplyError } from './reply/passiveXml.ts';
export { splitText } from './reply/split.ts';
export { customSendBody, wecomSendBody, kfSendBody, type ActiveBody } from './api/replyJson.ts';

// The API
export { WeChatApiClient, DEFAULT_API_BASE, type ApiClientOptions, type ApiCredential, type MediaFile, type ApiCallObserver } from './api/client.ts';
export { AccessToken, type AccessTokenOptions, type IssuedToken } from './api/accessToken.ts';
export { WeChatApiError, TOKEN_ERRCODES, KF_SESSION_NOT_ALLOWED } from './api/errors.ts';
export { kfApi, type KfApi, type KfSyncPage, type KfSessionState } from './api/kf.ts';
export { AIBOT_WS_URL, type AiBotFrame } from './channels/aibot/socket.ts';
export { STREAM_CONTENT_LIMIT, STREAM_LIFETIME_MS } from './channels/aibot/streams.ts';

// Writing a channel
export type { Channel, ChannelRuntime, CallbackResult, Query, ReplyStreamSink } from './channels/types.ts';
export { BaseChannel, DEFAULT_REPLAY_WINDOW_SECONDS, type CommonChannelOptions } from './channels/base.ts';
export { ChannelError, httpErrorOf } from './errors.ts';
