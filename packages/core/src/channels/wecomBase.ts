import { WeChatApiClient, type MediaFile } from '../api/client.ts';
import type { WXBizMsgCrypt } from '../crypto/wxBizMsgCrypt.ts';
import type { Store } from '../store/types.ts';
import { field, type XmlFields } from '../xml.ts';
import { BaseChannel, verifyEncryptedUrl } from './base.ts';
import { createKfSupport, kfNotification, type KfSupport } from './kf.ts';
import type { KfEmptyCursor } from './kfSync.ts';
import type { CallbackResult, ChannelRuntime, KfSessions, MediaType, Query, UploadFile } from './types.ts';

/** What the WeCom-side channels share: encrypted callbacks, a corp API client, KF support. */
export abstract class WecomChannelBase extends BaseChannel {
  protected abstract readonly crypt: WXBizMsgCrypt;
  #client: WeChatApiClient | undefined;
  #kf: KfSupport | undefined;

  /** The API client (undefined without a secret). */
  get api(): WeChatApiClient | undefined {
    return this.#client;
  }

  /** Whether `send` can reach the API (a secret is configured). */
  get activeApi(): boolean {
    return this.#client !== undefined;
  }

  /** KF support (undefined without a secret). */
  get kf(): KfSupport | undefined {
    return this.#kf;
  }

  /** KF session control for plugins (`scope.kf(name)`); undefined without a secret or before start. */
  get kfSessions(): KfSessions | undefined {
    return this.#kf?.actions;
  }

  /** URL verification: check msg_signature over echostr, answer its decrypted plaintext. */
  verify(query: Query): string {
    return verifyEncryptedUrl(this.crypt, query, this.checkFresh);
  }

  downloadMedia(mediaId: string): Promise<MediaFile> {
    return this.requireClient(this.#client, 'download media').downloadMedia(mediaId);
  }

  uploadMedia(type: MediaType, file: UploadFile): Promise<string> {
    return this.requireClient(this.#client, 'upload media').uploadMedia(type, file);
  }

  async stop(): Promise<void> {
    this.#kf?.syncer.stop();
    await this.#kf?.syncer.idle();
  }

  /** Creates the API client and KF support for this corp secret. */
  protected startApi(
    runtime: ChannelRuntime,
    options: {
      corpId: string;
      secret: string;
      apiBaseUrl?: string;
      cursorStore?: Store;
      cursorFile?: string;
      syncLimit?: number;
      syncLockTtlMs?: number;
      syncRetryBaseMs?: number;
      emptyCursor?: KfEmptyCursor;
    },
  ): void {
    this.#client = new WeChatApiClient({
      credential: { kind: 'wecom', corpId: options.corpId, secret: options.secret },
      baseUrl: options.apiBaseUrl,
      store: runtime.store,
      log: runtime.log,
      observer: runtime.metrics.apiObserver,
    });
    this.#kf = createKfSupport({ client: this.#client, runtime, channel: this.ref, ...options });
  }

  /**
   * A KF "messages are waiting" notification becomes an ack that starts the sync; anything
   * else returns undefined for the channel to handle.
   */
  protected kfAck(fields: XmlFields): CallbackResult | undefined {
    const notification = kfNotification(fields);
    if (!notification) return undefined;
    const kf = this.#kf;
    if (!kf) {
      this.log.warn({ event: field(fields, 'Event') }, 'kf_msg_or_event received but no secret is configured to sync it');
      return { kind: 'ack', body: 'success' };
    }
    return { kind: 'ack', body: 'success', after: () => kf.syncer.notify(notification.openKfId, notification.token) };
  }
}
