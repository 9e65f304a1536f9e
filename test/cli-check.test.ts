import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { shouldRunRedisTests } from '@wxbot/testing';
import { createProject } from '../packages/create-wxbot/src/index.ts';

const root = resolve(import.meta.dirname, '..');
const bin = join(root, 'packages/cli/bin/wxbot.mjs');
const core = JSON.stringify(join(root, 'packages/core/src/index.ts'));
const echoPlugin = JSON.stringify(join(root, 'plugins/echo/src/index.ts'));
const redis = JSON.stringify(join(root, 'packages/redis/src/index.ts'));
const keywordPlugin = JSON.stringify(join(root, 'plugins/keyword/src/index.ts'));

// Configs live outside the repository (so concurrent typechecks never see them) and import the
// workspace packages by absolute path; type=module makes tsx load the .ts files as ESM.
const dir = mkdtempSync(join(tmpdir(), 'wxbot-check-'));
writeFileSync(join(dir, 'package.json'), '{ "type": "module" }\n');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const SECRETS = {
  oaToken: 'checkOaToken42',
  oaKey: 'abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG',
  oaSecret: 'oa-app-secret-value',
  appToken: 'checkAppToken42',
  appKey: 'jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C',
  appSecret: 'wecom-app-secret-value',
  aibotSecret: 'aibot-ws-secret-value',
};

function writeConfig(name: string, body: string): string {
  const file = join(dir, name);
  writeFileSync(
    file,
    `import { defineConfig, officialAccount, wecomAiBot, wecomApp, wecomKf } from ${core};
import { RedisStore } from ${redis};
import { echo } from ${echoPlugin};
${body}
`,
  );
  return file;
}

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function check(args: string[], options: { cwd?: string; env?: Record<string, string>; baseEnv?: NodeJS.ProcessEnv } = {}): Promise<Run> {
  const child = spawn(process.execPath, [bin, 'check', ...args], { cwd: options.cwd ?? dir, env: { ...(options.baseEnv ?? process.env), ...options.env } });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk));
  return new Promise((done) => child.on('close', (code) => done({ code, stdout, stderr })));
}

const goodChannels = `[
    officialAccount({ appId: 'wx-check', appSecret: '${SECRETS.oaSecret}', token: '${SECRETS.oaToken}', encodingAESKey: '${SECRETS.oaKey}' }),
    wecomApp({ name: 'corp-app', corpId: 'ww-check', agentId: 1000002, secret: '${SECRETS.appSecret}', token: '${SECRETS.appToken}', encodingAESKey: '${SECRETS.appKey}' }),
    wecomAiBot({ token: '${SECRETS.appToken}', encodingAESKey: '${SECRETS.appKey}' }),
    wecomAiBot({ name: 'aibot-ws', path: '/aibot-ws', botId: 'aib-check', secret: '${SECRETS.aibotSecret}' }),
  ]`;

describe('wxbot check', () => {
  it('passes a good config, one line per check, without printing a secret', async () => {
    const file = writeConfig('good.config.ts', `export default defineConfig({ channels: ${goodChannels}, plugins: [echo()] });`);
    const run = await check(['--config', file]);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('✓ config loads: good.config.ts');
    expect(run.stdout).toContain('✓ channel names are unique');
    expect(run.stdout).toContain('✓ channel paths are unique');
    expect(run.stdout).toContain('✓ channel "corp-app": EncodingAESKey is 43 characters and decodes to 32 bytes');
    expect(run.stdout).toContain('✓ channel "officialAccount": appSecret set');
    expect(run.stdout).toContain('✓ channel "wecomAiBot": EncodingAESKey is 43 characters and decodes to 32 bytes');
    expect(run.stdout).toContain('✓ channel "aibot-ws": WebSocket mode: bot id and secret set (wss://openws.work.weixin.qq.com)');
    expect(run.stdout).toContain('✓ channel "wecomAiBot": answers later than the 4 s reply window go once through the message\'s response_url');
    expect(run.stdout).toContain('✓ plugins: echo');
    expect(run.stdout).toMatch(/\d+ passed, 0 warnings, 0 failed/);
    expect(run.stdout).not.toContain('✗');
    for (const secret of Object.values(SECRETS)) expect(run.stdout + run.stderr).not.toContain(secret);
  });

  it('fails a key of the wrong length, naming the channel', async () => {
    const badKey = SECRETS.appKey.slice(0, 42);
    const file = writeConfig(
      'bad-key.config.ts',
      `export default defineConfig({\n  channels: [\n    wecomApp({ name: 'corp-app', corpId: 'ww-check', token: 'tok', encodingAESKey: '${badKey}' }),\n  ],\n});`,
    );
    const run = await check(['--config', file]);
    expect(run.code).toBe(1);
    // The line of the config that built the channel, then what is wrong.
    expect(run.stdout).toMatch(/✗ config loads: bad-key\.config\.ts:\d+: channel "corp-app" \(wecomApp\): EncodingAESKey must be 43 base64 characters/);
    expect(run.stdout).not.toContain(badKey);
  });

  it('fails an unreachable RedisStore with the reason, quickly', async () => {
    const file = writeConfig('redis.config.ts', `export default defineConfig({ channels: ${goodChannels}, store: new RedisStore({ url: 'redis://:hunter2@127.0.0.1:1' }) });`);
    const started = Date.now();
    const run = await check(['--config', file]);
    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(/✗ store: RedisStore at 127\.0\.0\.1:1 is unreachable: connect ECONNREFUSED/);
    expect(run.stdout).toContain('✗ durable delivery: on, but its Redis at 127.0.0.1:1 is unreachable: a running bot would deliver from its own memory');
    expect(run.stdout).not.toContain('hunter2');
    expect(Date.now() - started).toBeLessThan(15_000);
  });

  it('says whether delivery is durable: Redis reachable, its queues, the workers', async () => {
    const prefix = `wxbot-test:check-${process.pid}-${Date.now()}:`;
    const redisStore = (durable: string) => `new RedisStore({ url: 'redis://127.0.0.1:6379', prefix: '${prefix}', durable: ${durable} })`;
    const configs = {
      memory: `export default defineConfig({ channels: ${goodChannels} });`,
      durable: `export default defineConfig({ channels: ${goodChannels}, store: ${redisStore('{}')} });`,
      tuned: `export default defineConfig({ channels: ${goodChannels}, store: ${redisStore('{ concurrency: 4 }')}, workers: false });`,
      off: `export default defineConfig({ channels: ${goodChannels}, store: ${redisStore('false')} });`,
    };
    const runs = await Promise.all(Object.entries(configs).map(([name, body]) => check(['--config', writeConfig(`delivery-${name}.config.ts`, body)])));
    const [memory, durable, tuned, off] = runs.map((r) => r.stdout);
    expect(memory).toContain('✓ delivery: in process memory (no Redis): a crash loses replies not yet sent');
    if (!(await shouldRunRedisTests('wxbot check: durable delivery'))) return;
    expect(runs.map((r) => r.code)).toEqual([0, 0, 0, 0]);
    expect(durable).toContain(
      '✓ durable delivery: on (Redis at 127.0.0.1:6379): queues inbound (waiting 0, active 0, delayed 0, failed 0), outbox-officialAccount (waiting 0, active 0, delayed 0, failed 0), outbox-corp-app (waiting 0, active 0, delayed 0, failed 0)',
    );
    expect(durable).toContain('✓ queue workers: each `wxbot start` runs 16 jobs at a time per queue');
    expect(tuned).toContain('✓ durable delivery: on (Redis at 127.0.0.1:6379): queues inbound');
    expect(tuned).toContain('⚠ queue workers: off in `wxbot start` (workers: false): run `wxbot worker` somewhere');
    expect(off).toContain('✓ delivery: in process memory: the store is on Redis but durable delivery is off (RedisStore durable: false)');
    expect(off).not.toContain('durable delivery: on');
  }, 90_000); // four wxbot processes at once on a loaded machine

  it('fails duplicate paths, a missing receive id and a voice plugin without ffmpeg; warns about missing secrets', async () => {
    const file = writeConfig(
      'mixed.config.ts',
      `export default defineConfig({
  channels: [
    officialAccount({ name: 'a', appId: 'wx-a', token: 'tokenA1', encodingAESKey: '${SECRETS.oaKey}' }),
    officialAccount({ name: 'b', appId: '', token: 'tokenB1', encodingAESKey: '${SECRETS.oaKey}' }),
  ],
  plugins: [{ name: 'voice', tools: ['ffmpeg'], setup() {} }],
});`,
    );
    const run = await check(['--config', file], { env: { PATH: dir } }); // a PATH without ffmpeg
    expect(run.code).toBe(1);
    expect(run.stdout).toContain('✗ channel paths: /wx used twice');
    expect(run.stdout).toContain('✓ channel names are unique');
    expect(run.stdout).toContain('✗ channel "b": appId is empty');
    expect(run.stdout).toContain('⚠ channel "a": no appSecret: answers later than the 4 s reply window');
    expect(run.stdout).toContain('✗ ffmpeg: not found on PATH (plugin "voice" needs it');
    expect(run.stdout).toContain('✓ delivery: in process memory (no Redis)');
    expect(run.stdout).toMatch(/\d+ passed, 2 warnings, 3 failed/);
  });

  it('reports a plugin option error and a config with no channel', async () => {
    const noChannel = writeConfig('empty.config.ts', 'export default defineConfig({ channels: [] });');
    const [badOption, empty] = await Promise.all([check(['--config', join(root, 'test/fixtures/bad-option.config.ts')]), check(['--config', noChannel])]);
    expect(badOption.code).toBe(1);
    expect(badOption.stdout).toMatch(/✗ config loads: \S*bad-option\.config\.ts:7: plugin "echo": option "types\.0"/);
    expect(empty.code).toBe(1);
    expect(empty.stdout).toContain('✗ channels: none configured');
  });

  it("warns about an error a plugin logs in setup (keyword's missing rule file), which start would only log", async () => {
    const file = writeConfig(
      'missing-rules.config.ts',
      `import { keyword } from ${keywordPlugin};
export default defineConfig({ channels: ${goodChannels}, plugins: [keyword({ rulesFile: 'no-such-faq.yaml', handoffWords: [] }), echo()] });`,
    );
    const run = await check(['--config', file]);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('⚠ plugin "keyword" logged an error in setup: cannot load rule file no-such-faq.yaml: no such file');
    expect(run.stdout).toContain('✓ plugin setup: keyword, echo');
  });

  it('names the environment variable of each setting a project made by create-wxbot reads from its .env', async () => {
    const project = await createProject(join(dir, 'made-bot'));
    // The workspace's packages (and the @wxbot/source condition the bin registers) stand in for npm install.
    symlinkSync(join(root, 'node_modules'), join(project.dir, 'node_modules'), 'dir');
    // The runner's own settings must not leak in: dotenv never overrides a variable already set.
    const baseEnv = Object.fromEntries(Object.entries(process.env).filter(([name]) => !/^(WX_|WECOM_|OPENAI_|AGENT_TOKEN|REDIS_URL|FAQ_FILE|PORT|LOG_)/.test(name)));
    const example = readFileSync(join(project.dir, '.env.example'), 'utf8');
    const dotEnv = (values: Record<string, string>) =>
      writeFileSync(
        join(project.dir, '.env'),
        example.replace(/^(\w+)=$/gm, (line, name: string) => (name in values ? `${name}=${values[name]}` : line)),
      );

    // Half filled: a key without the token it needs is an error naming the missing variable.
    dotEnv({ WX_APP_ID: 'wx-made', WX_AES_KEY: SECRETS.oaKey });
    const half = await check([], { cwd: project.dir, baseEnv });
    expect(half.code).toBe(1);
    expect(half.stdout).toContain('✗ environment: WX_TOKEN: missing: WX_APP_ID and WX_AES_KEY are set, so the Official Account channel needs it');

    // A token alone is plain mode: what is still empty is named by its variable.
    dotEnv({ WX_TOKEN: SECRETS.oaToken });
    const plain = await check([], { cwd: project.dir, baseEnv });
    expect(plain.code).toBe(0);
    expect(plain.stdout).toContain('✓ channel "officialAccount": token (WX_TOKEN) set');
    expect(plain.stdout).toContain('⚠ channel "officialAccount": no EncodingAESKey (WX_AES_KEY): plain mode only');
    expect(plain.stdout).toContain('⚠ channel "officialAccount": appId (WX_APP_ID) is empty (needed once you use safe mode or the API)');
    expect(plain.stdout).toContain('⚠ channel "officialAccount": no appSecret (WX_APP_SECRET): answers later than the 4 s reply window');
    expect(plain.stdout).not.toContain(SECRETS.oaToken);
  });

  it('names the variables of channel options a config spread from envConfig(), and not those it changed', async () => {
    const file = writeConfig(
      'spread.config.ts',
      `import { envConfig } from ${core};
const env = envConfig();
export default defineConfig({ channels: [officialAccount({ ...env.officialAccount!, name: 'shop', path: '/shop', appId: 'wx-own' })] });`,
    );
    const baseEnv = Object.fromEntries(Object.entries(process.env).filter(([name]) => !/^(WX_|WECOM_)/.test(name)));
    const run = await check(['--config', file], { baseEnv, env: { WX_TOKEN: SECRETS.oaToken, WX_APP_ID: 'wx-env' } });
    expect(run.stdout).toContain('✓ channel "shop": token (WX_TOKEN) set');
    expect(run.stdout).toContain('⚠ channel "shop": no EncodingAESKey (WX_AES_KEY): plain mode only');
    // Its own appId, not WX_APP_ID's: named as the option only.
    expect(run.stdout).toContain('✓ channel "shop": appId set');
  });

  it('warns, without failing, when the config runs in dev mode, and prints no generated credential', async () => {
    const cwd = mkdtempSync(join(tmpdir(), 'wxbot-check-dev-'));
    try {
      const run = await check(['--config', join(root, 'bot.config.ts')], { cwd, env: { WX_TOKEN: '', WECOM_TOKEN: '' } });
      expect(run.code).toBe(0);
      expect(run.stdout).toContain('⚠ dev mode: the credentials were generated');
      const dev = JSON.parse(readFileSync(join(cwd, '.wxbot/dev.json'), 'utf8')) as { token: string; encodingAESKey: string };
      expect(run.stdout).not.toContain(dev.token);
      expect(run.stdout).not.toContain(dev.encodingAESKey);
    } finally {
      rmSync(cwd, { recursive: true, force: true });
    }
  });
});
