import { randomUUID } from 'node:crypto';
import { generateEncodingAESKey, wecomKf, type WecomKfChannel } from '@wxbot/core';
import { WeChatPeer } from '@wxbot/testing';

/** The config of the durable-delivery CLI tests (`wxbot queue`, `wxbot worker`…), run by path from the repository. */
export const DURABLE_CONFIG = ['--config', 'test/fixtures/durable.config.ts'] as const;

/**
 * The KF channel of test/fixtures/durable.config.ts as a test sets it up twice: in its own
 * process (a bot on {@link DurableFixture.channel}) and in the `wxbot` processes it runs (the
 * same settings through {@link DurableFixture.env}), on a key prefix of the test's own.
 */
export interface DurableFixture {
  /** The test's own key prefix on the shared Redis. */
  readonly prefix: string;
  readonly corpId: string;
  readonly secret: string;
  readonly token: string;
  readonly encodingAESKey: string;
  /** The KF account (open_kfid) the test's customers write to. */
  readonly kfid: string;
  /** The channel, for a bot in the test's process, sending to the fake API at `apiUrl`. */
  channel(apiUrl: string): WecomKfChannel;
  /** The variables that give the fixture config the same channel and prefix (`apiUrl`: where it sends). */
  env(apiUrl?: string): Record<string, string>;
  /** Tells the bot at `url` that KF messages wait (the callback WeCom sends). */
  notify(url: string): Promise<unknown>;
}

/** A {@link DurableFixture}; `name` tells the test's corp and KF account apart from others'. */
export function durableFixture(name: string): DurableFixture {
  const prefix = `wxbot-test:${randomUUID()}:`;
  const kf = { corpId: `ww-${name}`, secret: 'kf-secret', token: 'kf-token', encodingAESKey: generateEncodingAESKey() };
  const kfid = `wk-${name}`;
  return {
    prefix,
    ...kf,
    kfid,
    channel: (apiUrl) => wecomKf({ ...kf, apiBaseUrl: apiUrl }),
    env: (apiUrl) => ({
      REDIS_URL: 'redis://127.0.0.1:6379',
      REDIS_PREFIX: prefix,
      WECOM_CORP_ID: kf.corpId,
      WECOM_KF_SECRET: kf.secret,
      WECOM_KF_TOKEN: kf.token,
      WECOM_KF_AES_KEY: kf.encodingAESKey,
      ...(apiUrl !== undefined && { API_BASE: apiUrl }),
    }),
    notify: (url) =>
      new WeChatPeer({ url: `${url}/wecom/kf`, kind: 'wecomKf', token: kf.token, encodingAESKey: kf.encodingAESKey, receiveId: kf.corpId }).event(
        'kf_msg_or_event',
        { Token: `sync-${Date.now()}`, OpenKfId: kfid },
        { from: 'sys' },
      ),
  };
}
