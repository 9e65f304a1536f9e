/**
 * The repository's bot.config.ts loads @wxbot/redis only when REDIS_URL is set (importing
 * ioredis alone costs every request CPU over HTTP): with it the store is a RedisStore, without
 * it the bot's default store.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { resolveConfig } from '@wxbot/core';
import { RedisStore } from '@wxbot/redis';
import botConfig from '../bot.config.ts';

const saved = { ...process.env };
afterEach(() => {
  for (const name of Object.keys(process.env)) if (!(name in saved)) delete process.env[name];
  Object.assign(process.env, saved);
});

function setEnv(extra: Record<string, string>): void {
  for (const name of Object.keys(process.env)) if (/^(WX_|WECOM_|OPENAI_|AGENT_TOKEN|REDIS_URL|FAQ_FILE|PORT|LOG_)/.test(name)) delete process.env[name];
  Object.assign(process.env, { WX_TOKEN: 'token-of-the-test', ...extra });
}

describe('bot.config.ts store', () => {
  it('is a RedisStore when REDIS_URL is set', async () => {
    setEnv({ REDIS_URL: 'redis://127.0.0.1:6379' });
    const config = await resolveConfig(botConfig);
    expect(config.store).toBeInstanceOf(RedisStore);
    await config.store?.close?.();
  });

  it('is left to the bot without REDIS_URL', async () => {
    setEnv({});
    const config = await resolveConfig(botConfig);
    expect(config.store).toBeUndefined();
  });
});
