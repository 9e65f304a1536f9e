/**
 * The words the layers share (transport, pipeline, delivery), kept in a leaf module that
 * imports nothing, so that `channels/` and `pipeline/` can both use them without importing
 * each other.
 */

/** Where a conversation goes when a human should take over. */
export interface HandoffOptions {
  /** A WeCom userid of the servicer to hand to (KF); without it, the waiting pool. */
  servicerUserId?: string;
  /** Why, for logs and for whoever listens to the hand-off event. */
  reason?: string;
}

/** The kinds of temporary media the WeChat APIs upload (media/upload). */
export type MediaType = 'image' | 'voice' | 'video' | 'file';

/** A file to upload as temporary media. */
export interface UploadFile {
  data: Buffer;
  fileName: string;
  contentType?: string;
}
