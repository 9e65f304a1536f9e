/**
 * A bot loads the modules of what it is configured to use, not of everything its config file
 * imports: the default bot (bot.config.ts, started as `wxbot start` runs it) with an Official
 * Account and the agent console but no LLM endpoint loads neither the OpenAI SDK nor got, ws or
 * koa-body, at start-up or answering a message. Each would stay on the heap for good, marked by
 * every full GC (bench/README.md, "Modules a bot does not use"). Configured, the SDK is loaded.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { generateEncodingAESKey } from '@wxbot/core';
import { WeChatPeer } from '@wxbot/testing';
import { repoRoot, startWxbot, stopWxbot, type WxbotProcess } from './support/wxbotProcess.ts';

/** Loaded only when a feature needs them (see each import site). */
const LOADED_ON_USE = ['openai', 'got', 'ws', 'koa-body', 'formidable'];

const OA = { appId: 'wx-unused-modules', token: 'unusedModulesToken', encodingAESKey: generateEncodingAESKey() };

// The hand-off state file and any .env are the working directory's: a fresh one, not the repository.
const cwd = mkdtempSync(join(tmpdir(), 'wxbot-modules-'));
afterAll(() => rmSync(cwd, { recursive: true, force: true }));

/** The default bot with `env` on top of an Official Account and the agent console, listing what it loaded on SIGUSR2. */
function startDefaultBot(env: Record<string, string>): WxbotProcess {
  return startWxbot(
    'bot.config.ts',
    {
      NODE_OPTIONS: `--import ${join(repoRoot, 'test/support/loadedPackages.mjs')}`,
      WX_TOKEN: OA.token,
      WX_APP_ID: OA.appId,
      WX_AES_KEY: OA.encodingAESKey,
      AGENT_TOKEN: 'unused-modules-agent-token',
      OPENAI_API_KEY: '',
      OPENAI_BASE_URL: '',
      REDIS_URL: '',
      // Info: the "wxbot started" line tells startWxbot where it listens.
      LOG_LEVEL: 'info',
      ...env,
    },
    cwd,
  );
}

/** The packages under node_modules the bot's process has loaded so far (test/support/loadedPackages.mjs). */
async function loadedPackages(bot: WxbotProcess): Promise<string[]> {
  const before = bot.output().length;
  bot.child.kill('SIGUSR2');
  for (;;) {
    const line = /\{"loadedPackages":(\[[^\]]*\])\}/.exec(bot.output().slice(before))?.[1];
    if (line) return JSON.parse(line) as string[];
    await new Promise((wait) => setTimeout(wait, 50));
  }
}

describe('modules of features the bot does not use', () => {
  it('the default bot without an LLM endpoint loads none of them, started or answering', async () => {
    const bot = startDefaultBot({});
    try {
      const url = await bot.ready;
      const peer = new WeChatPeer({ url: `${url}/wx`, kind: 'officialAccount', token: OA.token, encodingAESKey: OA.encodingAESKey, receiveId: OA.appId });
      expect((await peer.text('营业时间', { from: 'o-modules' })).status).toBe(200);
      // The console's page is a plugin route: a GET has no body to parse.
      expect((await fetch(`${url}/agent/`)).status).toBe(200);
      const loaded = await loadedPackages(bot);
      // The list is real: what every bot uses is in it.
      expect(loaded).toEqual(expect.arrayContaining(['koa', 'zod', 'pino']));
      expect(loaded.filter((name) => LOADED_ON_USE.includes(name))).toEqual([]);
    } finally {
      await stopWxbot(bot.child);
    }
  }, 60_000);

  it('with an LLM endpoint configured, the OpenAI SDK is loaded at start-up', async () => {
    // Nothing is sent to it: the plugins load the SDK in their setup.
    const bot = startDefaultBot({ OPENAI_BASE_URL: 'http://127.0.0.1:9/v1' });
    try {
      await bot.ready;
      expect(await loadedPackages(bot)).toContain('openai');
    } finally {
      await stopWxbot(bot.child);
    }
  }, 60_000);
});
