/**
 * The two servers the callback bench compares, each run in its own process:
 * - `floor`: bare Koa that only verifies, decrypts, encrypts and answers (the least any
 *   server must do for an encrypted WeCom echo);
 * - `wxbot`: the real bot (WeCom app channel + echo plugin, info logging to /dev/null).
 */
import Koa from 'koa';
import pino from 'pino';
import { WXBizMsgCrypt, createBot, wecomApp } from '@wxbot/core';
import { echo } from '@wxbot/plugin-echo';
import { BENCH } from './config.ts';

const mode = process.argv[2];
// SIGUSR2 prints the CPU time (user + system, µs) spent since the last SIGUSR2: the bench
// divides it by the requests served, a cost per request that does not depend on how fast the
// load generator (on the same 2 cores) can go.
let lastCpu = process.cpuUsage();
process.on('SIGUSR2', () => {
  const used = process.cpuUsage(lastCpu);
  console.log(`CPU ${used.user + used.system}`);
  lastCpu = process.cpuUsage();
});
process.on('SIGINT', () => process.exit(0));

async function main(): Promise<void> {
  if (mode === 'floor') {
    const crypt = new WXBizMsgCrypt(BENCH.token, BENCH.encodingAESKey, BENCH.corpId);
    const app = new Koa();
    app.use(async (ctx) => {
      let body = '';
      for await (const chunk of ctx.req) body += chunk;
      const encrypted = /<Encrypt><!\[CDATA\[(.*?)\]\]><\/Encrypt>/.exec(body)![1]!;
      const q = ctx.query as Record<string, string>;
      const xml = crypt.open(q['msg_signature'], q['timestamp']!, q['nonce']!, encrypted);
      const content = /<Content><!\[CDATA\[(.*?)\]\]><\/Content>/.exec(xml)![1]!;
      const from = /<FromUserName><!\[CDATA\[(.*?)\]\]><\/FromUserName>/.exec(xml)![1]!;
      const reply = `<xml><ToUserName><![CDATA[${from}]]></ToUserName><FromUserName><![CDATA[${BENCH.corpId}]]></FromUserName><CreateTime>${Math.floor(Date.now() / 1000)}</CreateTime><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[${content}]]></Content></xml>`;
      ctx.body = crypt.seal(reply, String(Math.floor(Date.now() / 1000)), '12345');
    });
    const server = app.listen(0, '127.0.0.1', () => console.log(`PORT ${(server.address() as { port: number }).port}`));
    return;
  }
  const bot = createBot({
    channels: [wecomApp({ corpId: BENCH.corpId, token: BENCH.token, encodingAESKey: BENCH.encodingAESKey, path: '/wecom/callback' })],
    plugins: [echo()],
    logger: pino({ level: 'info' }, pino.destination({ dest: '/dev/null', sync: false })),
  });
  const { port } = await bot.start({ port: 0, host: '127.0.0.1' });
  console.log(`PORT ${port}`);
}

void main();
