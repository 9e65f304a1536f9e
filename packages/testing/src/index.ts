export { WeChatPeer, newMsgId, type WeChatPeerOptions, type PeerResponse, type PeerMode, type PeerKind, type CallbackOverrides, type MessageOptions } from './peer.ts';
export { buildXml, readXml, type Fields } from './xml.ts';
