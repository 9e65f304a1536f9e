import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { createBot, createLogger, EnvConfigError, resolveConfig, type Bot, type WxbotConfig } from '@wxbot/core';

/** The template's own bot.config.ts, as a generated project runs it (through the workspace's packages). */
const template = join(import.meta.dirname, '../template');
const KEY = 'abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG';
const CHANNEL_VARIABLES = ['WX_APP_ID', 'WX_APP_SECRET', 'WX_TOKEN', 'WX_AES_KEY', 'WECOM_CORP_ID', 'WECOM_AGENT_ID', 'WECOM_SECRET', 'WECOM_TOKEN', 'WECOM_AES_KEY'];
const ALL_CHANNEL_VARIABLES = [
  ...CHANNEL_VARIABLES,
  'WECOM_KF_SECRET',
  'WECOM_KF_TOKEN',
  'WECOM_KF_AES_KEY',
  'WECOM_AIBOT_TOKEN',
  'WECOM_AIBOT_AES_KEY',
  'WECOM_AIBOT_ID',
  'WECOM_AIBOT_SECRET',
];

const saved = { ...process.env };
const cwd = process.cwd();
const work = mkdtempSync(join(tmpdir(), 'create-wxbot-template-'));
let bot: Bot | undefined;
afterEach(async () => {
  await bot?.stop();
  bot = undefined;
  process.env = { ...saved };
  process.chdir(cwd);
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** A log destination that keeps the lines. */
function logLines(): { lines: string[]; destination: Writable } {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk, _encoding, done) {
      lines.push(String(chunk));
      done();
    },
  });
  return { lines, destination };
}

/** Loads the template's config with exactly `env` for its variables (the rest of the environment unset). */
async function templateConfig(env: Record<string, string>): Promise<WxbotConfig> {
  for (const name of [
    ...ALL_CHANNEL_VARIABLES,
    'REDIS_URL',
    'FAQ_FILE',
    'AGENT_TOKEN',
    'OPENAI_API_KEY',
    'OPENAI_BASE_URL',
    'PORT',
    'LOG_LEVEL',
    'LOG_FORMAT',
    'WX_API_BASE',
    'WECOM_API_BASE',
  ])
    delete process.env[name];
  Object.assign(process.env, env);
  const { default: input } = (await import('../template/bot.config.ts')) as { default: Parameters<typeof resolveConfig>[0] };
  return resolveConfig(input);
}

describe('the template bot.config.ts', () => {
  it("parses the environment with core's envConfig(): a half-set channel is an error naming the missing variable, not dev mode", async () => {
    await expect(templateConfig({ WX_APP_ID: 'wx123', WX_AES_KEY: KEY })).rejects.toThrow(EnvConfigError);
    await expect(templateConfig({ WX_APP_ID: 'wx123', WX_AES_KEY: KEY })).rejects.toThrow(
      /WX_TOKEN: missing: WX_APP_ID and WX_AES_KEY are set, so the Official Account channel needs it/,
    );
    await expect(templateConfig({ WECOM_CORP_ID: 'ww1', WECOM_TOKEN: 't', WECOM_AES_KEY: KEY, WECOM_AGENT_ID: 'abc' })).rejects.toThrow(
      /WECOM_AGENT_ID: must be the app's AgentId/,
    );
    await expect(templateConfig({ WX_TOKEN: 'tok', WX_AES_KEY: 'short' })).rejects.toThrow(/WX_AES_KEY: must be 43 letters and digits/);
    const config = await templateConfig({ WX_APP_ID: 'wx123', WX_TOKEN: 'tok', WX_AES_KEY: KEY, PORT: '4321' });
    expect(config.channels?.map((c) => c.kind)).toEqual(['officialAccount']);
    expect(config.port).toBe(4321);
    expect(config.devMode).toBeUndefined();
    // A variable of the root README this project cannot honour is an error, not ignored.
    await expect(templateConfig({ REDIS_URL: 'redis://127.0.0.1:6379' })).rejects.toThrow(/REDIS_URL is set, but this project has no Redis store: `npm install @wxbot\/redis`/);
  });

  it(".env.example lists every channel variable the config reads (the AI bot's WebSocket mode too: no public URL needed)", () => {
    const envExample = readFileSync(join(template, '_env.example'), 'utf8');
    const missing = ALL_CHANNEL_VARIABLES.filter((name) => !new RegExp(`^${name}=`, 'm').test(envExample));
    expect(missing).toEqual([]);
  });

  it('names only what the project has in its start-up warnings: AGENT_TOKEN is in its .env.example, the hand-off plugin in its package', async () => {
    const { lines, destination } = logLines();
    const config = await templateConfig({ WX_APP_ID: 'wx123', WX_TOKEN: 'tok', WX_AES_KEY: KEY });
    bot = createBot({ ...config, logger: createLogger({ level: 'warn', destination }) });
    await bot.start({ port: 0, host: '127.0.0.1' });
    const warning = lines.find((line) => line.includes('hand-off words are on'));
    expect(warning).toBeDefined();
    const envExample = readFileSync(join(template, '_env.example'), 'utf8');
    for (const variable of warning!.match(/\b[A-Z][A-Z0-9]*_[A-Z0-9_]+\b/g) ?? []) expect(envExample, variable).toContain(`${variable}=`);
    const { createProject } = await import('../src/index.ts');
    const project = await createProject(join(work, 'warned'));
    const manifest = readFileSync(join(project.dir, 'package.json'), 'utf8');
    for (const pkg of warning!.match(/@wxbot\/[a-z-]+/g) ?? []) expect(manifest, pkg).toContain(`"${pkg}"`);
  });

  it('dev mode turns the agent console on with a made-up token, printed as a link, and sends to the fake API of simulate', async () => {
    process.chdir(work);
    const config = await templateConfig({});
    expect(config.devMode?.links?.['agent console']).toMatch(/^\/agent\/\?token=\w{16,}$/);
    expect(config.devMode?.credentials['WeChat API']).toContain('http://127.0.0.1:4000');
    expect(config.channels?.map((c) => `${c.kind} ${c.path}`)).toEqual(['officialAccount /wx', 'wecomApp /wecom/callback', 'wecomAiBot /wecom/aibot']);
    expect(config.plugins?.map((p) => p.name)).toEqual(['handoff', 'greet', 'keyword', 'echo']);
    const { lines, destination } = logLines();
    bot = createBot({ ...config, logger: createLogger({ level: 'warn', destination }) });
    await bot.start({ port: 0, host: '127.0.0.1' });
    // The agents take hand-offs: no warning that nobody does.
    expect(lines.join('')).not.toContain('hand-off words are on');
  });
});
