import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createServer } from 'node:net';
import { AiBotPeer, WeChatPeer } from '@wxbot/testing';
import { WebSocket } from 'ws';

/** The default bot's last resort, for a text nothing answered (no LLM configured). */
const NOT_UNDERSTOOD = '抱歉，我没听懂您的意思。您可以问我：营业时间、价格、发货和快递、退款、发票、优惠活动。需要人工服务请回复“人工”。';

const root = resolve(import.meta.dirname, '..');
const bin = join(root, 'packages/cli/bin/wxbot.mjs');
const children: ChildProcess[] = [];
afterAll(() => {
  for (const c of children) c.kill('SIGTERM');
});

/** Starts `wxbot start` as a user would and resolves with its URL once it listens. */
function startBot(args: string[], env: Record<string, string>, cwd = root): Promise<{ url: string; output: () => string; child: ChildProcess }> {
  const child = spawn(process.execPath, [bin, 'start', '--port', '0', ...args], { cwd, env: { ...process.env, ...env } });
  children.push(child);
  let output = '';
  return new Promise((resolvePromise, reject) => {
    const onData = (chunk: Buffer) => {
      output += chunk;
      const match = /"url":"(http:\/\/127\.0\.0\.1:\d+)","msg":"wxbot started"/.exec(output);
      if (match) resolvePromise({ url: match[1]!, output: () => output, child });
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('exit', (code) => reject(new Error(`wxbot exited with ${code}: ${output}`)));
  });
}

describe('wxbot CLI', () => {
  it('starts the root bot.config.ts from environment variables and answers on both channels', async () => {
    const env = {
      WX_APP_ID: 'wx-cli-app',
      WX_TOKEN: 'cli-oa-token',
      WX_AES_KEY: 'abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG',
      WECOM_CORP_ID: 'ww-cli-corp',
      WECOM_TOKEN: 'cli-wecom-token',
      WECOM_AES_KEY: 'jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C',
      AGENT_TOKEN: 'cli-agent-token-0123456789',
      WECOM_AIBOT_TOKEN: 'cliAibotToken',
      WECOM_AIBOT_AES_KEY: 'Zm9vYmFyZm9vYmFyZm9vYmFyZm9vYmFyZm9vYmFyMDE',
    };
    const { url, output } = await startBot([], env);
    const oa = new WeChatPeer({ url: `${url}/wx`, kind: 'officialAccount', token: env.WX_TOKEN, encodingAESKey: env.WX_AES_KEY, receiveId: env.WX_APP_ID });
    expect((await oa.verify()).status).toBe(200);
    // The default chain: the sample FAQ file answers; what nothing answers gets "没听懂" (no echo).
    expect((await oa.text('营业时间是什么时候')).reply?.['Content']).toMatch(/营业时间/);
    expect((await oa.text('echo this back')).reply).toMatchObject({ Content: NOT_UNDERSTOOD });
    // /help lists the root bot's commands; /faq names the FAQ's questions (/human: in the dev-mode test, whose cwd is a temporary one).
    const help = String((await oa.text('/help')).reply?.['Content']);
    expect(help).toContain('可用命令：');
    expect(help).toContain('/faq /问题 — 看看我能回答哪些问题');
    expect(help).toContain('/human /人工 — 转人工客服');
    expect((await oa.text('/faq')).reply?.['Content']).toMatch(/^您可以问我：\n1\. 你们几点开门\n/);
    expect((await oa.text('/frobnicate')).reply).toMatchObject({ Content: '没有 /frobnicate 这个命令。发送 /help 查看可用命令。' });
    const wecom = new WeChatPeer({ url: `${url}/wecom/callback`, kind: 'wecomApp', token: env.WECOM_TOKEN, encodingAESKey: env.WECOM_AES_KEY, receiveId: env.WECOM_CORP_ID });
    expect((await wecom.text('echo on wecom')).reply).toMatchObject({ Content: NOT_UNDERSTOOD });
    const aibot = new AiBotPeer({ url: `${url}/wecom/aibot`, token: env.WECOM_AIBOT_TOKEN, encodingAESKey: env.WECOM_AIBOT_AES_KEY });
    expect((await aibot.text('echo on the AI bot')).first.reply).toMatchObject({ msgtype: 'stream', stream: { finish: true, content: NOT_UNDERSTOOD } });
    expect(output()).toContain('"channel":"officialAccount"');
    expect(output()).not.toContain(env.WECOM_AIBOT_AES_KEY);
    expect(output()).not.toContain(env.WX_TOKEN);
    expect(output()).not.toContain(env.WECOM_AES_KEY);
    expect(output()).not.toContain('DEV MODE');
    // AGENT_TOKEN turns on the hand-off console.
    const consolePage = await fetch(`${url}/agent/`);
    expect(consolePage.status).toBe(200);
    // Its canned replies are the FAQ file's answers.
    const page = await consolePage.text();
    expect(page).toContain('"label":"你们几点开门","text":"营业时间：每天 9:00–21:00，节假日照常营业。"');
    expect(output()).not.toContain(env.AGENT_TOKEN);
  });

  it('runs in dev mode with generated credentials when no channel is configured', async () => {
    const cwd = mkdtempSync(join(tmpdir(), 'wxbot-dev-'));
    let bot: ChildProcess | undefined;
    try {
      const { url, output, child } = await startBot(['--config', join(root, 'bot.config.ts')], { WX_TOKEN: '', WECOM_TOKEN: '', WECOM_KF_SECRET: '', LOG_FORMAT: 'json' }, cwd);
      bot = child;
      const token = /token\s+(\S+)/.exec(output())![1]!;
      const key = /encodingAESKey\s+(\S+)/.exec(output())![1]!;
      const peer = new WeChatPeer({ url: `${url}/wecom/callback`, kind: 'wecomApp', token, encodingAESKey: key, receiveId: 'wwdev0000000000000' });
      expect((await peer.text('dev mode echo')).reply).toMatchObject({ Content: NOT_UNDERSTOOD });
      expect(output()).toMatch(/wecomAiBot\s+http:\S+\/wecom\/aibot/);
      const aibot = new AiBotPeer({ url: `${url}/wecom/aibot`, token, encodingAESKey: key });
      expect((await aibot.text('dev mode AI bot')).first.reply).toMatchObject({ stream: { content: NOT_UNDERSTOOD } });
      // /human hands the conversation to the agent console dev mode turns on (its hold is kept in this cwd's .wxbot/).
      expect((await peer.text('/human')).reply).toMatchObject({ Content: '正在为您转接人工客服，请稍候。' });
    } finally {
      // Stopped first: it writes its hand-off state into the directory until it exits.
      if (bot && bot.exitCode === null) {
        const exited = new Promise((done) => bot!.once('exit', done));
        bot.kill('SIGTERM');
        await exited;
      }
      rmSync(cwd, { recursive: true, force: true });
    }
  });

  it('dev mode: an agent signs in with the printed console link and answers a user of `wxbot simulate --fake-api` end to end', async () => {
    const cwd = mkdtempSync(join(tmpdir(), 'wxbot-dev-agent-'));
    let bot: ChildProcess | undefined;
    try {
      const apiPort = await freePort();
      // Dev mode's active sends go to WX_API_BASE (default 127.0.0.1:4000), where simulate's fake API listens.
      const env = { WX_TOKEN: '', WECOM_TOKEN: '', WECOM_KF_SECRET: '', AGENT_TOKEN: '', LOG_FORMAT: 'json', WX_API_BASE: `http://127.0.0.1:${apiPort}` };
      const config = join(root, 'bot.config.ts');
      const { url, output, child } = await startBot(['--config', config], env, cwd);
      bot = child;
      const link = /agent console\s+(http:\S+\/agent\/\?token=(\w+))/.exec(output());
      expect(link, output()).not.toBeNull();
      const token = link![2]!;
      expect(output()).toContain(`WeChat API      http://127.0.0.1:${apiPort} (wxbot simulate --fake-api)`);
      expect((await fetch(link![1]!)).status).toBe(200);

      // The user asks for a person; simulate keeps its fake API up for the agent's answer.
      const port = new URL(url).port;
      const simulate = spawn(process.execPath, [bin, 'simulate', '--config', config, '--port', port, '--fake-api', '--wait', '60000', '人工'], {
        cwd,
        env: { ...process.env, ...env },
      });
      children.push(simulate);
      let simulated = '';
      const printed = (text: string) =>
        new Promise<void>((done, fail) => {
          const check = () => simulated.includes(text) && done();
          simulate.stdout.on('data', (chunk: Buffer) => {
            simulated += chunk;
            check();
          });
          simulate.on('exit', () => fail(new Error(`simulate exited before printing "${text}":\n${simulated}`)));
          check();
        });
      await printed('← text: 正在为您转接人工客服');
      expect(simulated).toContain(`fake WeChat API: http://127.0.0.1:${apiPort}  (the config's apiBaseUrl: the bot sends there)`);

      const agent = new WebSocket(`${url.replace('http', 'ws')}/agent/ws`, { headers: { authorization: `Bearer ${token}` } });
      const frames: Record<string, unknown>[] = [];
      const frame = (type: string) =>
        new Promise<Record<string, unknown>>((done) => {
          const found = () => frames.find((f) => f['type'] === type);
          if (found()) return done(found()!);
          agent.on('message', () => found() && done(found()!));
        });
      agent.on('message', (data) => frames.push(JSON.parse(String(data)) as Record<string, unknown>));
      const hello = await frame('hello');
      // The passive answer goes back before the hand-off is recorded: it may come after the hello.
      const conversation = ((hello['conversations'] as { id: string; status: string }[])[0] ?? (await frame('conversation.opened'))['conversation']) as {
        id: string;
        status: string;
      };
      expect(conversation).toMatchObject({ id: 'officialAccount//user-1', status: 'waiting' });
      agent.send(JSON.stringify({ type: 'reply', id: 'r1', conversationId: conversation.id, text: '您好，我是人工客服' }));
      expect(await frame('ack')).toMatchObject({ id: 'r1' });
      await printed('→ active: text: 您好，我是人工客服  (message/custom/send to user-1)');
      agent.close();
      simulate.kill('SIGTERM');
    } finally {
      // Stopped first: the hand-off plugin keeps its state file in the directory.
      if (bot && bot.exitCode === null) await new Promise((done) => bot!.once('exit', done).kill('SIGTERM'));
      rmSync(cwd, { recursive: true, force: true });
    }
  }, 60_000);

  it('stops start-up with a message naming the plugin and option when an option is wrong', () => {
    const result = spawnSync(process.execPath, [bin, 'start', '--config', 'test/fixtures/bad-option.config.ts'], { cwd: root, encoding: 'utf8' });
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(/plugin "echo": option "types\.0"/);
  });

  it('--concurrency without durable queues is wrong usage (exit 2), not silently ignored', () => {
    const cwd = mkdtempSync(join(tmpdir(), 'wxbot-concurrency-'));
    const env = { ...process.env, REDIS_URL: '', WX_TOKEN: '', WECOM_TOKEN: '', WECOM_KF_SECRET: '', LOG_FORMAT: 'json' };
    const wxbot = (...args: string[]) => spawnSync(process.execPath, [bin, ...args], { cwd, env, encoding: 'utf8', timeout: 30_000 });
    const config = ['--config', join(root, 'bot.config.ts')];
    try {
      const start = wxbot('start', ...config, '--port', '0', '--concurrency', '4');
      expect(start.status).toBe(2);
      expect(start.stderr).toContain("wxbot start: --concurrency sizes the durable queues' workers, and this bot has none");
      expect(start.stderr).toContain('set REDIS_URL');
      expect(start.stdout).not.toContain('wxbot started');

      const badNumber = wxbot('worker', ...config, '--concurrency', 'many');
      expect(badNumber.status).toBe(2);
      expect(badNumber.stderr).toContain('wxbot worker: --concurrency must be a positive whole number, not "many"');
      expect(wxbot('worker', '--bogus').status).toBe(2);

      const noQueue = wxbot('worker', ...config, '--concurrency', '2');
      expect(noQueue.status).toBe(1);
      expect(noQueue.stderr).toContain('wxbot worker: this bot has no durable queue');
      expect(noQueue.stderr).toContain('set REDIS_URL');

      expect(wxbot('queue', ...config, 'purge').status).toBe(2);
    } finally {
      rmSync(cwd, { recursive: true, force: true });
    }
  }, 60_000);

  it('keygen prints a 43-character key that decodes to 32 bytes', () => {
    const result = spawnSync(process.execPath, [bin, 'keygen'], { encoding: 'utf8' });
    const key = /EncodingAESKey:\s+(\S+)/.exec(result.stdout)![1]!;
    expect(key).toHaveLength(43);
    expect(Buffer.from(`${key}=`, 'base64')).toHaveLength(32);
  });
});

/** A port nothing listens on right now. */
function freePort(): Promise<number> {
  const server = createServer();
  return new Promise((done) =>
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => done(port));
    }),
  );
}
