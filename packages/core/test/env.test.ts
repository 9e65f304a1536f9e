import { describe, expect, it } from 'vitest';
import { envConfig, EnvConfigError, envVariablesOf, type EnvIssue } from '../src/env.ts';

const KEY = 'abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG';

/** The issues envConfig throws for `env` (fails the test when it does not throw). */
function issues(env: Record<string, string>): readonly EnvIssue[] {
  try {
    envConfig(env);
  } catch (error) {
    expect(error).toBeInstanceOf(EnvConfigError);
    return (error as EnvConfigError).issues;
  }
  throw new Error('envConfig accepted it');
}

describe('envConfig', () => {
  it("configures nothing from an empty environment (dev mode is the config's business), empty values counting as unset", () => {
    const config = envConfig({ WX_TOKEN: '', WECOM_TOKEN: '  ', PATH: '/bin' });
    expect(config.officialAccount).toBeUndefined();
    expect(config.wecomApp).toBeUndefined();
    expect(config.wecomKf).toBeUndefined();
    expect(config.port).toBeUndefined();
    expect(config.logLevel).toBe('info');
  });

  it('an Official Account key and AppID without WX_TOKEN is an error naming WX_TOKEN, not dev mode', () => {
    const found = issues({ WX_APP_ID: 'wx123', WX_AES_KEY: KEY });
    expect(found).toEqual([{ variable: 'WX_TOKEN', message: expect.stringMatching(/^missing: WX_APP_ID and WX_AES_KEY are set, so the Official Account channel needs it/) }]);
  });

  it('an encrypted Official Account needs its AppID; plain mode does not', () => {
    expect(issues({ WX_TOKEN: 'tok', WX_AES_KEY: KEY }).map((i) => i.variable)).toEqual(['WX_APP_ID']);
    expect(envConfig({ WX_TOKEN: 'tok' }).officialAccount).toMatchObject({ token: 'tok', appId: '', encodingAESKey: undefined, allowPlain: false });
    expect(envConfig({ WX_TOKEN: 'tok', WX_APP_ID: 'wx1', WX_AES_KEY: KEY, WX_ALLOW_PLAIN: '1' }).officialAccount).toMatchObject({
      appId: 'wx1',
      encodingAESKey: KEY,
      allowPlain: true,
    });
  });

  it('a WeCom app without WECOM_CORP_ID is an error naming it (it used to start with corpId "")', () => {
    const found = issues({ WECOM_TOKEN: 'tok', WECOM_AES_KEY: KEY });
    expect(found.map((i) => i.variable)).toEqual(['WECOM_CORP_ID']);
    expect(found[0]!.message).toMatch(/WeCom app channel needs it/);
  });

  it('reports every problem at once: malformed values and each missing variable', () => {
    const found = issues({ PORT: 'eighty', WECOM_AES_KEY: 'short', LOG_LEVEL: 'loud', REDIS_URL: 'http://x' });
    expect(found.map((i) => i.variable).sort()).toEqual(['LOG_LEVEL', 'PORT', 'REDIS_URL', 'WECOM_AES_KEY']);
    const missing = issues({ WECOM_SECRET: 's', WX_APP_SECRET: 's' });
    expect(missing.map((i) => i.variable).sort()).toEqual(['WECOM_AES_KEY', 'WECOM_AGENT_ID', 'WECOM_CORP_ID', 'WECOM_TOKEN', 'WX_APP_ID', 'WX_TOKEN']);
  });

  it("Customer Service: on with its secret, token and key falling back to the app's; a lone CorpID says what to add", () => {
    const kf = envConfig({ WECOM_CORP_ID: 'ww1', WECOM_KF_SECRET: 'kf', WECOM_KF_TOKEN: 'kt', WECOM_AES_KEY: KEY });
    expect(kf.wecomKf).toMatchObject({ corpId: 'ww1', secret: 'kf', token: 'kt', encodingAESKey: KEY, path: '/wecom/kf' });
    expect(kf.wecomApp).toBeUndefined(); // WECOM_AES_KEY served KF: no half-configured app
    expect(
      issues({ WECOM_KF_SECRET: 'kf' })
        .map((i) => i.variable)
        .sort(),
    ).toEqual(['WECOM_CORP_ID', 'WECOM_KF_AES_KEY', 'WECOM_KF_TOKEN']);
    expect(issues({ WECOM_CORP_ID: 'ww1' })[0]!.message).toMatch(/set WECOM_TOKEN and WECOM_AES_KEY \(WeCom app\) or WECOM_KF_SECRET/);
  });

  it('WeCom AI bot: token and key together, either alone names the other', () => {
    expect(envConfig({ WECOM_AIBOT_TOKEN: 'at', WECOM_AIBOT_AES_KEY: KEY, WECOM_AIBOT_SHOW_THINKING: '1' }).wecomAiBot).toMatchObject({
      token: 'at',
      encodingAESKey: KEY,
      path: '/wecom/aibot',
      stream: { showThinking: true },
    });
    expect(issues({ WECOM_AIBOT_TOKEN: 'at' }).map((i) => i.variable)).toEqual(['WECOM_AIBOT_AES_KEY']);
  });

  it('parses the rest: port, Redis, OpenAI, agent token, log settings', () => {
    const config = envConfig({
      PORT: '8080',
      REDIS_URL: 'redis://127.0.0.1:6379',
      OPENAI_BASE_URL: 'http://127.0.0.1:8000/v1',
      OPENAI_MODEL: 'm',
      AGENT_TOKEN: 'a'.repeat(16),
      LOG_FORMAT: 'json',
    });
    expect(config).toMatchObject({
      port: 8080,
      redisUrl: 'redis://127.0.0.1:6379',
      openai: { baseURL: 'http://127.0.0.1:8000/v1', model: 'm' },
      agentToken: 'a'.repeat(16),
      logFormat: 'json',
    });
    expect(issues({ AGENT_TOKEN: 'short' }).map((i) => i.variable)).toEqual(['AGENT_TOKEN']);
  });

  it('never puts a secret in its messages', () => {
    const secret = 'super-secret-value-123';
    const error = (() => {
      try {
        envConfig({ WECOM_SECRET: secret, WX_APP_SECRET: secret, AGENT_TOKEN: 'x' });
      } catch (e) {
        return e as Error;
      }
    })();
    expect(error?.message).toBeTruthy();
    expect(error?.message).not.toContain(secret);
  });

  it('envVariablesOf names the variable of each option the environment set, through spreads and copies, not of options changed since', () => {
    const env = { WX_TOKEN: 'tok42', WX_APP_ID: 'wx1', WX_APP_SECRET: 's', WECOM_CORP_ID: 'ww', WECOM_KF_SECRET: 'kf', WECOM_TOKEN: 'apptok', WECOM_AES_KEY: KEY };
    const made = envConfig(env);
    expect(envVariablesOf('officialAccount', made.officialAccount, env)).toEqual({
      appId: 'WX_APP_ID',
      appSecret: 'WX_APP_SECRET',
      token: 'WX_TOKEN',
      encodingAESKey: 'WX_AES_KEY',
      allowPlain: 'WX_ALLOW_PLAIN',
      apiBaseUrl: 'WX_API_BASE',
    });
    const spread = { ...made.officialAccount, name: 'shop', appId: 'wx-own' };
    expect(envVariablesOf('officialAccount', spread, env)).toEqual({
      appSecret: 'WX_APP_SECRET',
      token: 'WX_TOKEN',
      encodingAESKey: 'WX_AES_KEY',
      allowPlain: 'WX_ALLOW_PLAIN',
      apiBaseUrl: 'WX_API_BASE',
    });
    expect(envVariablesOf('officialAccount', structuredClone(made.officialAccount), env)['token']).toBe('WX_TOKEN');
    // KF's token and key fall back to the app's: named by the variable that set them.
    expect(envVariablesOf('wecomKf', { ...made.wecomKf }, env)).toMatchObject({ secret: 'WECOM_KF_SECRET', token: 'WECOM_TOKEN', encodingAESKey: 'WECOM_AES_KEY' });
    // A kind the environment does not configure, or an environment that does not parse: nothing.
    expect(envVariablesOf('wecomAiBot', { token: 'tok42' }, env)).toEqual({});
    expect(envVariablesOf('officialAccount', made.officialAccount, { ...env, PORT: 'x' })).toEqual({});
  });

  it('envConfig and envVariablesOf agree for every channel: each option holds the value of the variable it is named after', () => {
    // Each variable its own value, so an option named after the wrong variable shows.
    const env = {
      WX_APP_ID: 'wx-id',
      WX_APP_SECRET: 'wx-secret',
      WX_TOKEN: 'wxtoken',
      WX_AES_KEY: KEY,
      WX_API_BASE: 'http://wx.test/',
      WECOM_CORP_ID: 'corp',
      WECOM_AGENT_ID: '7',
      WECOM_SECRET: 'app-secret',
      WECOM_TOKEN: 'apptoken',
      WECOM_AES_KEY: KEY.replace('a', 'b'),
      WECOM_API_BASE: 'http://wecom.test/',
      WECOM_KF_SECRET: 'kf-secret',
      WECOM_KF_TOKEN: 'kftoken',
      WECOM_KF_AES_KEY: KEY.replace('a', 'c'),
      WECOM_AIBOT_TOKEN: 'bottoken',
      WECOM_AIBOT_AES_KEY: KEY.replace('a', 'd'),
      WECOM_AIBOT_ID: 'bot-id',
      WECOM_AIBOT_SECRET: 'bot-secret',
      WECOM_AIBOT_WS_URL: 'wss://bot.test/',
    };
    const made = envConfig(env);
    expect(made.wecomApp).toMatchObject({ corpId: 'corp', agentId: 7, secret: 'app-secret', token: 'apptoken', apiBaseUrl: 'http://wecom.test/' });
    expect(envVariablesOf('wecomApp', made.wecomApp, env)).toEqual({
      corpId: 'WECOM_CORP_ID',
      agentId: 'WECOM_AGENT_ID',
      secret: 'WECOM_SECRET',
      token: 'WECOM_TOKEN',
      encodingAESKey: 'WECOM_AES_KEY',
      apiBaseUrl: 'WECOM_API_BASE',
    });
    expect(made.wecomKf).toMatchObject({ corpId: 'corp', secret: 'kf-secret', token: 'kftoken', encodingAESKey: env.WECOM_KF_AES_KEY, apiBaseUrl: 'http://wecom.test/' });
    expect(envVariablesOf('wecomKf', made.wecomKf, env)).toEqual({
      corpId: 'WECOM_CORP_ID',
      secret: 'WECOM_KF_SECRET',
      token: 'WECOM_KF_TOKEN',
      encodingAESKey: 'WECOM_KF_AES_KEY',
      apiBaseUrl: 'WECOM_API_BASE',
    });
    expect(made.wecomAiBot).toMatchObject({ token: 'bottoken', encodingAESKey: env.WECOM_AIBOT_AES_KEY, botId: 'bot-id', secret: 'bot-secret', wsUrl: 'wss://bot.test/' });
    expect(envVariablesOf('wecomAiBot', made.wecomAiBot, env)).toEqual({
      token: 'WECOM_AIBOT_TOKEN',
      encodingAESKey: 'WECOM_AIBOT_AES_KEY',
      botId: 'WECOM_AIBOT_ID',
      secret: 'WECOM_AIBOT_SECRET',
      wsUrl: 'WECOM_AIBOT_WS_URL',
    });
    expect(made.officialAccount).toMatchObject({ appId: 'wx-id', appSecret: 'wx-secret', token: 'wxtoken', encodingAESKey: KEY, apiBaseUrl: 'http://wx.test/' });
  });
});
