/**
 * wxbot as a user gets it from npm: every package built and packed, the tarballs installed in
 * a folder with no workspace around it, a bot written in plain bot.mjs run by `node`, a
 * TypeScript consumer typechecked with a default NodeNext tsconfig, the `wxbot` bin on plain
 * Node. One install serves every assertion (the slow part is npm, not the checks).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { stripVTControlCharacters } from 'node:util';
import { generateEncodingAESKey } from '@wxbot/core';
import { WeChatPeer } from '@wxbot/testing';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { cleanEnv, run, runOk } from './support/npm.ts';

const root = resolve(import.meta.dirname, '..');
const work = mkdtempSync(join(tmpdir(), 'wxbot-consumer-'));
const packs = join(work, 'packs');
const app = join(work, 'app');
const INSTALL_MS = 600_000;
/** Each check spawns node, npm or tsc: seconds alone, much longer on a loaded CI machine. */
const CHECK_MS = 180_000;

/** What `npm pack --json` says about one package. */
interface Packed {
  name: string;
  filename: string;
  files: { path: string }[];
}
let packed: Packed[] = [];
const children: ChildProcess[] = [];

/** The version of a package installed in this workspace, so the consumer's install hits npm's cache. */
function workspaceVersion(name: string): string {
  return (JSON.parse(readFileSync(join(root, 'node_modules', name, 'package.json'), 'utf8')) as { version: string }).version;
}

/** `file:` dependencies on the packed tarballs of these packages. */
function tarballDeps(names: string[]): Record<string, string> {
  return Object.fromEntries(
    names.map((name) => {
      const pack = packed.find((p) => p.name === name);
      if (!pack) throw new Error(`${name} was not packed`);
      return [name, `file:${join(packs, pack.filename)}`];
    }),
  );
}

beforeAll(async () => {
  await runOk('npm', ['run', 'build'], { cwd: root });
  mkdirSync(packs);
  packed = JSON.parse((await runOk('npm', ['pack', '--workspaces', '--json', '--pack-destination', packs], { cwd: root })).stdout) as Packed[];

  // Everything but the test kit (an optional peer of the CLI) and tsx (an optional peer for
  // TypeScript configs): what they guard must fail clearly, not at import time.
  const runtime = packed.map((p) => p.name).filter((name) => name !== '@wxbot/testing' && name !== 'create-wxbot');
  mkdirSync(app);
  writeFileSync(
    join(app, 'package.json'),
    JSON.stringify(
      {
        name: 'consumer',
        private: true,
        type: 'module',
        dependencies: tarballDeps(runtime),
        devDependencies: { typescript: workspaceVersion('typescript'), '@types/node': workspaceVersion('@types/node') },
      },
      null,
      2,
    ),
  );
  await runOk('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline'], { cwd: app, timeoutMs: INSTALL_MS });
}, INSTALL_MS + 300_000);

afterAll(() => {
  for (const child of children) {
    // npm start runs in its own process group (npm → sh → node): end all of it.
    if (child.pid && child.spawnargs[0] === 'npm') process.kill(-child.pid, 'SIGKILL');
    else child.kill('SIGKILL');
  }
  rmSync(work, { recursive: true, force: true });
}, CHECK_MS);

/** Starts `node FILE` in the app and resolves with the URL it prints as `listening URL`. */
function startNode(file: string, env: Record<string, string>): Promise<{ url: string; output: () => string }> {
  const child = spawn(process.execPath, [file], { cwd: app, env: cleanEnv(env) });
  children.push(child);
  let output = '';
  return new Promise((resolveUrl, reject) => {
    const onData = (chunk: Buffer) => {
      output += chunk;
      const match = /listening (http:\/\/\S+)/.exec(output);
      if (match) resolveUrl({ url: match[1]!, output: () => output });
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('exit', (code) => reject(new Error(`node ${file} exited with ${code}:\n${output}`)));
  });
}

describe('installed from packed tarballs, no workspace around', () => {
  it(
    'ships built JavaScript, declarations and a licence, and no tests or sources',
    () => {
      for (const pack of packed) {
        const files = pack.files.map((f) => f.path);
        expect(files, pack.name).toContain('LICENSE');
        // create-wxbot's template/ holds the new project's sample test on purpose.
        expect(
          files.filter((f) => !f.startsWith('template/') && /(^|\/)test\/|\.test\.|^src\/|\.tsbuildinfo$/.test(f)),
          pack.name,
        ).toEqual([]);
        if (pack.name === 'create-wxbot') {
          expect(files).toEqual(expect.arrayContaining(['bin/create-wxbot.mjs', 'dist/main.js', 'template/_gitignore', 'template/_env.example', 'template/bot.config.ts']));
          continue;
        }
        expect(files, pack.name).toEqual(expect.arrayContaining(['dist/index.js', 'dist/index.d.ts', 'dist/index.js.map']));
      }
    },
    CHECK_MS,
  );

  it(
    'runs a plain bot.mjs on node and answers a signed callback with the echo',
    async () => {
      const oa = { appId: 'wx-consumer', token: 'consumerToken42', encodingAESKey: generateEncodingAESKey() };
      writeFileSync(
        join(app, 'bot.mjs'),
        `import { createBot, officialAccount } from '@wxbot/core';
import { echo } from '@wxbot/plugin-echo';

const bot = createBot({
  channels: [officialAccount({ appId: process.env.APP_ID, token: process.env.TOKEN, encodingAESKey: process.env.AES_KEY })],
  plugins: [echo({ prefix: 'echo: ' })],
  logger: { pretty: true }, // pino-pretty is not installed: JSON and a warning instead
});
const { url } = await bot.start({ port: 0, host: '127.0.0.1' });
console.log('listening ' + url);
`,
      );
      const bot = await startNode('bot.mjs', { APP_ID: oa.appId, TOKEN: oa.token, AES_KEY: oa.encodingAESKey });
      const peer = new WeChatPeer({ url: `${bot.url}/wx`, kind: 'officialAccount', token: oa.token, encodingAESKey: oa.encodingAESKey, receiveId: oa.appId });
      const response = await peer.text('你好, installed wxbot');
      expect(response.status).toBe(200);
      expect(response.reply).toMatchObject({ MsgType: 'text', Content: 'echo: 你好, installed wxbot' });
      // Log lines reach stdout in batches (at most 100 ms late, see createLogger): wait for the line.
      await vi.waitFor(() => expect(bot.output()).toContain('pretty logs need the optional package pino-pretty (npm install --save-dev pino-pretty)'), { timeout: 2000 });
    },
    CHECK_MS,
  );

  it(
    'loads every package on plain node',
    async () => {
      const names = packed.map((p) => p.name).filter((name) => name !== '@wxbot/testing' && name !== 'create-wxbot');
      const script = `for (const name of ${JSON.stringify(names)}) { const m = await import(name); if (Object.keys(m).length === 0) throw new Error(name + ' exports nothing'); }\nconsole.log('loaded');`;
      const ran = await runOk(process.execPath, ['--input-type=module', '-e', script], { cwd: app });
      expect(ran.stdout.trim()).toBe('loaded');
    },
    CHECK_MS,
  );

  it(
    'runs the wxbot bin on plain node, and says what to install for a .ts config or simulate',
    async () => {
      const bin = join(app, 'node_modules/.bin/wxbot');
      const keygen = await runOk(bin, ['keygen'], { cwd: app });
      expect(keygen.stdout).toMatch(/EncodingAESKey: [A-Za-z0-9+/]{43}/);

      const mjs = `import { defineConfig, officialAccount } from '@wxbot/core';\nimport { echo } from '@wxbot/plugin-echo';\nexport default defineConfig({ channels: [officialAccount({ appId: 'wx1', token: 'consumerToken42' })], plugins: [echo()] });\n`;
      writeFileSync(join(app, 'bot.config.mjs'), mjs);
      const check = await run(bin, ['check', '--config', 'bot.config.mjs'], { cwd: app });
      expect(check.stdout).toContain('✓ config loads: bot.config.mjs');
      expect(check.stdout).toContain('✓ plugins: echo');

      writeFileSync(join(app, 'bot.config.ts'), mjs);
      const ts = await run(bin, ['check', '--config', 'bot.config.ts'], { cwd: app });
      expect(ts.code).toBe(1);
      expect(ts.stdout).toContain('bot.config.ts is TypeScript');
      expect(ts.stdout).toContain('npm install --save-dev tsx');

      const simulate = await run(bin, ['simulate', '--url', 'http://127.0.0.1:9', '--token', 't', 'hi'], { cwd: app });
      expect(simulate.code).toBe(1);
      expect(simulate.stderr).toContain('wxbot simulate needs the optional package @wxbot/testing');
      expect(simulate.stderr).toContain('npm install --save-dev @wxbot/testing');
    },
    CHECK_MS,
  );

  it(
    'typechecks a TypeScript bot with the tsconfig of `tsc --init` (NodeNext, strict): 0 errors',
    async () => {
      await runOk(join(app, 'node_modules/.bin/tsc'), ['--init'], { cwd: app });
      // The one change a Node project makes to the generated file: Node's own types.
      const tsconfig = readFileSync(join(app, 'tsconfig.json'), 'utf8').replace('"types": []', '"types": ["node"]');
      expect(tsconfig).toMatch(/"module": "nodenext"/);
      writeFileSync(join(app, 'tsconfig.json'), tsconfig);
      rmSync(join(app, 'bot.config.ts'));
      writeFileSync(
        join(app, 'bot.ts'),
        `import { createBot, defineConfig, definePlugin, officialAccount, replies, MemoryStore, type Plugin, type Context } from '@wxbot/core';
import { RedisStore } from '@wxbot/redis';
import { echo } from '@wxbot/plugin-echo';
import { keyword } from '@wxbot/plugin-keyword';
import { llm } from '@wxbot/plugin-llm';
import { voice } from '@wxbot/plugin-voice';
import { handoff } from '@wxbot/plugin-handoff';
import { main } from '@wxbot/cli';

const greet = definePlugin({
  name: 'greet',
  setup(bot) {
    bot.hears(/^hi$/i, (ctx: Context) => ctx.reply('hello'));
    bot.on('image', (ctx) => ctx.reply(replies.image(ctx.message.mediaId)));
  },
});

const plugins: Plugin[] = [handoff({ token: 'agent-token-0123456789' }), voice({ apiKey: 'k' }), keyword({ faq: [{ question: '营业时间', answer: '9-18' }] }), llm({ apiKey: 'k' }), greet(), echo()];
export default defineConfig({
  channels: [officialAccount({ appId: 'wx1', token: 'consumerToken42' })],
  plugins,
  store: process.env.REDIS_URL ? new RedisStore({ url: process.env.REDIS_URL }) : new MemoryStore(),
});
export const bot = createBot({ channels: [officialAccount({ appId: 'wx1', token: 'consumerToken42' })], plugins: [echo()] });
export const run: (argv: string[]) => Promise<number> = main;
`,
      );
      const tsc = await run(join(app, 'node_modules/.bin/tsc'), ['-p', '.', '--noEmit'], { cwd: app });
      expect(tsc.stdout + tsc.stderr).toBe('');
      expect(tsc.code).toBe(0);
      // tsc's own default checks the packages' declarations too: they must name only types their
      // dependencies ship (a `typeof import('ws')` in core's needed @types/ws, which nobody installs).
      const libCheck = await run(join(app, 'node_modules/.bin/tsc'), ['-p', '.', '--noEmit', '--skipLibCheck', 'false'], { cwd: app });
      expect(libCheck.stdout + libCheck.stderr).toBe('');
      expect(libCheck.code).toBe(0);
    },
    CHECK_MS,
  );
});

describe('npm create wxbot', () => {
  const tarball = (name: string) => join(packs, packed.find((p) => p.name === name)!.filename);

  it(
    'writes a project whose npm install, npm test and npm start work with the packed packages',
    async () => {
      // What `npm create wxbot@latest my-bot` does: run the bin of the create-wxbot package.
      await runOk('npm', ['exec', '--yes', `--package=${tarball('create-wxbot')}`, '--', 'create-wxbot', 'my-bot'], { cwd: work });
      const project = join(work, 'my-bot');
      // The @wxbot packages are not on npm from this checkout: point the project at the tarballs.
      const manifest = JSON.parse(readFileSync(join(project, 'package.json'), 'utf8')) as Record<string, Record<string, string>>;
      for (const group of ['dependencies', 'devDependencies']) {
        for (const name of Object.keys(manifest[group]!)) if (packed.some((p) => p.name === name)) manifest[group]![name] = `file:${tarball(name)}`;
      }
      writeFileSync(join(project, 'package.json'), JSON.stringify(manifest, null, 2));
      await runOk('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline'], { cwd: project, timeoutMs: INSTALL_MS });

      const test = await runOk('npm', ['test'], { cwd: project });
      expect(stripVTControlCharacters(test.stdout)).toMatch(/Tests\s+3 passed/);
      await runOk('npm', ['run', 'typecheck'], { cwd: project });

      // npm start with no channel configured: dev mode on made-up credentials, answering as WeChat expects.
      const child = spawn('npm', ['start'], { cwd: project, env: cleanEnv({ PORT: '0', LOG_FORMAT: 'json' }), detached: true });
      children.push(child);
      let output = '';
      const url = await new Promise<string>((resolveUrl, reject) => {
        const onData = (chunk: Buffer) => {
          output += chunk;
          const match = /"url":"(http:\/\/[^"]+)","msg":"wxbot started"/.exec(output);
          if (match) resolveUrl(match[1]!);
        };
        child.stdout.on('data', onData);
        child.stderr.on('data', onData);
        child.on('exit', (code) => reject(new Error(`npm start exited with ${code}:\n${output}`)));
      });
      expect(output).toContain('DEV MODE');
      const dev = JSON.parse(readFileSync(join(project, '.wxbot/dev.json'), 'utf8')) as { token: string; encodingAESKey: string; appId: string };
      const peer = new WeChatPeer({ url: `${url}/wx`, kind: 'officialAccount', token: dev.token, encodingAESKey: dev.encodingAESKey, receiveId: dev.appId });
      expect((await peer.text('你好')).reply).toMatchObject({ Content: expect.stringContaining('我是 wxbot 机器人') });
      expect((await peer.text('营业时间是几点')).reply).toMatchObject({ Content: expect.stringContaining('9:00–18:00') });
      expect((await peer.text('something else')).reply).toMatchObject({ Content: 'something else' });
      // Dev mode's agent console: its link printed, the page served, and no warning that nobody takes hand-offs.
      const consoleLink = /agent console\s+http:\S+(\/agent\/\?token=\w+)/.exec(output);
      expect(consoleLink, output).not.toBeNull();
      expect((await fetch(`${url}${consoleLink![1]}`)).status).toBe(200);
      expect(output).not.toContain('hand-off words are on');
    },
    INSTALL_MS + CHECK_MS,
  );
});
