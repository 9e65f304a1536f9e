import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBot, createLogger, definePlugin, MemoryStore, officialAccount, replies, wecomAiBot, wecomApp, wecomKf, type Bot } from '@wxbot/core';
import type { CallbackResult } from '@wxbot/core/protocol';
import { echo } from '@wxbot/plugin-echo';

const root = resolve(import.meta.dirname, '..');
const bin = join(root, 'packages/cli/bin/wxbot.mjs');

const OA = { appId: 'wx-sim-app', appSecret: 'oa-sim-secret', token: 'simOaToken1', encodingAESKey: 'abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG' };
const APP = { corpId: 'ww-sim-corp', agentId: 1000002, token: 'simAppToken2', encodingAESKey: 'jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C' };
const KF = { corpId: 'ww-sim-corp', secret: 'kf-sim-secret', token: 'simKfToken3', encodingAESKey: '5BV9l957Op7wlJwfgeCOzC9h1jVS8AZI128QE1j6s0Q' };
const AIBOT = { token: 'simAiBotToken4', encodingAESKey: 'Zz9Yy8Xx7Ww6Vv5Uu4Tt3Ss2Rr1Qq0PpOoNnMmLlKkJ' };

/** Stream polls the AI bot channel answered so far, and waiters for the next one. */
let polls = 0;
const pollWaiters: (() => void)[] = [];
/** Resolves at the first poll answered after this call. */
const nextPoll = () => new Promise<void>((resolve) => pollWaiters.push(resolve));

/**
 * "stream N" on the AI bot answers in N chunks, each written only after WeCom (here: the CLI)
 * polled the one before: every snapshot WeCom can see is then known, without any timing.
 */
const streamer = definePlugin({
  name: 'streamer',
  setup(bot) {
    bot.hears(/^stream (\d+)$/, async (ctx) => {
      const n = Number((ctx.match as RegExpExecArray)[1]);
      await ctx.replyStream(
        (async function* () {
          for (let i = 1; i <= n; i++) {
            yield `段${i} `;
            await nextPoll();
          }
        })(),
      );
    });
    bot.hears('long', (ctx) => ctx.reply('长'.repeat(7000)));
    bot.event('enter_chat', (ctx) => ctx.reply('欢迎!'));
    bot.event('template_card_event', (ctx) => ctx.reply(replies.templateCard({ card_type: ctx.message.cardType, main_title: { title: `已选 ${ctx.message.eventKey}` } })));
  },
});

/** Answers the event a channel's `--type event` sends by default, naming the event it got. */
const welcome = definePlugin({
  name: 'welcome',
  setup(bot) {
    bot.event('subscribe', (ctx) => ctx.reply('got subscribe'));
    bot.event('enter_agent', (ctx) => ctx.reply('got enter_agent'));
    bot.event('enter_session', (ctx) => ctx.reply(`got enter_session ${ctx.message.event === 'enter_session' ? (ctx.message.sceneParam ?? '') : ''}`));
  },
});

/** "twice TEXT" answers twice: the first goes back passively, the second through the active API. */
const twice = definePlugin({
  name: 'twice',
  setup(bot) {
    bot.hears(/^twice (.+)$/, async (ctx) => {
      const what = (ctx.match as RegExpExecArray)[1];
      await ctx.reply(`1: ${what}`);
      await ctx.reply(`2: ${what}`);
    });
  },
});

let bot: Bot;
let url: string;
/** Where the CLI's fake WeChat API will listen (--fake-api-port); the bot points at it from the start. */
let fakeApiPort: number;
let tmp: string;

beforeAll(async () => {
  fakeApiPort = await freePort();
  const apiBaseUrl = `http://127.0.0.1:${fakeApiPort}`;
  tmp = mkdtempSync(join(tmpdir(), 'wxbot-simulate-'));
  const aibot = wecomAiBot(AIBOT);
  const receive = aibot.receive.bind(aibot);
  aibot.receive = (query, body): CallbackResult => {
    const result = receive(query, body);
    // An 'ack' is a stream poll, its snapshot already taken.
    if (result.kind === 'ack') {
      polls += 1;
      for (const wake of pollWaiters.splice(0)) wake();
    }
    return result;
  };
  bot = createBot({
    channels: [officialAccount({ ...OA, apiBaseUrl, allowPlain: true }), wecomApp(APP), wecomKf({ ...KF, apiBaseUrl, cursorStore: new MemoryStore() }), aibot],
    plugins: [welcome(), twice(), streamer(), echo()],
    logger: createLogger({ level: 'silent' }),
  });
  ({ url } = await bot.start({ port: 0 }));
});

afterAll(async () => {
  await bot?.stop();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs the CLI as a user would. Asynchronous on purpose: the bot it talks to runs in this
 * process, and spawnSync would block it from answering.
 */
function wxbot(args: string[], options: { input?: string; cwd?: string } = {}): Promise<Run> {
  const child = spawn(process.execPath, [bin, ...args], { cwd: options.cwd ?? tmp, env: { ...process.env, PORT: '' } });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk));
  child.stdin.end(options.input ?? '');
  return new Promise((done) => child.on('close', (code) => done({ code, stdout, stderr })));
}

const oaFlags = () => ['simulate', '--url', url, '--token', OA.token, '--aes-key', OA.encodingAESKey, '--receive-id', OA.appId];
const appFlags = () => ['simulate', '--url', url, '--channel', 'wecomApp', '--token', APP.token, '--aes-key', APP.encodingAESKey, '--receive-id', APP.corpId];
const aibotFlags = () => ['simulate', '--url', url, '--channel', 'wecomAiBot', '--token', AIBOT.token, '--aes-key', AIBOT.encodingAESKey, '--poll-interval', '20'];
const kfFlags = () => ['simulate', '--url', url, '--channel', 'wecomKf', '--token', KF.token, '--aes-key', KF.encodingAESKey, '--receive-id', KF.corpId];

describe('wxbot simulate', () => {
  it('sends a text and prints the echo on an Official Account in plain, safe and compat mode', async () => {
    const [plain, safe, compat] = await Promise.all([
      wxbot([...oaFlags(), '--mode', 'plain', 'hello', 'plain']),
      wxbot([...oaFlags(), '你好']),
      wxbot([...oaFlags(), '--mode', 'compat', 'compat']),
    ]);
    expect(plain).toMatchObject({ code: 0, stderr: '' });
    expect(plain.stdout).toContain('(plain mode, from user-1; credentials: flags)');
    expect(plain.stdout).toContain('← text: hello plain');
    expect(safe.stdout).toContain('(safe mode');
    expect(safe.stdout).toContain('← text: 你好');
    expect(safe.code).toBe(0);
    expect(compat.stdout).toContain('← text: compat');
    expect(compat.code).toBe(0);
  });

  it('speaks to a WeCom app, sends images, and reads credentials from a config or dev mode', async () => {
    const config = join(tmp, 'sim.config.mjs');
    writeFileSync(
      config,
      `import { officialAccount, wecomApp } from ${JSON.stringify(join(root, 'packages/core/src/index.ts'))};
export default { channels: [officialAccount(${JSON.stringify(OA)}), wecomApp({ name: 'corp', ...${JSON.stringify(APP)} })] };\n`,
    );
    const devDir = join(tmp, 'dev');
    mkdirSync(join(devDir, '.wxbot'), { recursive: true });
    writeFileSync(join(devDir, '.wxbot/dev.json'), JSON.stringify({ token: APP.token, encodingAESKey: APP.encodingAESKey, appId: 'wxdev', corpId: APP.corpId }));

    const [app, image, fromConfig, fromDev] = await Promise.all([
      wxbot([...appFlags(), 'hi', 'there']),
      wxbot([...oaFlags(), '--type', 'image', 'media-123']),
      wxbot(['simulate', '--url', url, '--config', config, '--channel', 'corp', 'from config']),
      wxbot(['simulate', '--url', url, '--channel', 'wecomApp', 'from dev'], { cwd: devDir }),
    ]);
    expect(app.stdout).toContain('← text: hi there');
    expect(app.code).toBe(0);
    expect(image.stdout).toContain('sent image: media_id=media-123');
    expect(image.stdout).toContain('← image: media_id=media-123');
    expect(fromConfig.stdout).toContain('wecomApp "corp"');
    expect(fromConfig.stdout).toContain('credentials: config sim.config.mjs');
    expect(fromConfig.stdout).toContain('← text: from config');
    expect(fromDev.stdout).toContain('credentials: .wxbot/dev.json');
    expect(fromDev.stdout).toContain('← text: from dev');
    for (const run of [app, image, fromConfig, fromDev]) expect(run.stdout).not.toContain(APP.encodingAESKey);
  });

  it('exits non-zero with the reason when the bot refuses the callback', async () => {
    const [wrongToken, wrongPath, unreachable] = await Promise.all([
      wxbot(['simulate', '--url', url, '--token', 'wrongToken', '--aes-key', OA.encodingAESKey, '--receive-id', OA.appId, 'hi']),
      wxbot([...oaFlags(), '--path', '/nowhere', 'hi']),
      wxbot([...oaFlags(), '--url', `http://127.0.0.1:${await freePort()}`, 'hi']),
    ]);
    expect(wrongToken.code).toBe(1);
    expect(wrongToken.stderr).toMatch(/HTTP 401: msg_signature does not match.*--token/);
    expect(wrongToken.stdout).not.toContain('←');
    expect(wrongPath.code).toBe(1);
    expect(wrongPath.stderr).toContain('HTTP 404');
    expect(unreachable.code).toBe(1);
    expect(unreachable.stderr).toMatch(/cannot reach .*ECONNREFUSED/);
  });

  it('exits non-zero when the answer does not verify', async () => {
    // A server that answers with a signature made with another token.
    const forged = createServer((_req, res) => {
      res.end('<xml><Encrypt><![CDATA[AAAA]]></Encrypt><MsgSignature><![CDATA[0000]]></MsgSignature><TimeStamp>1</TimeStamp><Nonce><![CDATA[2]]></Nonce></xml>');
    });
    await new Promise<void>((done) => forged.listen(0, '127.0.0.1', done));
    try {
      const run = await wxbot([...oaFlags(), '--url', `http://127.0.0.1:${(forged.address() as AddressInfo).port}/wx`, 'hi']);
      expect(run.code).toBe(1);
      expect(run.stderr).toContain('the answer does not verify: reply MsgSignature does not verify');
    } finally {
      await close(forged);
    }
  });

  it('-i sends every piped line and prints every answer', async () => {
    const run = await wxbot([...oaFlags(), '-i'], { input: 'first line\n\nsecond line\n/quit\nnever sent\n' });
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('← text: first line');
    expect(run.stdout).toContain('← text: second line');
    expect(run.stdout).not.toContain('never sent');
    expect(run.stdout.indexOf('← text: first line')).toBeLessThan(run.stdout.indexOf('sent text: second line'));
  });

  it('--fake-api-port prints active sends after the passive answer', async () => {
    const run = await wxbot([...oaFlags(), '--secret', OA.appSecret, '--fake-api-port', String(fakeApiPort), '--wait', '1500', 'twice ping']);
    expect(run.stdout).toContain(
      `fake WeChat API: http://127.0.0.1:${fakeApiPort}  (the bot must send there: WX_API_BASE=http://127.0.0.1:${fakeApiPort} wxbot start with a config built on envConfig(), else apiBaseUrl: 'http://127.0.0.1:${fakeApiPort}' on the channel)`,
    );
    expect(run.stdout).toContain('← text: 1: ping');
    expect(run.stdout).toContain('→ active: text: 2: ping  (message/custom/send to user-1)');
    expect(run.stdout).not.toContain(OA.appSecret);
    expect(run.code).toBe(0);
  });

  it('KF: explains that it needs --fake-api, then runs through sync_msg and kf/send_msg with it', async () => {
    const without = await wxbot([...kfFlags(), 'hi']);
    expect(without.code).toBe(2);
    expect(without.stderr).toContain('no passive replies');
    expect(without.stderr).toContain('--fake-api');

    const run = await wxbot([...kfFlags(), '--secret', KF.secret, '--fake-api', '--fake-api-port', String(fakeApiPort), '--wait', '1500', '--from', 'wm-customer', '你好 KF']);
    expect(run.stdout).toContain('← success (KF answers through kf/send_msg');
    expect(run.stdout).toContain('→ active: text: 你好 KF  (kf/send_msg to wm-customer)');
    expect(run.stdout).not.toContain('! the bot asked the fake API');
    expect(run.code).toBe(0);
  });

  it('--type event sends the event it prints, per channel, and refuses one the channel has not', async () => {
    const oa = await wxbot([...oaFlags(), '--type', 'event']);
    expect(oa.stdout).toContain('sent event: subscribe');
    expect(oa.stdout).toContain('← text: got subscribe');
    const app = await wxbot([...appFlags(), '--type', 'event']);
    expect(app.stdout).toContain('sent event: enter_agent');
    expect(app.stdout).toContain('← text: got enter_agent');

    const kf = await wxbot([...kfFlags(), '--secret', KF.secret, '--fake-api-port', String(fakeApiPort), '--wait', '1500', '--from', 'wm-event', '--type', 'event']);
    expect(kf.stdout).toContain('sent event: enter_session');
    expect(kf.stdout).not.toContain('subscribe');
    expect(kf.stdout).toContain('→ active: text: got enter_session');
    expect(kf.code).toBe(0);
    const withScene = await wxbot([
      ...kfFlags(),
      '--secret',
      KF.secret,
      '--fake-api-port',
      String(fakeApiPort),
      '--wait',
      '1500',
      '--type',
      'event',
      'enter_session',
      'spring-sale',
    ]);
    expect(withScene.stdout).toContain('sent event: enter_session spring-sale');
    expect(withScene.stdout).toContain('→ active: text: got enter_session spring-sale');

    const refused = await wxbot([...kfFlags(), '--secret', KF.secret, '--fake-api', '--type', 'event', 'subscribe']);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('wxbot simulate: WeChat Customer Service (wecomKf) takes --type event "enter_session [SCENE_PARAM]" only (got "subscribe")');
    expect(refused.stdout).not.toContain('sent ');

    const help = await wxbot(['simulate', '--help']);
    expect(help.stdout).toMatch(/wecomKf\s+enter_session \[SCENE_PARAM\] only/);
    expect(help.stdout).toMatch(/officialAccount\s+subscribe/);
  }, 60_000);
});

describe('wxbot simulate --channel wecomAiBot', () => {
  it('polls a streamed answer like WeCom and prints each growing snapshot, then the finished one', async () => {
    const before = polls;
    const run = await wxbot([...aibotFlags(), 'stream', '3']);
    expect(run).toMatchObject({ code: 0, stderr: '' });
    expect(run.stdout).toContain('simulating wecomAiBot "wecomAiBot"');
    expect(run.stdout).toContain('/wecom/aibot (safe mode, from user-1;');
    expect(run.stdout).toContain('sent text: stream 3');
    const lines = run.stdout.split('\n');
    const snapshots = lines.filter((line) => line.startsWith('… stream: ')).map((line) => line.slice('… stream: '.length).trim());
    // Each chunk waited for a poll, so every partial answer was seen, in order, none twice.
    expect(snapshots.filter((line) => line !== '(nothing yet)')).toEqual(['段1', '段1 段2', '段1 段2 段3']);
    const final = lines.filter((line) => line.startsWith('← '));
    expect(final).toHaveLength(1);
    expect(final[0]).toMatch(/^← stream \(finished after \d+ polls, \d+ bytes\): 段1 段2 段3 $/);
    expect(polls - before).toBeGreaterThanOrEqual(4);
    expect(run.stdout).not.toContain(AIBOT.encodingAESKey);
  });

  it('prints the welcome, a card update, a group message, and the rest of a long answer sent to response_url', async () => {
    const [welcome, card, group, long] = await Promise.all([
      wxbot([...aibotFlags(), '--type', 'event']),
      wxbot([...aibotFlags(), '--type', 'event', 'template_card_event', 'btn-ok', 'task-7']),
      wxbot([...aibotFlags(), '--chat', 'chat-1', '@Bot', 'hello', 'group']),
      wxbot([...aibotFlags(), '--fake-api', '--wait', '1500', 'long']),
    ]);
    expect(welcome.stdout).toContain('sent event: enter_chat');
    expect(welcome.stdout).toContain('← text: 欢迎!');
    expect(card.stdout).toContain('← update_template_card: button_interaction "已选 btn-ok" task_id=task-7');
    expect(group.stdout).toContain('in group chat-1');
    expect(group.stdout).toMatch(/← stream \(finished after 0 polls, \d+ bytes\): hello group/);
    // 7000 × 3 bytes: 20480 in the stream (6826 whole characters), the rest once through response_url.
    expect(long.stdout).toContain('fake WeCom API: http://127.0.0.1:');
    expect(long.stdout).toMatch(/← stream \(finished after 0 polls, 20478 bytes\): 长+/);
    expect(long.stdout).toContain(`→ active: markdown: ${'长'.repeat(7000 - 6826)}  (aibot response_url)`);
    for (const run of [welcome, card, group, long]) expect(run.code).toBe(0);
  });

  it('refuses what the AI bot has no such thing as', async () => {
    const location = await wxbot([...aibotFlags(), '--type', 'location']);
    expect(location.code).toBe(2);
    expect(location.stderr).toContain('the WeCom AI bot takes --type text, image, voice, event');
    const wrongToken = await wxbot([...aibotFlags(), '--token', 'nope', 'hi']);
    expect(wrongToken.code).toBe(1);
    expect(wrongToken.stderr).toContain('HTTP 401');
  });
});

function freePort(): Promise<number> {
  const server = createServer();
  return new Promise((done) =>
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => done(port));
    }),
  );
}

function close(server: Server): Promise<void> {
  return new Promise((done) => server.close(() => done()));
}
