export { WxCryptoError, WxCryptoErrorCode } from './errors.ts';
export { sortedSha1, signaturesEqual } from './signature.ts';
export { decodeEncodingAESKey, generateEncodingAESKey, generateToken } from './keys.ts';
export { WXBizMsgCrypt } from './wxBizMsgCrypt.ts';
export { decryptAiBotMedia } from './media.ts';
