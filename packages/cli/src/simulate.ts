import { randomBytes } from 'node:crypto';
import { createInterface } from 'node:readline';
import type { AiBotPeer, FakeCredential, WeChatPeer } from '@wxbot/testing';
import { AIBOT_TYPES, aiBotMessage, exchangeAiBot } from './simulateAiBot.ts';
import { describePassiveReply } from './describeReply.ts';
import { hostFakeApi, type FakeApiHost } from './fakeApiHost.ts';
import { loadDotEnv } from './loadConfig.ts';
import { kfMessageOf, SIMULATE_TYPES, simulatedMessage, type SimulatedMessage, type SimulateType } from './simulateMessages.ts';
import { resolveTarget, type SimulateTarget } from './simulateTarget.ts';
import { parseCommand } from './usage.ts';
import { SIMULATE_USAGE } from './usageTexts.ts';
import { loadTestingKit } from './testingKit.ts';

const KF_NEEDS_FAKE_API = `wxbot simulate: WeChat Customer Service (wecomKf) has no passive replies: its callback only
tells the bot to call kf/sync_msg, and every answer goes out through kf/send_msg. Simulate it
with a fake WeChat API that holds the message and records the answers:

  WECOM_API_BASE=http://127.0.0.1:4000 wxbot start        (or apiBaseUrl on the channel)
  wxbot simulate --channel wecomKf --fake-api --fake-api-port 4000 你好`;

/** `wxbot simulate`: see {@link SIMULATE_USAGE}. Returns the exit code. */
export async function simulate(args: string[]): Promise<number> {
  const { values, positionals } = parseCommand(
    args,
    {
      url: { type: 'string' },
      channel: { type: 'string' },
      path: { type: 'string' },
      type: { type: 'string', short: 't', default: 'text' },
      from: { type: 'string', default: 'user-1' },
      mode: { type: 'string' },
      token: { type: 'string' },
      'aes-key': { type: 'string' },
      'receive-id': { type: 'string' },
      'agent-id': { type: 'string' },
      secret: { type: 'string' },
      config: { type: 'string', short: 'c' },
      'fake-api': { type: 'boolean', default: false },
      'fake-api-port': { type: 'string' },
      wait: { type: 'string', default: '6000' },
      'open-kfid': { type: 'string' },
      chat: { type: 'string' },
      'poll-interval': { type: 'string', default: '1000' },
      interactive: { type: 'boolean', short: 'i', default: false },
      port: { type: 'string', short: 'p' },
      verbose: { type: 'boolean', default: false },
    },
    true,
  );
  if (values.help) {
    console.log(SIMULATE_USAGE);
    return 0;
  }
  const type = values.type as SimulateType;
  if (!SIMULATE_TYPES.includes(type)) return usageError(`--type must be one of ${SIMULATE_TYPES.join(', ')} (got "${values.type}")`);
  const waitMs = Number(values.wait);
  if (!Number.isFinite(waitMs) || waitMs < 0) return usageError(`--wait must be a number of milliseconds (got "${values.wait}")`);
  const fakeApiPort = values['fake-api-port'] === undefined ? undefined : Number(values['fake-api-port']);
  if (fakeApiPort !== undefined && !(Number.isInteger(fakeApiPort) && fakeApiPort > 0 && fakeApiPort < 65536)) {
    return usageError(`--fake-api-port must be a port number (got "${values['fake-api-port']}")`);
  }
  const useFakeApi = values['fake-api'] || fakeApiPort !== undefined;
  if (values.interactive && type !== 'text') return usageError('-i sends text messages: leave out --type');
  const pollIntervalMs = Number(values['poll-interval']);
  if (!Number.isFinite(pollIntervalMs) || pollIntervalMs < 0) return usageError(`--poll-interval must be a number of milliseconds (got "${values['poll-interval']}")`);

  await loadDotEnv();
  const target = await resolveTarget({
    url: values.url,
    channel: values.channel,
    path: values.path,
    mode: values.mode,
    token: values.token,
    aesKey: values['aes-key'],
    receiveId: values['receive-id'],
    agentId: values['agent-id'],
    secret: values.secret,
    config: values.config,
    port: values.port,
  });
  // An event the channel has not (KF has only enter_session) is wrong usage before anything is sent.
  if (type === 'event' && target.kind !== 'wecomAiBot') simulatedMessage(type, positionals.join(' '), target.kind);
  if (target.kind === 'wecomKf' && !useFakeApi) {
    console.error(KF_NEEDS_FAKE_API);
    return 2;
  }
  if (target.kind === 'wecomAiBot' && !AIBOT_TYPES.includes(type)) return usageError(`the WeCom AI bot takes --type ${AIBOT_TYPES.join(', ')} (got "${type}")`);
  if (values.chat !== undefined && target.kind !== 'wecomAiBot') return usageError('--chat is for the WeCom AI bot (--channel wecomAiBot)');

  const { WeChatPeer, AiBotPeer } = await loadTestingKit();
  const host = useFakeApi ? await startFakeApi(target, fakeApiPort) : undefined;
  const peer =
    target.kind === 'wecomAiBot'
      ? new AiBotPeer({ url: target.callbackUrl, token: target.token, encodingAESKey: target.encodingAESKey ?? '', api: host?.api, pollIntervalMs })
      : new WeChatPeer({
          url: target.callbackUrl,
          kind: target.kind,
          token: target.token,
          encodingAESKey: target.encodingAESKey,
          receiveId: target.receiveId,
          mode: target.mode,
          agentId: target.agentId,
        });
  const where = target.kind === 'wecomAiBot' && values.chat !== undefined ? `, in group ${values.chat}` : '';
  console.log(`simulating ${target.kind} "${target.name}" at ${target.callbackUrl} (${target.mode} mode, from ${values.from}${where}; credentials: ${target.source})`);
  if (target.kind === 'wecomAiBot' && !host) console.log('(no --fake-api: messages carry no response_url, so answers after the stream cannot show)');

  const session: Session = { peer, target, host, from: values.from, chatId: values.chat, openKfId: values['open-kfid'] ?? `wk-simulate-${Date.now().toString(36)}` };
  try {
    let ok: boolean;
    if (values.interactive) {
      ok = await interactive(session);
    } else {
      ok = await send(session, type, positionals.join(' '));
    }
    if (host) {
      console.log(`waiting ${waitMs} ms for late answers…`);
      await host.drain(waitMs);
      warnAboutTokens(host, target);
    }
    return ok ? 0 : 1;
  } finally {
    await host?.close();
  }
}

interface Session {
  peer: WeChatPeer | AiBotPeer;
  target: SimulateTarget;
  host: FakeApiHost | undefined;
  from: string;
  /** AI bot: send as a message of this group chat. */
  chatId: string | undefined;
  openKfId: string;
}

function usageError(message: string): number {
  console.error(`wxbot simulate: ${message}\n\n${SIMULATE_USAGE}`);
  return 2;
}

async function startFakeApi(target: SimulateTarget, port: number | undefined): Promise<FakeApiHost> {
  // Without a kind the fake lets the secret call every API, as a WeCom app secret that also
  // manages a KF account does.
  const credentials: FakeCredential[] = target.secret && target.kind !== 'wecomAiBot' ? [{ id: target.receiveId, secret: target.secret }] : [];
  // A config whose channel sends to a local API (dev mode's, say) is served where it sends.
  const configured = port === undefined && target.kind !== 'wecomAiBot' ? localPort(target.apiBaseUrl) : undefined;
  let host: FakeApiHost;
  try {
    host = await hostFakeApi({ credentials, port: port ?? configured, print: (line) => console.log(line) });
  } catch (error) {
    if (configured === undefined) throw error;
    throw new Error(
      `${(error as Error).message}. That is the config's apiBaseUrl (${target.apiBaseUrl}), where the bot sends: another \`wxbot simulate --fake-api\` may be running there (it prints the bot's sends too); else stop what listens there, or move the bot's API (WX_API_BASE / WECOM_API_BASE) and simulate with the same config`,
      { cause: error },
    );
  }
  if (configured !== undefined) {
    console.log(`fake WeChat API: ${host.url}  (the config's apiBaseUrl: the bot sends there)`);
    return host;
  }
  if (target.kind === 'wecomAiBot') {
    // No token or base URL to configure: each message carries its response_url on the fake.
    console.log(`fake WeCom API: ${host.url}  (serves each message's response_url and its media)`);
    return host;
  }
  // The variables only move a config that reads them (envConfig(), as the repository's and
  // create-wxbot's do); a hand-written channel needs its apiBaseUrl.
  const variable = target.kind === 'officialAccount' ? 'WX_API_BASE' : 'WECOM_API_BASE';
  console.log(
    `fake WeChat API: ${host.url}  (the bot must send there: ${variable}=${host.url} wxbot start with a config built on envConfig(), else apiBaseUrl: '${host.url}' on the channel)`,
  );
  if (!target.secret) {
    console.log('! no secret known for this channel (pass --secret): the bot cannot get an access token from the fake API, so only passive answers will show');
  }
  return host;
}

/** The port of an http://127.0.0.1:N or http://localhost:N URL, else undefined. */
function localPort(url: string | undefined): number | undefined {
  if (!url) return undefined;
  const parsed = URL.canParse(url) ? new URL(url) : undefined;
  if (parsed?.protocol !== 'http:' || !['127.0.0.1', 'localhost', '[::1]'].includes(parsed.hostname) || !parsed.port) return undefined;
  return Number(parsed.port);
}

/** After the wait: a bot that asked for tokens with other credentials is the usual reason nothing showed up. */
function warnAboutTokens(host: FakeApiHost, target: SimulateTarget): void {
  const all = host.api.tokenCalls();
  const known = target.secret ? host.api.tokenCalls(target.receiveId, target.secret) : 0;
  if (all > known)
    console.log(`! the bot asked the fake API for an access token with an id or secret it does not know (${all - known} time(s)): pass its --receive-id and --secret`);
}

/** Sends one message of `type` built from `text` and prints the answer; false when it failed (already reported). */
async function send(session: Session, type: SimulateType, text: string): Promise<boolean> {
  const { peer, target, host } = session;
  if (target.kind === 'wecomAiBot') {
    const aibot = peer as AiBotPeer;
    try {
      const { payload, summary } = aiBotMessage(aibot, { type, text, from: session.from, chatId: session.chatId, api: host?.api, encodingAESKey: target.encodingAESKey ?? '' });
      console.log(`sent ${summary}`);
      const { response } = await exchangeAiBot(aibot, payload, (line) => console.log(line));
      if (response.status >= 400) return reportHttpError(response.status, response.body, target);
      return true;
    } catch (error) {
      if (String((error as Error).message).startsWith('stream poll')) {
        console.error(`✗ ${(error as Error).message}`);
        return false;
      }
      return reportFailure(error, target);
    }
  }
  return sendWeChat(session, peer as WeChatPeer, simulatedMessage(type, text, target.kind));
}

async function sendWeChat(session: Session, peer: WeChatPeer, message: SimulatedMessage): Promise<boolean> {
  const { target, host, from } = session;
  for (const mediaId of message.mediaIds) {
    // Served by the fake API so the bot can download the media or send it back.
    host?.api.media.put(mediaId, {
      data: randomBytes(64),
      contentType: message.msgType === 'voice' ? 'audio/amr' : 'image/png',
      fileName: `${mediaId}.${message.msgType === 'voice' ? 'amr' : 'png'}`,
    });
  }
  console.log(`sent ${message.summary}`);
  try {
    if (target.kind === 'wecomKf') return await sendKf(session, message);
    const response = await peer.post(peer.message(message.msgType, message.fields, { from }));
    if (response.status >= 400) return reportHttpError(response.status, response.body, target);
    console.log(response.reply ? `← ${describePassiveReply(response.reply)}` : `← (no passive reply: ${response.body || 'empty body'})`);
    return true;
  } catch (error) {
    return reportFailure(error, target);
  }
}

/**
 * KF: the message waits in the fake API's sync_msg queue, and the callback only notifies the
 * bot (as WeChat does), which then syncs it and answers through kf/send_msg.
 */
async function sendKf(session: Session, message: SimulatedMessage): Promise<boolean> {
  const { target, from, openKfId } = session;
  const peer = session.peer as WeChatPeer;
  const kf = session.host?.api.kf;
  if (!kf) throw new Error('KF needs --fake-api');
  if (message.msgType === 'event') kf.pushEnterSession(openKfId, from, { scene_param: String(message.fields['EventKey'] ?? '') });
  else kf.push(openKfId, kfMessageOf(message, from));
  const notification = {
    ToUserName: target.receiveId,
    CreateTime: Math.floor(Date.now() / 1000),
    MsgType: 'event',
    Event: 'kf_msg_or_event',
    Token: randomBytes(12).toString('hex'),
    OpenKfId: openKfId,
  };
  const response = await peer.post(notification);
  if (response.status >= 400) return reportHttpError(response.status, response.body, target);
  console.log(`← ${response.body || '(empty body)'} (KF answers through kf/send_msg; open_kfid ${openKfId})`);
  return true;
}

function reportHttpError(status: number, body: string, target: SimulateTarget): false {
  const hints: Record<number, string> = {
    401: ': check that --token, --aes-key and --receive-id are the ones the bot has',
    404: `: no channel listens on ${new URL(target.callbackUrl).pathname} (check --path / --channel)`,
  };
  console.error(`✗ the bot answered HTTP ${status}: ${body.trim() || '(empty body)'}${hints[status] ?? ''}`);
  return false;
}

function reportFailure(error: unknown, target: SimulateTarget): false {
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  if (error instanceof TypeError && cause) {
    // fetch() says only "fetch failed"; the reason (ECONNREFUSED…) is in its cause.
    console.error(
      `✗ cannot reach ${target.callbackUrl}: ${cause.code ?? cause.message ?? String(cause)} (is the bot running? start it with \`npm start\` or \`wxbot start\`; --port, PORT or --url if it listens elsewhere)`,
    );
  } else {
    console.error(`✗ the answer does not verify: ${(error as Error).message ?? String(error)}`);
  }
  return false;
}

/** Sends each stdin line as a text, piped or typed; resolves false if any failed. */
async function interactive(session: Session): Promise<boolean> {
  const tty = process.stdin.isTTY === true;
  const lines = createInterface({ input: process.stdin, output: tty ? process.stdout : undefined, terminal: tty });
  if (tty) console.log('type a message and Enter; /quit or Ctrl-D ends');
  let ok = true;
  lines.setPrompt('> ');
  if (tty) lines.prompt();
  // for-await reads one line at a time, so answers print in order even when input is piped.
  for await (const line of lines) {
    const text = line.trim();
    if (text === '/quit') break;
    if (text !== '') ok = (await send(session, 'text', text)) && ok;
    session.host?.flush();
    if (tty) lines.prompt();
  }
  lines.close();
  return ok;
}
