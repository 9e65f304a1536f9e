import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import pino from 'pino';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { callbackLine, createLogger, tenthsText } from '../src/logger.ts';

const loggerModule = fileURLToPath(new URL('../src/logger.ts', import.meta.url));

/** Runs `body` in a fresh node process with `log` = createLogger(), returns its stdout. */
function runLogging(body: string): Promise<string> {
  const script = `const { createLogger } = await import(${JSON.stringify(loggerModule)}); const log = createLogger({ level: 'info' }); ${body}`;
  return new Promise((resolve, reject) =>
    execFile(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { maxBuffer: 64 * 1024 * 1024 }, (error, stdout) =>
      error ? reject(Object.assign(error, { stdout })) : resolve(stdout),
    ),
  );
}

describe('createLogger on stdout', () => {
  // stdout is written asynchronously and in bytes: lines logged in one burst right before
  // process.exit() all arrive, whole, in order, multi-byte text intact.
  it('writes every line of a burst, in order, before the process exits', async () => {
    const out = await runLogging(`for (let i = 0; i < 3000; i++) log.info({ i, text: '你好 wxbot ' + i }, 'callback'); process.exit(0);`);
    const lines = out
      .trimEnd()
      .split('\n')
      .map((line) => JSON.parse(line) as { i: number; text: string; msg: string; app: string });
    expect(lines).toHaveLength(3000);
    expect(lines).toEqual(lines.map((_, i) => expect.objectContaining({ i, text: `你好 wxbot ${i}`, msg: 'callback', app: 'wxbot' })));
  });

  it('writes lines longer than a write buffer (64 KB) whole and in order among short ones', async () => {
    const out = await runLogging(`for (let i = 0; i < 600; i++) log.info({ i, text: (i % 100 === 7 ? '长'.repeat(30000) : '你好') + ' ' + i }, 'callback'); process.exit(0);`);
    const lines = out
      .trimEnd()
      .split('\n')
      .map((line) => JSON.parse(line) as { i: number; text: string });
    expect(lines.map((l) => l.i)).toEqual([...Array(600).keys()]);
    expect(lines.every((l, i) => l.text === `${i % 100 === 7 ? '长'.repeat(30000) : '你好'} ${i}`)).toBe(true);
  });

  it('writes the last few lines (under the 64 KB gathered before a write) on process.exit(), on a natural end, and after an uncaught exception', async () => {
    const lines = (out: string) =>
      out
        .trimEnd()
        .split('\n')
        .map((line) => (JSON.parse(line) as { i: number }).i);
    expect(lines(await runLogging(`for (let i = 0; i < 3; i++) log.info({ i }, 'line'); process.exit(0);`))).toEqual([0, 1, 2]);
    expect(lines(await runLogging(`for (let i = 0; i < 3; i++) log.info({ i }, 'line');`))).toEqual([0, 1, 2]);
    const crashed = await runLogging(`for (let i = 0; i < 3; i++) log.info({ i }, 'line'); setTimeout(() => { throw new Error('boom'); }, 1);`).catch(
      (error: Error & { stdout?: string }) => error.stdout ?? '',
    );
    expect(lines(crashed)).toEqual([0, 1, 2]);
  });

  it('writes callback lines, ASCII or not, as UTF-8 among other lines: ids of two-byte strings, Chinese names, ids and bindings', async () => {
    // A two-byte id of digits (as parsed from a callback with Chinese in it) makes an ASCII line;
    // a Chinese channel name, an id JSON escapes, or a child's Chinese bindings make lines that are not.
    const body = `const { callbackLine } = await import(${JSON.stringify(loggerModule)});
      const lines = [callbackLine(log), callbackLine(log.child({ shop: '上海店' }))];
      for (let i = 0; i < 3000; i++) {
        const id = ('7300000000000' + i + '中').slice(0, -1);
        lines[i % 7 === 3 ? 1 : 0](i % 5 === 1 ? '公众号' : 'oa', 'text', i % 11 === 2 ? '消息"' + i : id, 1.5, 'passive');
        if (i % 100 === 0) log.info({ i, text: '你好' }, 'other');
      }
      process.exit(0);`;
    const out = (await runLogging(body)).trimEnd().split('\n');
    const callbacks = out.map((line) => JSON.parse(line) as Record<string, unknown>).filter((line) => line['msg'] === 'callback');
    expect(callbacks).toHaveLength(3000);
    callbacks.forEach((line, i) => {
      expect(line).toEqual({
        level: 30,
        time: expect.any(Number),
        app: 'wxbot',
        ...(i % 7 === 3 && { shop: '上海店' }),
        channel: i % 5 === 1 ? '公众号' : 'oa',
        type: 'text',
        id: i % 11 === 2 ? `消息"${i}` : `7300000000000${i}`,
        ms: 1.5,
        outcome: 'passive',
        msg: 'callback',
      });
    });
    expect(out.filter((line) => line.includes('"other"'))).toHaveLength(30);
  });

  it('keeps writing lines logged across event-loop turns, and redacts secrets', async () => {
    const out = await runLogging(`for (let i = 0; i < 50; i++) { log.info({ i, token: 'secret-value' }, 'line'); await new Promise((r) => setTimeout(r, 1)); }`);
    const lines = out
      .trimEnd()
      .split('\n')
      .map((line) => JSON.parse(line) as { i: number; token: string });
    expect(lines.map((l) => l.i)).toEqual([...Array(50).keys()]);
    expect(lines.every((l) => l.token === '[redacted]')).toBe(true);
  });
});

describe('the callback line', () => {
  /** A createLogger logger whose raw lines land in `raw`. */
  function rawLogger(level = 'info') {
    const raw: string[] = [];
    const destination = { write: (line: string) => void raw.push(line) };
    return { log: createLogger({ level, destination }), raw };
  }

  afterEach(() => vi.restoreAllMocks());

  it("is, byte for byte, the line pino writes for log.info({ channel, type, id, ms, outcome }, 'callback')", () => {
    vi.spyOn(Date, 'now').mockReturnValue(1_767_225_600_123);
    const { log, raw } = rawLogger();
    const line = callbackLine(log);
    const cases: [string, string, string | undefined, number, string][] = [
      ['officialAccount', 'text', '7100000000000000001', 0.4, 'passive'],
      ['wecomApp', 'notification', undefined, 12, 'ack'],
      ['客服', 'event', 'a"quoted\\back\nslash\u0001', 1234.5, 'no-reply'],
      ['oa', 'x'.repeat(150), 'id with spaces and 中文', -0, 'retry'],
    ];
    for (const [channel, type, id, ms, outcome] of cases) {
      log.info({ channel, type, id, ms, outcome }, 'callback');
      line(channel, type, id, ms, outcome);
      const [theirs, ours] = raw.splice(0);
      expect(ours).toBe(theirs);
    }
    // Bindings set later and the level still count.
    log.setBindings({ instance: 'b' });
    log.info({ channel: 'oa', type: 'text', id: '1', ms: 1, outcome: 'passive' }, 'callback');
    line('oa', 'text', '1', 1, 'passive');
    expect(raw[1]).toBe(raw[0]);
    expect(JSON.parse(raw[1]!)).toMatchObject({ instance: 'b', channel: 'oa', msg: 'callback' });
    raw.length = 0;
    log.level = 'warn';
    line('oa', 'text', '1', 1, 'passive');
    expect(raw).toEqual([]);
  });

  it("has pino's time of each line, from one millisecond to the next", () => {
    const now = vi.spyOn(Date, 'now');
    const { log, raw } = rawLogger();
    const line = callbackLine(log);
    for (const ms of [1_767_225_600_123, 1_767_225_600_123, 1_767_225_600_124, 1_767_225_601_000, 1_767_225_600_999]) {
      now.mockReturnValue(ms);
      log.info({ channel: 'oa', type: 'text', id: '1', ms: 1, outcome: 'passive' }, 'callback');
      line('oa', 'text', '1', 1, 'passive');
      const [theirs, ours] = raw.splice(0);
      expect(ours).toBe(theirs);
      expect(JSON.parse(ours!)).toMatchObject({ time: ms });
    }
  });

  it("goes through log.info on a logger createLogger did not make (the user's own pino, with its options)", () => {
    const raw: string[] = [];
    const theirs = pino({ base: null, formatters: { level: (label) => ({ severity: label }) }, messageKey: 'message' }, { write: (l: string) => void raw.push(l) });
    callbackLine(theirs)('oa', 'text', '1', 2, 'passive');
    expect(JSON.parse(raw[0]!)).toMatchObject({ severity: 'info', channel: 'oa', type: 'text', id: '1', ms: 2, outcome: 'passive', message: 'callback' });
  });
});

describe('tenthsText', () => {
  it('is String(x) for every tenth the callback line writes and for any other number', () => {
    const wrong: number[] = [];
    const check = (x: number) => void (tenthsText(x) === String(x) || wrong.push(x));
    for (let n = 0; n <= 200_000; n++) check(n / 10);
    for (let n = 0x3ffffff0; n <= 0x40000010; n++) check(n / 10);
    for (let i = 0; i < 10_000; i++) {
      check(Math.round(Math.random() * 1e8) / 10);
      check(Math.random() * 1000);
    }
    for (const x of [0, -0, 0.05, 0.15, 1e-7, -1.5, -0.1, Number.NaN, Number.POSITIVE_INFINITY, 1e21, 2 ** 31, 0.1 + 0.2, 123456789.1]) check(x);
    expect(wrong).toEqual([]);
  });

  it('writes the duration of the callback line as pino does', () => {
    const raw: string[] = [];
    const log = createLogger({ destination: { write: (line: string) => void raw.push(line) } });
    for (const ms of [0, 0.1, 2.3, 10, 999.9, 1234.5]) callbackLine(log)('oa', 'text', '1', ms, 'passive');
    expect(raw.map((line) => (JSON.parse(line) as { ms: number }).ms)).toEqual([0, 0.1, 2.3, 10, 999.9, 1234.5]);
    expect(raw.map((line) => /"ms":([^,]*),/.exec(line)?.[1])).toEqual(['0', '0.1', '2.3', '10', '999.9', '1234.5']);
  });
});
