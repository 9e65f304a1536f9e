export { WeChatPeer, newMsgId, type WeChatPeerOptions, type PeerResponse, type PeerMode, type PeerKind, type CallbackOverrides, type MessageOptions } from './peer.ts';
export { buildXml, readXml, type Fields } from './xml.ts';
export { createTestBot, type TestBot, type TestBotOptions, type TestResult } from './testBot.ts';
export { text, image, voice, event, type MessageEnvelope } from './messages.ts';
