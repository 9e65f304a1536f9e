import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { WebSocketServer, type WebSocket } from 'ws';
import { newAiBotMsgId, type AiBotMessageOptions, type AiBotPayload } from './aibotPeer.ts';

/*
 * A fake of WeCom's AI-bot long connection (wss://openws.work.weixin.qq.com), from the
 * aibot-node-sdk and the docs (101463): frames `{cmd, headers: {req_id}, body}`, acks
 * `{headers: {req_id}, errcode, errmsg}`. It checks the subscription, acks pings, pushes
 * message and event callbacks, and records and checks what the bot answers:
 * aibot_respond_msg only on a message's req_id (846605 otherwise), welcome only on enter_chat,
 * card updates only on template_card_event, stream frames only within the stream lifetime
 * (846608 after). A newer connection gets the bot; the old one is told with disconnected_event.
 */

/** The bot id and secret the fake AI bot WebSocket server accepts, and its stream lifetime. */
export interface FakeAiBotWsOptions {
  botId: string;
  secret: string;
  /** How long stream frames are accepted after the message (default 6 minutes). */
  streamLifetimeMs?: number;
}

/** One frame the bot sent (subscribe and ping included), with the errcode it was acked with. */
export interface ReceivedFrame {
  cmd: string;
  reqId: string;
  body: Record<string, unknown> | undefined;
  errcode: number;
  at: number;
}

/** A stream as the user saw it through the bot's aibot_respond_msg frames. */
export interface PushedStream {
  id: string;
  snapshots: string[];
  content: string;
  finished: boolean;
}

interface Callback {
  cmd: string;
  kind: 'message' | 'event';
  eventtype?: string;
  at: number;
}

/** A running fake AI bot WebSocket server: its URL, what bots sent, and callbacks to push. */
export interface FakeAiBotWs {
  /** `ws://127.0.0.1:<port>`: give it to the channel as `wsUrl`. */
  readonly url: string;
  readonly frames: readonly ReceivedFrame[];
  /** Bodies of accepted aibot_send_msg frames. */
  readonly sent: readonly Record<string, unknown>[];
  /** Successful subscriptions so far (reconnects count again). */
  readonly subscriptions: number;
  /** Pushes a message callback and returns its req_id. */
  message(msgtype: string, body: AiBotPayload | undefined, options?: AiBotMessageOptions): string;
  text(content: string, options?: AiBotMessageOptions): string;
  event(eventtype: string, body?: AiBotPayload, options?: AiBotMessageOptions): string;
  /** Resolves with the stream answered on `reqId` once it finishes (or rejects after `timeoutMs`). */
  stream(reqId: string, timeoutMs?: number): Promise<PushedStream>;
  /** Resolves with the first accepted answer frame on `reqId` (respond/welcome/update). */
  answer(reqId: string, timeoutMs?: number): Promise<ReceivedFrame>;
  /** Resolves once the bot is subscribed (again). */
  waitForSubscription(count?: number, timeoutMs?: number): Promise<void>;
  /** Cuts every connection, as a network failure would. */
  dropConnections(): void;
  close(): Promise<void>;
}

const ERR_INVALID_REQ_ID = 846605;
const ERR_STREAM_EXPIRED = 846608;

/** Starts a fake of WeCom's AI bot long-connection server on 127.0.0.1 (subscribe, ping, respond frames). */
export async function startFakeAiBotWs(options: FakeAiBotWsOptions): Promise<FakeAiBotWs> {
  const server = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise<void>((resolve) => server.once('listening', () => resolve()));
  const { port } = server.address() as AddressInfo;
  const lifetime = options.streamLifetimeMs ?? 6 * 60_000;
  const frames: ReceivedFrame[] = [];
  const sent: Record<string, unknown>[] = [];
  const callbacks = new Map<string, Callback>();
  const streams = new Map<string, PushedStream & { reqId: string }>();
  let active: WebSocket | undefined;
  let subscriptions = 0;

  const reply = (socket: WebSocket, reqId: string, errcode: number, errmsg = errcode ? 'error' : 'ok') =>
    socket.send(JSON.stringify({ headers: { req_id: reqId }, errcode, errmsg }));

  /** The errcode WeCom would answer this frame with. */
  const check = (cmd: string, reqId: string, body: Record<string, unknown> | undefined): number => {
    if (cmd === 'aibot_send_msg') return typeof body?.['chatid'] === 'string' && body['chatid'] ? 0 : 40035;
    const callback = callbacks.get(reqId);
    if (!callback) return ERR_INVALID_REQ_ID;
    if (cmd === 'aibot_respond_welcome_msg') return callback.eventtype === 'enter_chat' && Date.now() - callback.at < 5000 ? 0 : ERR_INVALID_REQ_ID;
    if (cmd === 'aibot_respond_update_msg') return callback.eventtype === 'template_card_event' && Date.now() - callback.at < 5000 ? 0 : ERR_INVALID_REQ_ID;
    if (cmd !== 'aibot_respond_msg' || callback.kind !== 'message') return ERR_INVALID_REQ_ID;
    if (body?.['msgtype'] === 'stream' && Date.now() - callback.at > lifetime) return ERR_STREAM_EXPIRED;
    return 0;
  };

  const record = (cmd: string, reqId: string, body: Record<string, unknown> | undefined, errcode: number) => {
    frames.push({ cmd, reqId, body, errcode, at: Date.now() });
    if (errcode) return;
    if (cmd === 'aibot_send_msg' && body) sent.push(body);
    const stream = body?.['msgtype'] === 'stream' ? (body['stream'] as { id?: string; finish?: boolean; content?: string }) : undefined;
    if (cmd === 'aibot_respond_msg' && stream?.id) {
      const entry = streams.get(stream.id) ?? { id: stream.id, reqId, snapshots: [], content: '', finished: false };
      entry.snapshots.push(stream.content ?? '');
      entry.content = stream.content ?? entry.content;
      entry.finished = stream.finish === true;
      streams.set(stream.id, entry);
    }
  };

  server.on('connection', (socket) => {
    let subscribed = false;
    socket.on('message', (data) => {
      let frame: { cmd?: string; headers?: { req_id?: string }; body?: Record<string, unknown> };
      try {
        frame = JSON.parse(data.toString());
      } catch {
        socket.close(1003, 'not JSON');
        return;
      }
      const cmd = frame.cmd ?? '';
      const reqId = frame.headers?.req_id ?? '';
      if (cmd === 'aibot_subscribe') {
        const ok = frame.body?.['bot_id'] === options.botId && frame.body?.['secret'] === options.secret;
        record(cmd, reqId, { bot_id: frame.body?.['bot_id'], secret: '[redacted]' }, ok ? 0 : 40001);
        reply(socket, reqId, ok ? 0 : 40001, ok ? 'ok' : 'invalid bot_id or secret');
        if (!ok) return;
        subscribed = true;
        subscriptions += 1;
        if (active && active !== socket) {
          const previous = active;
          previous.send(
            JSON.stringify({
              cmd: 'aibot_event_callback',
              headers: { req_id: randomBytes(8).toString('hex') },
              body: { msgtype: 'event', event: { eventtype: 'disconnected_event' } },
            }),
          );
          previous.close(1000, 'replaced');
        }
        active = socket;
        return;
      }
      if (!subscribed) {
        reply(socket, reqId, 40001, 'not subscribed');
        return;
      }
      if (cmd === 'ping') {
        record(cmd, reqId, undefined, 0);
        reply(socket, reqId, 0);
        return;
      }
      const errcode = check(cmd, reqId, frame.body);
      record(cmd, reqId, frame.body, errcode);
      reply(socket, reqId, errcode);
    });
    socket.on('close', () => {
      if (active === socket) active = undefined;
    });
  });

  const push = (cmd: string, body: AiBotPayload, callback: Omit<Callback, 'cmd' | 'at'>): string => {
    if (!active) throw new Error('fake AI-bot WS: no bot is subscribed');
    const reqId = randomBytes(12).toString('hex');
    callbacks.set(reqId, { cmd, at: Date.now(), ...callback });
    active.send(JSON.stringify({ cmd, headers: { req_id: reqId }, body }));
    return reqId;
  };

  const payload = (msgtype: string, body: AiBotPayload | undefined, o: AiBotMessageOptions = {}): AiBotPayload => ({
    msgid: o.msgid ?? newAiBotMsgId(),
    aibotid: options.botId,
    ...(o.chatId !== undefined && { chatid: o.chatId }),
    chattype: o.chatId !== undefined ? 'group' : 'single',
    from: { userid: o.from ?? 'user-1' },
    msgtype,
    ...(body && { [msgtype]: body }),
    ...(o.quote && { quote: o.quote }),
  });

  const until = async <T>(find: () => T | undefined, timeoutMs: number, what: string): Promise<T> => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = find();
      if (found !== undefined) return found;
      if (Date.now() > deadline) throw new Error(`fake AI-bot WS: ${what} within ${timeoutMs} ms`);
      await sleep(10);
    }
  };

  return {
    url: `ws://127.0.0.1:${port}`,
    frames,
    sent,
    get subscriptions() {
      return subscriptions;
    },
    message: (msgtype, body, o) => push('aibot_msg_callback', payload(msgtype, body, o), { kind: 'message' }),
    text: (content, o) => push('aibot_msg_callback', payload('text', { content }, o), { kind: 'message' }),
    event: (eventtype, body = {}, o) =>
      push(
        'aibot_event_callback',
        { ...payload('event', undefined, o), create_time: Math.floor(Date.now() / 1000), event: { eventtype, [eventtype]: body } },
        { kind: 'event', eventtype },
      ),
    stream: (reqId, timeoutMs = 10_000) =>
      until(() => [...streams.values()].find((s) => s.reqId === reqId && s.finished), timeoutMs, `no finished stream on ${reqId}`).then(({ reqId: _, ...s }) => s),
    answer: (reqId, timeoutMs = 5000) =>
      until(() => frames.find((f) => f.reqId === reqId && f.errcode === 0 && f.cmd.startsWith('aibot_respond')), timeoutMs, `no answer on ${reqId}`),
    waitForSubscription: (count = 1, timeoutMs = 5000) => until(() => (subscriptions >= count && active ? true : undefined), timeoutMs, `no subscription #${count}`).then(() => {}),
    dropConnections: () => {
      for (const client of server.clients) client.terminate();
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const client of server.clients) client.terminate();
        server.close(() => resolve());
      }),
  };
}
