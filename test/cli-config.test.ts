/**
 * Everyday CLI use: a half-configured environment, the port rule, configs that do not load,
 * usage and --help, plugin option typos. Each test runs the real `wxbot` process.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { WeChatPeer } from '@wxbot/testing';
import { repoRoot, runWxbot, spawnWxbot, stopWxbot, type WxbotProcess } from './support/wxbotProcess.ts';

const core = JSON.stringify(join(repoRoot, 'packages/core/src/index.ts'));
const echoPlugin = JSON.stringify(join(repoRoot, 'plugins/echo/src/index.ts'));
const keywordPlugin = JSON.stringify(join(repoRoot, 'plugins/keyword/src/index.ts'));
const defaultConfig = join(repoRoot, 'bot.config.ts');
const KEY = 'abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG';

// Configs live outside the repository (concurrent typechecks never see them) and import the
// workspace by absolute path.
const dir = mkdtempSync(join(tmpdir(), 'wxbot-config-'));
writeFileSync(join(dir, 'package.json'), '{ "type": "module" }\n');
// Each test runs real processes: on a busy machine one takes seconds to start.
const running: WxbotProcess[] = [];
afterAll(async () => {
  await Promise.all(running.map((p) => stopWxbot(p.child)));
  rmSync(dir, { recursive: true, force: true });
});

function writeConfig(name: string, body: string): string {
  const file = join(dir, name);
  writeFileSync(file, `import { defineConfig, officialAccount } from ${core};\nimport { echo } from ${echoPlugin};\nimport { keyword } from ${keywordPlugin};\n${body}\n`);
  return file;
}

/** Every variable the default config reads, unset: the test runner's own environment must not leak in. */
const CLEAN_ENV = Object.fromEntries(
  [
    'WX_APP_ID',
    'WX_APP_SECRET',
    'WX_TOKEN',
    'WX_AES_KEY',
    'WECOM_CORP_ID',
    'WECOM_AGENT_ID',
    'WECOM_SECRET',
    'WECOM_TOKEN',
    'WECOM_AES_KEY',
    'WECOM_KF_SECRET',
    'WECOM_KF_TOKEN',
    'WECOM_KF_AES_KEY',
    'OPENAI_API_KEY',
    'OPENAI_BASE_URL',
    'WECOM_AIBOT_TOKEN',
    'WECOM_AIBOT_AES_KEY',
    'WECOM_AIBOT_ID',
    'AGENT_TOKEN',
    'REDIS_URL',
    'PORT',
  ].map((name) => [name, '']),
);

/** A port nothing listens on right now. */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const { port } = server.address() as { port: number };
  await new Promise((done) => server.close(done));
  return port;
}

const oaConfig = `export default defineConfig({ channels: [officialAccount({ appId: 'wx-port', token: 'portToken1' })], plugins: [echo()] });`;

describe('wxbot configuration errors', { timeout: 90_000 }, () => {
  it('a half-configured channel in the environment is an error naming the variable, never dev mode; check exits 1', async () => {
    const env = { ...CLEAN_ENV, WX_APP_ID: 'wx-half', WX_AES_KEY: KEY, WECOM_TOKEN: 'wecomTok1', WECOM_AES_KEY: KEY };
    const [start, check] = await Promise.all([
      runWxbot(['start', '--config', defaultConfig, '--port', '0'], { env, cwd: dir }),
      runWxbot(['check', '--config', defaultConfig], { env, cwd: dir }),
    ]);
    expect(start.code).toBe(1);
    expect(start.stderr).toContain('WX_TOKEN: missing: WX_APP_ID and WX_AES_KEY are set, so the Official Account channel needs it');
    expect(start.stderr).toContain('WECOM_CORP_ID: missing: WECOM_TOKEN and WECOM_AES_KEY are set, so the WeCom app channel needs it');
    expect(start.stdout + start.stderr).not.toContain('DEV MODE');
    expect(check.code).toBe(1);
    expect(check.stdout).toContain('✗ environment: WX_TOKEN: missing');
    expect(check.stdout).toContain('✗ environment: WECOM_CORP_ID: missing');
    expect(check.stdout + check.stderr).not.toContain(KEY);
  });

  it('a config without a default export says so', async () => {
    const file = join(dir, 'bot.config.ts');
    writeFileSync(file, 'export const config = { channels: [] };\n');
    const run = await runWxbot(['start'], { cwd: dir });
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('wxbot: bot.config.ts has no default export');
    rmSync(file);
  });

  it('a config in a CommonJS package (npm init -y) says to set "type": "module" instead of failing inside tsx', async () => {
    const cjs = mkdtempSync(join(tmpdir(), 'wxbot-cjs-'));
    try {
      writeFileSync(join(cjs, 'package.json'), '{ "name": "newbot", "type": "commonjs" }\n');
      const body = `import { defineConfig } from ${core};\nexport default defineConfig({ channels: [] });\n`;
      writeFileSync(join(cjs, 'bot.config.ts'), body);
      writeFileSync(join(cjs, 'wxbot.config.js'), body);
      const [ts, js] = await Promise.all([runWxbot(['start'], { cwd: cjs }), runWxbot(['check', '--config', 'wxbot.config.js'], { cwd: cjs })]);
      expect(ts.code).toBe(1);
      expect(ts.stderr).toContain(
        `wxbot: bot.config.ts would load as CommonJS, which cannot import wxbot's packages (ES modules only): ${join(cjs, 'package.json')} does not say "type": "module"`,
      );
      expect(ts.stderr).toContain('Run `npm pkg set type=module` in the project, or name the config bot.config.mts');
      expect(js.code).toBe(1);
      expect(js.stdout).toContain('wxbot.config.js would load as CommonJS');
      expect(js.stdout).toContain('or name the config wxbot.config.mjs');

      // Written for CommonJS: require() of a package that only has an "import" export.
      symlinkSync(join(repoRoot, 'node_modules'), join(cjs, 'node_modules'), 'dir');
      writeFileSync(join(cjs, 'required.config.js'), "const { defineConfig } = require('@wxbot/core');\nmodule.exports = defineConfig({ channels: [] });\n");
      const required = await runWxbot(['check', '--config', 'required.config.js'], { cwd: cjs });
      expect(required.code).toBe(1);
      expect(required.stdout).toContain("✗ config loads: required.config.js require()s a wxbot package, and wxbot's packages are ES modules only");

      // A bot.config.mts loads as an ES module in any package, but a plugin's .ts it imports does
      // not: the message names that file, and no second report of the error (Node leaves it on a
      // promise nobody can handle) ends the process with a stack before the message is said.
      mkdirSync(join(cjs, 'plugins'));
      writeFileSync(join(cjs, 'plugins', 'greet.ts'), "import { definePlugin } from '@wxbot/core';\nexport const greet = definePlugin({ name: 'greet', setup() {} });\n");
      writeFileSync(
        join(cjs, 'bot.config.mts'),
        "import { defineConfig } from '@wxbot/core';\nimport { greet } from './plugins/greet.ts';\nexport default defineConfig({ channels: [], plugins: [greet()] });\n",
      );
      const [mtsStart, mtsCheck] = await Promise.all([
        runWxbot(['start', '--config', 'bot.config.mts'], { cwd: cjs }),
        runWxbot(['check', '--config', 'bot.config.mts'], { cwd: cjs }),
      ]);
      const advice = `bot.config.mts imports ${join('plugins', 'greet.ts')}, which loads as CommonJS and so cannot import wxbot's packages (ES modules only): ${join(cjs, 'package.json')} does not say "type": "module"`;
      expect(mtsStart.code).toBe(1);
      expect(mtsStart.stderr).toContain(`wxbot: ${advice}`);
      expect(mtsStart.stderr).toContain('or rename it greet.mts (and its import)');
      expect(mtsStart.stderr).not.toContain('triggerUncaughtException');
      expect(mtsCheck.code).toBe(1);
      expect(mtsCheck.stdout).toContain(`✗ config loads: ${advice}`);
      expect(mtsCheck.stderr).toBe('');
    } finally {
      rmSync(cjs, { recursive: true, force: true });
    }
  });

  it('start that fails ends the process even when the config left something open (as a RedisStore connection)', async () => {
    // The interval stands for a store's connection: created while the config is built, before
    // the wrong channel option stops it.
    const file = writeConfig(
      'open.config.ts',
      `setInterval(() => {}, 1000);\nexport default defineConfig({ channels: [officialAccount({ appId: 'wx-open', token: 'openToken1', encodingAESKey: 'short' })] });`,
    );
    const bot = spawnWxbot(['start', '--config', file], {}, dir);
    running.push(bot);
    bot.ready.catch(() => {}); // it never listens: the exit below is what is checked
    const code = await new Promise((done) => bot.child.once('exit', done));
    expect(code).toBe(1);
    expect(bot.output()).toContain('EncodingAESKey must be 43 base64 characters');
  });

  it('ends quietly when its reader closes the pipe early (wxbot help | head)', async () => {
    const child = spawn(process.execPath, [join(repoRoot, 'packages/cli/bin/wxbot.mjs'), 'help'], { cwd: dir });
    // Closed before the CLI has loaded: its first line of usage meets a closed pipe.
    child.stdout.destroy();
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk));
    const code = await new Promise((done) => child.once('close', done));
    expect(stderr).toBe('');
    expect(code).toBe(0);
  });

  it('a config that throws: file:line and the message; --verbose adds the stack', async () => {
    const file = writeConfig(
      'throws.config.ts',
      `type Shop = { open: boolean };\nconst shop: Shop = { open: false };\nexport default defineConfig(() => {\n  if (!shop.open) throw new Error('the shop is closed');\n  return { channels: [] };\n});`,
    );
    const [plain, verbose] = await Promise.all([runWxbot(['start', '--config', file], { cwd: dir }), runWxbot(['start', '--config', file, '--verbose'], { cwd: dir })]);
    expect(plain.code).toBe(1);
    expect(plain.stderr).toContain('wxbot: throws.config.ts:7: the shop is closed');
    expect(plain.stderr).not.toMatch(/^\s+at /m);
    expect(verbose.code).toBe(1);
    expect(verbose.stderr).toMatch(/^\s+at .*throws\.config\.ts:7:\d+/m);
  });

  it("every plugin's option errors at once, with a did-you-mean for a typo", async () => {
    const file = writeConfig('typos.config.ts', oaConfig.replace('plugins: [echo()]', "plugins: [keyword({ faqTreshold: 0.5 } as never), echo({ prefx: '> ' } as never)]"));
    const [start, check] = await Promise.all([runWxbot(['start', '--config', file], { cwd: dir }), runWxbot(['check', '--config', file], { cwd: dir })]);
    expect(start.code).toBe(1);
    expect(start.stderr).toMatch(/typos\.config\.ts:4: plugin "keyword": unknown option "faqTreshold" \(did you mean "faqThreshold"\?\)/);
    expect(start.stderr).toMatch(/typos\.config\.ts:4: plugin "echo": unknown option "prefx" \(did you mean "prefix"\?\)/);
    expect(check.code).toBe(1);
    expect(check.stdout).toContain('did you mean "faqThreshold"');
    expect(check.stdout).toContain('did you mean "prefix"');
  });
});

describe('wxbot config and channel keys', { timeout: 90_000 }, () => {
  it('a misspelt config key or channel option stops start and fails check, naming the key and what was meant', async () => {
    const channel = writeConfig(
      'channel-typo.config.ts',
      `export default defineConfig({\n  channels: [officialAccount({ appid: 'wx1', token: 'tok', encodingAesKey: '${KEY}' } as never)],\n});`,
    );
    const config = writeConfig(
      'config-typo.config.ts',
      "export default defineConfig({ channels: [officialAccount({ appId: 'wx1', token: 'tok' })], prot: 3001, plugns: [echo()] } as never);",
    );
    const [start, check, startConfig, checkConfig] = await Promise.all([
      runWxbot(['start', '--config', channel], { cwd: dir }),
      runWxbot(['check', '--config', channel], { cwd: dir }),
      runWxbot(['start', '--config', config], { cwd: dir }),
      runWxbot(['check', '--config', config], { cwd: dir }),
    ]);
    const channelProblem =
      'channel "officialAccount" (officialAccount): unknown option "appid" (did you mean "appId"?); unknown option "encodingAesKey" (did you mean "encodingAESKey"?)';
    expect(start.code).toBe(1);
    expect(start.stderr).toContain(`wxbot: channel-typo.config.ts:5: ${channelProblem}`);
    expect(check.code).toBe(1);
    expect(check.stdout).toContain(`✗ config loads: channel-typo.config.ts:5: ${channelProblem}`);
    const configProblem = 'config: unknown option "prot" (did you mean "port"?); unknown option "plugns" (did you mean "plugins"?)';
    expect(startConfig.code).toBe(1);
    expect(startConfig.stderr).toContain(`wxbot: config-typo.config.ts:4: ${configProblem}`);
    expect(checkConfig.code).toBe(1);
    expect(checkConfig.stdout).toContain(`✗ config loads: config-typo.config.ts:4: ${configProblem}`);
  });
});

describe('wxbot channel errors', { timeout: 90_000 }, () => {
  it("every wrong channel's error at once, with the plugins', each at its line", async () => {
    const file = writeConfig(
      'channels.config.ts',
      [
        'export default defineConfig({',
        '  channels: [',
        "    officialAccount({ appid: 'wx1', token: 'tok' } as never),",
        "    officialAccount({ name: 'second', path: '/second', appId: 'wx2', token: '' }),",
        '  ],',
        "  plugins: [echo({ prefx: '> ' } as never)],",
        '});',
      ].join('\n'),
    );
    const [start, check] = await Promise.all([runWxbot(['start', '--config', file], { cwd: dir }), runWxbot(['check', '--config', file], { cwd: dir })]);
    const problems = [
      'channels.config.ts:6: channel "officialAccount" (officialAccount): unknown option "appid" (did you mean "appId"?)',
      'channels.config.ts:7: channel second: token is required',
      'channels.config.ts:9: plugin "echo": unknown option "prefx" (did you mean "prefix"?)',
    ];
    expect(start.code).toBe(1);
    for (const problem of problems) expect(start.stderr).toContain(problem);
    expect(check.code).toBe(1);
    for (const problem of problems) expect(check.stdout).toContain(`✗ config loads: ${problem}`);
  });
});

describe('wxbot ports', { timeout: 90_000 }, () => {
  it('start and simulate follow one rule: PORT when there is no --port; a taken port is named, with the fix', async () => {
    const file = writeConfig('port.config.ts', oaConfig);
    const port = await freePort();
    const bot = spawnWxbot(['start', '--config', file], { PORT: String(port) }, dir);
    running.push(bot);
    expect(await bot.ready).toBe(`http://127.0.0.1:${port}`);
    expect(bot.output()).toMatch(new RegExp(`"listening":"(\\[::\\]|0\\.0\\.0\\.0):${port}"`));

    const simulate = await runWxbot(['simulate', '--config', file, 'hello port'], { env: { PORT: String(port) }, cwd: dir });
    expect(simulate.stdout).toContain(`http://127.0.0.1:${port}/wx`);
    expect(simulate.stdout).toContain('← text: hello port');
    expect(simulate.code).toBe(0);

    const taken = await runWxbot(['start', '--config', file], { env: { PORT: String(port) }, cwd: dir });
    expect(taken.code).toBe(1);
    expect(taken.stderr).toContain(`wxbot: port ${port} (from PORT=${port}) is in use (another wxbot still running?): choose another PORT, or --port`);
    const takenFlag = await runWxbot(['start', '--config', file, '--port', String(port)], { cwd: dir });
    expect(takenFlag.code).toBe(1);
    expect(takenFlag.stderr).toContain(`wxbot: port ${port} (from --port) is in use (another wxbot still running?): choose another --port`);
    expect(taken.stderr).not.toContain('EADDRINUSE');

    // --port beats PORT.
    const other = spawnWxbot(['start', '--config', file, '--port', '0', '--host', '127.0.0.1'], { PORT: String(port) }, dir);
    running.push(other);
    const url = await other.ready;
    expect(url).not.toBe(`http://127.0.0.1:${port}`);
    expect(other.output()).toContain(`"listening":"127.0.0.1:${new URL(url).port}"`);
  });

  it("dev mode's banner shows the port actually bound", async () => {
    const bot = spawnWxbot(['start', '--config', defaultConfig], { ...CLEAN_ENV, PORT: '0' }, dir);
    running.push(bot);
    const url = await bot.ready;
    expect(url).not.toMatch(/:0$/);
    await expect.poll(() => bot.output()).toContain(`${url}/wecom/callback`);
    expect(bot.output()).toMatch(/listening on\s+\S+:\d+/);
    expect(bot.output()).not.toMatch(/listening on\s+\S+:0\b/);
  });
});

describe('wxbot usage', { timeout: 90_000 }, () => {
  it('every subcommand prints its usage with --help (and through wxbot help COMMAND)', async () => {
    const commands = ['start', 'check', 'simulate', 'keygen'];
    const runs = await Promise.all([...commands.map((c) => runWxbot([c, '--help'])), runWxbot(['help', 'start']), runWxbot(['start', '-h'])]);
    commands.forEach((command, i) => {
      expect(runs[i]!.code, command).toBe(0);
      expect(runs[i]!.stdout, command).toContain(`wxbot ${command} — `);
      expect(runs[i]!.stdout, command).toContain('Usage:');
    });
    expect(runs[4]!.stdout).toContain('wxbot start — ');
    expect(runs[5]!.stdout).toContain('--port');
  });

  it("wrong usage exits 2 with the command's usage", async () => {
    const runs = await Promise.all([
      runWxbot(['start', '--bogus']),
      runWxbot(['check', '--config']),
      runWxbot(['simulate', '--nope']),
      runWxbot(['keygen', 'extra']),
      runWxbot(['frobnicate']),
      runWxbot(['start', '--port', 'eighty']),
    ]);
    for (const run of runs) expect(run.code, run.stderr).toBe(2);
    expect(runs[0]!.stderr).toMatch(/wxbot start: Unknown option '--bogus'[\s\S]*wxbot start — /);
    expect(runs[2]!.stderr).toContain('wxbot simulate — ');
    expect(runs[4]!.stderr).toContain('unknown command "frobnicate"');
    expect(runs[5]!.stderr).toContain('--port must be a port number');
  });
});

describe('the default bot', { timeout: 90_000 }, () => {
  it('answers an Official Account voice with Recognition from its transcript, through the rest of the chain, without OpenAI settings; with no console, 人工 gets "no human available" and a start-up warning', async () => {
    const env = { ...CLEAN_ENV, WX_APP_ID: 'wx-voice', WX_TOKEN: 'voiceToken1', WX_AES_KEY: KEY };
    const bot = spawnWxbot(['start', '--config', defaultConfig, '--port', '0'], env, dir);
    running.push(bot);
    const url = await bot.ready;
    const peer = new WeChatPeer({ url: `${url}/wx`, kind: 'officialAccount', token: env.WX_TOKEN, encodingAESKey: KEY, receiveId: env.WX_APP_ID });
    // The FAQ answers the spoken question: not the echo of the voice.
    const faq = await peer.post(peer.message('voice', { MediaId: 'media-1', Format: 'amr', Recognition: '营业时间是什么时候？' }));
    expect(faq.reply?.['MsgType']).toBe('text');
    expect(faq.reply?.['Content']).toMatch(/营业时间/);
    // Nothing matches: the last resort answers the transcript as a text, never by echoing the voice.
    const other = await peer.post(peer.message('voice', { MediaId: 'media-2', Format: 'amr', Recognition: '随便说点什么吧' }));
    expect(other.reply?.['MsgType']).toBe('text');
    expect(other.reply?.['Content']).toContain('没听懂');
    // No AGENT_TOKEN and not KF: nobody receives a hand-off. The start-up log says so, and a
    // user asking for a human is told none is available instead of being promised one.
    expect(bot.output()).toContain('hand-off words are on, but nobody can receive a hand-off');
    const human = await peer.text('转人工');
    expect(human.reply?.['Content']).toBe('抱歉，目前没有人工客服可以接待，请稍后再试或直接留言。');
  });
});
