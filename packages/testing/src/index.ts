export { WeChatPeer, newMsgId, type WeChatPeerOptions, type PeerResponse, type PeerMode, type PeerKind, type CallbackOverrides, type MessageOptions } from './peer.ts';
export { buildXml, readXml, type Fields } from './xml.ts';
export { createTestBot, type SentMessage, type TestBot, type TestBotOptions, type TestRequestOptions, type TestResponse, type TestResult } from './testBot.ts';
export { text, image, voice, event, type MessageEnvelope } from './messages.ts';
export {
  startFakeOpenAI,
  FAKE_OPENAI_API_KEY,
  type FakeOpenAI,
  type FakeOpenAIOptions,
  type FakeChatEndpoint,
  type FakeChatMessage,
  type FakeChatReply,
  type FakeChatRequest,
  type FakeTranscriptionEndpoint,
  type FakeTranscriptionHandler,
  type FakeTranscriptionRequest,
} from './fakeOpenAI.ts';
export {
  startFakeWeChatApi,
  type FakeWeChatApi,
  type Delivery,
  type FakeWeChatApiOptions,
  type FakeCredential,
  type CredentialKind,
  type Fault,
  type ApiCall,
  type KfMessage,
  type KfTransition,
  type KfSessionState,
  type FakeKf,
  type FakeMedia,
  type FakeMediaFile,
  type FakeProfiles,
  type FakeUpload,
} from './fakeApi.ts';
export {
  makeSpeechWav,
  toAmr,
  probeAudio,
  checkTranscriptionAudio,
  type AudioProbe,
  type SpeechOptions,
  type AudioExpectations,
  type CheckedTranscriptionHandler,
} from './audio.ts';
export { redisReachable, shouldRunRedisTests } from './redis.ts';
export {
  AiBotPeer,
  newAiBotMsgId,
  type AiBotPeerOptions,
  type AiBotPayload,
  type AiBotResponse,
  type AiBotExchange,
  type AiBotMessageOptions,
  type PolledStream,
  type StreamWatcher,
} from './aibotPeer.ts';
export { FakeAiBotEndpoints, type AiBotResponse as FakeAiBotResponse } from './fakeAiBotApi.ts';
export { FakeWebhookEndpoints, type FakeWebhookOptions, type WebhookAttempt, type WebhookUpload } from './fakeWebhookApi.ts';
export { startFakeAiBotWs, type FakeAiBotWs, type FakeAiBotWsOptions, type ReceivedFrame, type PushedStream } from './fakeAiBotWs.ts';
export { seededRandom } from './random.ts';
