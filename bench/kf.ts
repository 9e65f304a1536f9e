/**
 * CPU per WeChat Customer Service message synced and answered, in-memory mode: the bot's
 * process from the `kf_msg_or_event` notification through `kf/sync_msg` (pages of 1000), the
 * pipeline (a text handler that replies) and one `kf/send_msg` per message, against the fake
 * WeChat API (real protocol, in this driver process, so its CPU is not counted).
 *
 *   npx tsx --conditions=@wxbot/source bench/kf.ts
 *   BENCH_TARGETS=wxbot@/tmp/base,wxbot,bare npx tsx --conditions=@wxbot/source bench/kf.ts
 *
 * Each target runs in its own process; the driver alternates them pass by pass (the machine
 * may be busy: only same-run ratios count) and prints the bot process's CPU µs (user + system,
 * log-writing and GC threads included) per message, per pass and the median. Targets:
 *
 * - `wxbot`: `createBot` with a `wecomKf` channel (cursor file in a temp dir, info logs to
 *   stdout, i.e. /dev/null), `bot.on('text', ctx => ctx.reply(...))`; notified over HTTP as
 *   WeChat does. `wxbot@dir`: the same with another checkout's packages (its own bench/kf.ts).
 * - `bare`: the floor, a hand-written loop on `node:http` with a keep-alive agent: one
 *   gettoken, sync_msg pages, one send_msg per message (32 at a time), no cursor, no pipeline.
 *
 * Options: `BENCH_MESSAGES` per pass (default 5000, of messages/10 customers), `BENCH_PASSES`
 * (default 5), `BENCH_NODE_ARGS` (node flags of the targets).
 */
import { fork, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const CORP = 'ww-bench-kf';
const SECRET = 'bench-kf-secret';
const TOKEN = 'bench-kf-token';
/** A fixed key (43 base64 characters): the driver and the targets must agree on it. */
const AES_KEY = 'abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG';

if (process.argv[2] === '--target') await target(process.argv[3] ?? 'wxbot', process.argv[4] ?? '');
else await drive();

/** The driver: fake API here, targets in child processes, alternated pass by pass. */
async function drive(): Promise<void> {
  const { startFakeWeChatApi, WeChatPeer } = await import('@wxbot/testing');
  const { endTargets, printMedians } = await import('./targets.ts');
  const MESSAGES = Number(process.env.BENCH_MESSAGES ?? 5000);
  const PASSES = Number(process.env.BENCH_PASSES ?? 5);
  const NODE_ARGS = (process.env.BENCH_NODE_ARGS ?? '--conditions=@wxbot/source --import tsx').split(' ').filter(Boolean);
  const names = (process.env.BENCH_TARGETS ?? 'wxbot,bare').split(',');
  const api = await startFakeWeChatApi({ credentials: [{ id: CORP, secret: SECRET }] });

  interface Target {
    name: string;
    child: ChildProcess;
    notify: (openKfId: string) => Promise<void>;
    cpu: () => Promise<number>;
    results: number[];
  }
  const targets: Target[] = [];
  for (const name of names) {
    const at = name.indexOf('@');
    const [kind, dir] = at < 0 ? [name, resolve(import.meta.dirname, '..')] : [name.slice(0, at), resolve(name.slice(at + 1))];
    const child = fork(resolve(dir, 'bench', 'kf.ts'), ['--target', kind, api.url], {
      cwd: dir,
      execArgv: NODE_ARGS,
      stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
    });
    const answers: ((m: { cpu?: number; url?: string }) => void)[] = [];
    child.on('message', (m: { cpu?: number; url?: string }) => answers.shift()?.(m));
    const ask = (m: unknown) =>
      new Promise<{ cpu?: number; url?: string }>((ok) => {
        answers.push(ok);
        child.send(m as object);
      });
    const { url } = await new Promise<{ url?: string }>((ok) => answers.push(ok));
    const peer = url ? new WeChatPeer({ url: `${url}/wecom/kf`, kind: 'wecomKf', token: TOKEN, encodingAESKey: AES_KEY, receiveId: CORP }) : undefined;
    targets.push({
      name,
      child,
      results: [],
      cpu: async () => (await ask('cpu')).cpu ?? Number.NaN,
      notify: async (openKfId) => {
        if (peer) {
          const response = await peer.event('kf_msg_or_event', { Token: `bench-${openKfId}`, OpenKfId: openKfId }, { from: 'sys' });
          if (response.body !== 'success') throw new Error(`${name}: notification answered ${response.status} ${response.body}`);
        } else child.send({ sync: openKfId });
      },
    });
  }

  let run = 0;
  async function pass(t: Target, count: number): Promise<number> {
    const openKfId = `wk-bench-${++run}`;
    const customers = Math.max(1, Math.round(count / 10));
    for (let i = 0; i < count; i++) api.kf.push(openKfId, { external_userid: `${openKfId}-c${i % customers}`, text: { content: `m${i}` } });
    const before = api.deliveries.length;
    await t.cpu(); // resets the target's counter
    await t.notify(openKfId);
    await api.waitFor(() => api.deliveries.length - before >= count, 600_000);
    const cpu = (await t.cpu()) / count;
    const sent = api.deliveries.slice(before);
    if (sent.some((d) => d.endpoint !== 'kf/send_msg' || !d.text))
      throw new Error(`${t.name}: unexpected delivery ${JSON.stringify(sent.find((d) => d.endpoint !== 'kf/send_msg'))}`);
    return cpu;
  }

  for (const t of targets) await pass(t, Math.min(MESSAGES, 2000)); // warm-up: JIT, token, connections
  for (let i = 0; i < PASSES; i++) {
    // Order rotated every pass, so no target always runs right after the same other one.
    for (let k = 0; k < targets.length; k++) {
      const t = targets[(i + k) % targets.length]!;
      const cpu = await pass(t, MESSAGES);
      t.results.push(cpu);
      console.error(`pass ${i + 1} ${t.name}: ${cpu.toFixed(1)} µs CPU/msg`);
    }
  }
  printMedians(targets, `per message synced and answered (${PASSES} × ${MESSAGES})`);
  await endTargets(targets);
  await api.close();
  process.exit(0);
}

/** A target process: reports its CPU when asked; `wxbot` answers its URL, `bare` syncs on request. */
async function target(kind: string, apiUrl: string): Promise<void> {
  let last = process.cpuUsage();
  const onAsk = (m: unknown) => {
    if (m !== 'cpu') return;
    const used = process.cpuUsage(last);
    last = process.cpuUsage();
    process.send?.({ cpu: used.user + used.system });
  };
  process.on('message', onAsk);
  process.on('disconnect', () => process.exit(0));
  if (kind === 'bare') {
    const bare = bareKf(apiUrl);
    process.on('message', (m: { sync?: string }) => {
      if (m && typeof m === 'object' && m.sync) void bare(m.sync);
    });
    process.send?.({});
    return;
  }
  const { createBot, wecomKf } = await import('@wxbot/core');
  const bot = createBot({
    channels: [
      wecomKf({
        corpId: CORP,
        secret: SECRET,
        token: TOKEN,
        encodingAESKey: AES_KEY,
        apiBaseUrl: apiUrl,
        cursorFile: join(mkdtempSync(join(tmpdir(), 'wxbot-bench-kf-')), 'cursors.json'),
      }),
    ],
    logger: { level: process.env.LOG_LEVEL ?? 'info' },
  });
  bot.on('text', (ctx) => ctx.reply(`收到：${ctx.message.type === 'text' ? ctx.message.text : ''}`));
  const { url } = await bot.start({ port: 0, host: '127.0.0.1' });
  process.send?.({ url });
}

/** The floor: what syncing and answering costs with nothing but node:http and JSON. */
function bareKf(apiUrl: string): (openKfId: string) => Promise<void> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 32 });
  const { hostname, port } = new URL(apiUrl);
  const call = (path: string, body?: unknown) =>
    new Promise<Record<string, unknown>>((ok, fail) => {
      const data = body === undefined ? undefined : JSON.stringify(body);
      const req = http.request(
        {
          host: hostname,
          port,
          path,
          agent,
          method: data ? 'POST' : 'GET',
          headers: data ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) } : {},
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const answer = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>;
            if (answer['errcode']) fail(new Error(`${path}: ${answer['errcode']} ${answer['errmsg']}`));
            else ok(answer);
          });
        },
      );
      req.on('error', fail);
      req.end(data);
    });
  let token: string | undefined;
  const cursors = new Map<string, string>();
  return async (openKfId) => {
    token ??= String((await call(`/cgi-bin/gettoken?corpid=${CORP}&corpsecret=${SECRET}`))['access_token']);
    for (;;) {
      const cursor = cursors.get(openKfId);
      const page = await call(`/cgi-bin/kf/sync_msg?access_token=${token}`, { open_kfid: openKfId, limit: 1000, ...(cursor && { cursor }) });
      const items = (page['msg_list'] ?? []) as { msgid: string; external_userid: string; text?: { content: string } }[];
      let next = 0;
      const worker = async () => {
        while (next < items.length) {
          const item = items[next++]!;
          await call(`/cgi-bin/kf/send_msg?access_token=${token}`, {
            touser: item.external_userid,
            open_kfid: openKfId,
            msgid: `a${item.msgid}`.slice(0, 32),
            msgtype: 'text',
            text: { content: `收到：${item.text?.content ?? ''}` },
          });
        }
      };
      await Promise.all(Array.from({ length: 32 }, worker));
      if (page['next_cursor']) cursors.set(openKfId, String(page['next_cursor']));
      if (page['has_more'] !== 1) return;
    }
  };
}
