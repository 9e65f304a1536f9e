import type { KfMessageItem } from '../message/fromKf.ts';
import type { WeChatApiClient } from './client.ts';
import type { ActiveBody } from './replyJson.ts';

/** One page of `kf/sync_msg`. */
export interface KfSyncPage {
  next_cursor?: string;
  /** 1 while more pages wait. */
  has_more?: number;
  msg_list?: KfMessageItem[];
}

/** A session's state (kf/service_state/get): 0 new, 1 bot, 2 waiting pool, 3 servicer, 4 ended. */
export interface KfSessionState {
  service_state: number;
  servicer_userid?: string;
}

/**
 * The WeChat Customer Service endpoints, typed. Each is one call through the client (access
 * token, retries and errcodes handled there).
 */
export function kfApi(client: WeChatApiClient) {
  return {
    /** Fetches messages after `cursor` (at most `limit`, ≤ 1000); `token` is the callback's. */
    syncMsg: (request: { open_kfid: string; cursor?: string; token?: string; limit?: number }) => client.post<KfSyncPage>('cgi-bin/kf/sync_msg', request),
    /** Sends a message to a customer (only while the session is in state 0 or 1). */
    /** `msgid`: the client's id for this message, so a resend of it is recognised (optional). */
    sendMsg: (touser: string, openKfId: string, body: ActiveBody, msgid?: string) =>
      client.post<{ msgid?: string }>('cgi-bin/kf/send_msg', { touser, open_kfid: openKfId, ...(msgid && { msgid }), ...body }),
    /** Sends the one welcome (or end) message an event code allows. */
    sendMsgOnEvent: (code: string, body: ActiveBody, msgid?: string) => client.post<{ msgid?: string }>('cgi-bin/kf/send_msg_on_event', { code, ...(msgid && { msgid }), ...body }),
    /** Customers' nicknames (1–100 external_userids a call); unknown ids come back in invalid_external_userid. */
    customerBatchGet: (externalUserIds: readonly string[]) =>
      client.post<{ customer_list?: { external_userid: string; nickname?: string }[]; invalid_external_userid?: string[] }>('cgi-bin/kf/customer/batchget', {
        external_userid_list: externalUserIds,
        need_enter_session_context: 0,
      }),
    getServiceState: (openKfId: string, externalUserId: string) =>
      client.post<KfSessionState>('cgi-bin/kf/service_state/get', { open_kfid: openKfId, external_userid: externalUserId }),
    /** Moves a session; moving to 3 needs the servicer's userid. Answers a msg_code for 3 and 4. */
    transServiceState: (openKfId: string, externalUserId: string, state: number, servicerUserId?: string) =>
      client.post<{ msg_code?: string }>('cgi-bin/kf/service_state/trans', {
        open_kfid: openKfId,
        external_userid: externalUserId,
        service_state: state,
        ...(servicerUserId && { servicer_userid: servicerUserId }),
      }),
  };
}

/** The KF API calls (`sync_msg`, `send_msg`, service state, …) bound to one client. */
export type KfApi = ReturnType<typeof kfApi>;
