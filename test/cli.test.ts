import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { AiBotPeer, WeChatPeer } from '@wxbot/testing';

/** The default bot's last resort, for a text nothing answered (no LLM configured). */
const NOT_UNDERSTOOD = '抱歉，我没听懂您的意思。您可以问我：营业时间、价格、发货和快递、退款、发票、优惠活动。需要人工服务请回复“人工”。';

const root = resolve(import.meta.dirname, '..');
const bin = join(root, 'packages/cli/bin/wxbot.mjs');
const children: ChildProcess[] = [];
afterAll(() => {
  for (const c of children) c.kill('SIGTERM');
});

/** Starts `wxbot start` as a user would and resolves with its URL once it listens. */
function startBot(args: string[], env: Record<string, string>, cwd = root): Promise<{ url: string; output: () => string }> {
  const child = spawn(process.execPath, [bin, 'start', '--port', '0', ...args], { cwd, env: { ...process.env, ...env } });
  children.push(child);
  let output = '';
  return new Promise((resolvePromise, reject) => {
    const onData = (chunk: Buffer) => {
      output += chunk;
      const match = /"url":"(http:\/\/127\.0\.0\.1:\d+)","msg":"wxbot started"/.exec(output);
      if (match) resolvePromise({ url: match[1]!, output: () => output });
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
    expect((await oa.text('/help')).reply?.['Content']).toMatch(/命令/);
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
    try {
      const { url, output } = await startBot(['--config', join(root, 'bot.config.ts')], { WX_TOKEN: '', WECOM_TOKEN: '', WECOM_KF_SECRET: '', LOG_FORMAT: 'json' }, cwd);
      const token = /token\s+(\S+)/.exec(output())![1]!;
      const key = /encodingAESKey\s+(\S+)/.exec(output())![1]!;
      const peer = new WeChatPeer({ url: `${url}/wecom/callback`, kind: 'wecomApp', token, encodingAESKey: key, receiveId: 'wwdev0000000000000' });
      expect((await peer.text('dev mode echo')).reply).toMatchObject({ Content: NOT_UNDERSTOOD });
      expect(output()).toMatch(/wecomAiBot\s+http:\S+\/wecom\/aibot/);
      const aibot = new AiBotPeer({ url: `${url}/wecom/aibot`, token, encodingAESKey: key });
      expect((await aibot.text('dev mode AI bot')).first.reply).toMatchObject({ stream: { content: NOT_UNDERSTOOD } });
    } finally {
      rmSync(cwd, { recursive: true, force: true });
    }
  });

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
  });

  it('keygen prints a 43-character key that decodes to 32 bytes', () => {
    const result = spawnSync(process.execPath, [bin, 'keygen'], { encoding: 'utf8' });
    const key = /EncodingAESKey:\s+(\S+)/.exec(result.stdout)![1]!;
    expect(key).toHaveLength(43);
    expect(Buffer.from(`${key}=`, 'base64')).toHaveLength(32);
  });
});
