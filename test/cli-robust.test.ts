/**
 * What a plugin author's mistakes do to the real `wxbot` process: errors that escape the
 * pipeline (a floating promise, a throw in a timer) and a setup that throws, at `wxbot start`
 * and at `wxbot check`.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { WeChatPeer } from '@wxbot/testing';
import { repoRoot, runWxbot, spawnWxbot, stopWxbot, type WxbotProcess } from './support/wxbotProcess.ts';

const core = JSON.stringify(join(repoRoot, 'packages/core/src/index.ts'));
const echoPlugin = JSON.stringify(join(repoRoot, 'plugins/echo/src/index.ts'));
const TOKEN = 'robustOaToken42';

// Configs live outside the repository (concurrent typechecks never see them) and import the
// workspace by absolute path.
const dir = mkdtempSync(join(tmpdir(), 'wxbot-robust-'));
writeFileSync(join(dir, 'package.json'), '{ "type": "module" }\n');
const running: WxbotProcess[] = [];
afterAll(async () => {
  await Promise.all(running.map((p) => stopWxbot(p.child)));
  rmSync(dir, { recursive: true, force: true });
});

function writeConfig(name: string, plugins: string): string {
  const file = join(dir, name);
  writeFileSync(
    file,
    `import { defineConfig, definePlugin, officialAccount } from ${core};
import { echo } from ${echoPlugin};
${plugins}
export default defineConfig({ channels: [officialAccount({ appId: 'wx-robust', token: '${TOKEN}' })], plugins: [careless(), echo()] });
`,
  );
  return file;
}

function start(file: string): WxbotProcess {
  const bot = spawnWxbot(['start', '--config', file, '--port', '0'], { LOG_FORMAT: 'json' }, dir);
  running.push(bot);
  return bot;
}

/** The JSON log lines a process printed. */
function logLines(output: string): Record<string, unknown>[] {
  return output
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

async function until(what: () => boolean, label: string): Promise<void> {
  for (let i = 0; i < 200 && !what(); i++) await new Promise((r) => setTimeout(r, 25));
  if (!what()) throw new Error(`timed out waiting for ${label}`);
}

describe('wxbot start keeps serving when plugin code fails outside the pipeline', () => {
  it('a floating rejected promise and a throw in a timer: one error line each with the stack, and the next callback is answered', async () => {
    const file = writeConfig(
      'careless.config.ts',
      `const careless = definePlugin({
  name: 'careless',
  setup(bot) {
    bot.hears('boom', async (ctx) => {
      // Neither awaited nor caught: what a plugin author forgets.
      // An HTTP client's error carries its request, credentials included: never logged.
      void Promise.reject(Object.assign(new Error('floating promise rejected'), { config: { headers: { Authorization: 'Bearer sk-careless-secret' } } }));
      setTimeout(() => {
        throw new Error('timer callback threw');
      }, 1);
      await ctx.reply('boom handled');
    });
  },
});`,
    );
    const bot = start(file);
    const url = await bot.ready;
    const peer = new WeChatPeer({ url: `${url}/wx`, kind: 'officialAccount', token: TOKEN, receiveId: 'wx-robust' });
    expect((await peer.text('boom')).reply).toMatchObject({ Content: 'boom handled' });
    await until(() => bot.output().includes('timer callback threw'), 'the timer error line');
    // Still up: a signed callback after both errors gets its answer.
    expect((await peer.text('still there?')).reply).toMatchObject({ Content: 'still there?' });
    expect(bot.child.exitCode).toBeNull();

    const lines = logLines(bot.output());
    const rejection = lines.filter((l) => JSON.stringify(l).includes('floating promise rejected'));
    const exception = lines.filter((l) => JSON.stringify(l).includes('timer callback threw'));
    expect(rejection).toHaveLength(1);
    expect(exception).toHaveLength(1);
    expect(rejection[0]).toMatchObject({ level: 50, err: { type: 'Error' }, msg: expect.stringMatching(/nothing handled it.*keeps serving/) });
    expect(exception[0]).toMatchObject({ level: 50, msg: expect.stringMatching(/escaped a callback.*keeps serving/) });
    // The stack says where: the config's plugin.
    expect((rejection[0]!['err'] as { stack: string }).stack).toContain('careless.config.ts');
    expect((exception[0]!['err'] as { stack: string }).stack).toContain('careless.config.ts');
    expect(bot.output()).not.toContain(TOKEN);
    expect(bot.output()).not.toContain('sk-careless-secret');
  });
});

describe('a plugin whose setup throws', () => {
  const setupThrows = `const careless = definePlugin({
  name: 'greet',
  setup() {
    throw new Error('setup exploded');
  },
});`;

  it('wxbot start names the plugin and exits 1', async () => {
    const file = writeConfig('setup-throws.config.ts', setupThrows);
    const run = await runWxbot(['start', '--config', file, '--port', '0'], { cwd: dir, env: { LOG_FORMAT: 'json' } });
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('wxbot: plugin "greet" failed in setup: setup exploded');
  });

  it('wxbot check runs setup and fails naming the plugin, exit 1; a good setup passes', async () => {
    const bad = writeConfig('check-setup-throws.config.ts', setupThrows);
    const run = await runWxbot(['check', '--config', bad], { cwd: dir });
    expect(run.code).toBe(1);
    expect(run.stdout).toContain('✗ plugin "greet" failed in setup: setup exploded');
    expect(run.stdout).toContain('✓ plugin setup: echo');

    const good = writeConfig('check-setup-ok.config.ts', `const careless = definePlugin({ name: 'greet', setup(bot) { bot.hears('hi', (ctx) => ctx.reply('hello')); } });`);
    const ok = await runWxbot(['check', '--config', good], { cwd: dir });
    expect(ok.stdout).toContain('✓ plugin setup: greet, echo');
    expect(ok.stdout).not.toContain('failed in setup');
  });
});

describe('wxbot console', () => {
  it('is no command: the CLI says where the agent console is and how to talk to the bot (exit 2)', async () => {
    const run = await runWxbot(['console']);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('wxbot unknown command "console": the agent console is a web page of the running bot: start it (`npm start` or `wxbot start`)');
    expect(run.stderr).toContain('`wxbot simulate -i --fake-api`');
  });
});

describe('stopping', () => {
  it('a plugin whose dispose throws: SIGTERM still ends the process (exit 1, one line), not held up by the escaped-error handlers', async () => {
    const file = writeConfig('dispose-throws.config.ts', `const careless = definePlugin({ name: 'sticky', setup() {}, dispose() { throw new Error('dispose exploded'); } });`);
    const bot = start(file);
    await bot.ready;
    const exited = new Promise<number | null>((done) => bot.child.once('exit', (code) => done(code)));
    bot.child.kill('SIGTERM');
    expect(await exited).toBe(1);
    const failed = logLines(bot.output()).filter((l) => l['msg'] === 'stopping failed; exiting anyway');
    expect(failed).toHaveLength(1);
    expect(failed[0]).toMatchObject({ level: 50, err: { message: 'dispose exploded' } });
  });
});

describe('wxbot simulate with no bot running', () => {
  it('says what to start (exit 1)', async () => {
    const server = createServer();
    await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
    const { port } = server.address() as AddressInfo;
    await new Promise((done) => server.close(done));
    const run = await runWxbot(
      ['simulate', '--config', writeConfig('simulate.config.ts', `const careless = definePlugin({ name: 'quiet', setup() {} });`), '--port', String(port), 'hi'],
      { cwd: dir },
    );
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(`✗ cannot reach http://127.0.0.1:${port}/wx: ECONNREFUSED (is the bot running? start it with \`npm start\` or \`wxbot start\``);
  });
});
