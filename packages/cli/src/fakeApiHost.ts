import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { FakeCredential, FakeWeChatApi } from '@wxbot/testing';
import { loadTestingKit } from './testingKit.ts';
import { describeActiveSend } from './describeReply.ts';

export interface FakeApiHostOptions {
  credentials: FakeCredential[];
  /** Port to listen on; 0 or undefined: a random one. */
  port?: number;
  /** Where lines go (console.log in the CLI). */
  print: (line: string) => void;
}

/** A fake WeChat API run by the CLI, printing every active send it accepts. */
export interface FakeApiHost {
  readonly api: FakeWeChatApi;
  /** The URL the bot's API base must point at. */
  readonly url: string;
  /** Prints the sends not printed yet. */
  flush(): void;
  /** Waits `ms` for late answers (printing them as they come), then prints what is left. */
  drain(ms: number): Promise<void>;
  close(): Promise<void>;
}

/** The send endpoints a bot answers through, and where the fake keeps their accepted bodies. */
const SENT: readonly { endpoint: string; sent: (api: FakeWeChatApi) => readonly Record<string, unknown>[] }[] = [
  { endpoint: 'message/custom/send', sent: (api) => api.officialAccount.sent },
  { endpoint: 'message/send', sent: (api) => api.wecom.sent },
  { endpoint: 'kf/send_msg', sent: (api) => api.kf.sent },
  { endpoint: 'kf/send_msg_on_event', sent: (api) => api.kf.sentOnEvent },
  { endpoint: 'aibot response_url', sent: (api) => api.aibot.responses.map((response) => response.body) },
];

/**
 * Starts the fake WeChat API of @wxbot/testing for `wxbot simulate --fake-api`. The fake
 * always listens on a random port, so for a fixed `port` (which a bot started earlier can
 * already point at) a small forwarding server listens there and passes everything through.
 */
export async function hostFakeApi(options: FakeApiHostOptions): Promise<FakeApiHost> {
  const { startFakeWeChatApi } = await loadTestingKit();
  const api = await startFakeWeChatApi({ credentials: options.credentials });
  let proxy: Server | undefined;
  let url = api.url;
  if (options.port) {
    try {
      proxy = await forward(options.port, new URL(api.url));
    } catch (error) {
      await api.close();
      throw new Error(`the fake WeChat API cannot listen on port ${options.port}: ${(error as Error).message}`);
    }
    url = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
  }

  const printed = SENT.map(() => 0);
  const flush = () => {
    SENT.forEach(({ endpoint, sent }, i) => {
      const bodies = sent(api);
      for (const body of bodies.slice(printed[i] ?? 0)) {
        const to = typeof body['touser'] === 'string' ? ` to ${body['touser']}` : '';
        options.print(`→ active: ${describeActiveSend(body)}  (${endpoint}${to})`);
      }
      printed[i] = bodies.length;
    });
  };
  // Polling is enough here: the fake records synchronously, and a person reads the output.
  const timer = setInterval(flush, 50);

  return {
    api,
    url,
    flush,
    async drain(ms) {
      await new Promise((done) => setTimeout(done, ms));
      flush();
    },
    async close() {
      clearInterval(timer);
      flush();
      if (proxy) await closeServer(proxy);
      await api.close();
    },
  };
}

/** Listens on `port` and forwards every request to `target` unchanged. */
function forward(port: number, target: URL): Promise<Server> {
  const server = createServer((req, res) => {
    const upstream = request({ host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    upstream.on('error', () => {
      if (!res.headersSent) res.writeHead(502);
      res.end();
    });
    req.pipe(upstream);
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve(server));
  });
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections(); // the bot's keep-alive sockets would hold close() open
  });
}
