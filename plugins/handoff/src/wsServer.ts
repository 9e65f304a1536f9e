import { randomUUID } from 'node:crypto';
import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { loadOnUse, type Logger, type Reply } from '@wxbot/core';
import type { RawData, WebSocket, WebSocketServer } from 'ws';
import { AgentAuth, originAllowed, tokenOf } from './auth.ts';
import type { EventBus } from './bus.ts';
import type { AgentConfig } from './options.ts';
import { clientAddress, LoginThrottle, type LoginThrottleOptions } from './throttle.ts';
import { CommandError, parseCommand, PROTOCOL_VERSION, type Command, type RequestId, type ServerEvent } from './protocol.ts';
import type { Agent, HandoffService } from './service.ts';

export interface AgentSocketOptions {
  readonly path: string;
  readonly agents: readonly AgentConfig[];
  readonly allowedOrigins: readonly string[] | undefined;
  readonly maxPayload: number;
  readonly service: HandoffService;
  readonly bus: EventBus;
  readonly log: Logger;
  /** Whether the conversations outlive this process (told to agents in `hello`). */
  readonly persistent: boolean;
  /** Bad-token throttle per client address; `false`: none. */
  readonly loginThrottle: Partial<LoginThrottleOptions> | false;
  /** Count the last `X-Forwarded-For` address instead of the TCP peer (behind one proxy). */
  readonly trustProxy: boolean;
  /** Where `ws` comes from (default: `import('ws')`; tests hand in one that fails). */
  readonly loadWs?: () => Promise<typeof import('ws')>;
}

const importWs = () => import('ws');

const PING_EVERY_MS = 30_000;
/** An agent whose socket buffers more than this is too slow to keep up: it is dropped and reconnects. */
const MAX_BUFFERED_BYTES = 8 * 1024 * 1024;

/**
 * The agents' WebSocket endpoint. Upgrades on `path` only (other upgrade requests are left
 * to whoever else listens); a bad token gets 401 and a foreign Origin 403 before any
 * WebSocket exists, with an empty body.
 */
export class AgentSocketServer {
  /**
   * Made at the first agent that signs in: `ws` is loaded then, not at start-up (~0.35 MiB of the
   * resting heap of a bot whose console nobody opens). The last sign-in's load, for `close`.
   */
  #wss: Promise<WebSocketServer> | undefined;
  /** Its sockets, once it exists (the pings and `close` go through them). */
  #clients: ReadonlySet<WebSocket> = new Set();
  #closed = false;
  readonly #alive = new WeakSet<WebSocket>();
  readonly #auth: AgentAuth;
  readonly #throttle: LoginThrottle | undefined;
  readonly #options: AgentSocketOptions;
  readonly #servers = new Map<Server, (request: IncomingMessage, socket: Duplex, head: Buffer) => void>();
  readonly #ping: NodeJS.Timeout;
  /** Names this server (one per bot start) in `hello`, so a console sees that it restarted. */
  readonly #instance = randomUUID();

  constructor(options: AgentSocketOptions) {
    this.#options = options;
    this.#auth = new AgentAuth(options.agents);
    this.#throttle = options.loginThrottle === false ? undefined : new LoginThrottle(options.loginThrottle);
    const alive = this.#alive;
    // Drops sockets whose peer vanished without a close (laptop lid shut, network gone).
    this.#ping = setInterval(() => {
      for (const ws of this.#clients) {
        if (!alive.has(ws)) {
          ws.terminate();
          continue;
        }
        alive.delete(ws);
        ws.ping();
      }
    }, PING_EVERY_MS);
    this.#ping.unref();
  }

  /**
   * The WebSocket server, made (and `ws` loaded) the first time an agent signs in; if `ws` could
   * not be loaded, again at the next sign-in (core's loadOnUse).
   */
  readonly #server = loadOnUse<WebSocketServer>(() =>
    (this.#options.loadWs ?? importWs)().then(({ WebSocketServer }) => {
      // No compression: agents' frames are small, and deflate is a known memory sink.
      const wss = new WebSocketServer({ noServer: true, maxPayload: this.#options.maxPayload, perMessageDeflate: false, clientTracking: true });
      wss.on('connection', (ws: WebSocket) => {
        this.#alive.add(ws);
        ws.on('pong', () => this.#alive.add(ws));
      });
      this.#clients = wss.clients;
      return wss;
    }),
  );

  /** Starts answering upgrade requests of `server`. */
  attach(server: Server): void {
    if (this.#servers.has(server)) return;
    const onUpgrade = (request: IncomingMessage, socket: Duplex, head: Buffer) => this.#upgrade(server, request, socket, head);
    this.#servers.set(server, onUpgrade);
    server.on('upgrade', onUpgrade);
  }

  /** Closes every agent socket and stops answering upgrades. */
  async close(): Promise<void> {
    clearInterval(this.#ping);
    for (const [server, onUpgrade] of this.#servers) server.off('upgrade', onUpgrade);
    this.#servers.clear();
    this.#closed = true;
    const wss = await this.#wss?.catch(() => undefined);
    if (!wss) return;
    this.#closeSockets();
    await new Promise<void>((resolve) => wss.close(() => resolve()));
  }

  #closeSockets(): void {
    for (const ws of this.#clients) ws.close(1001, 'server going away');
    // Peers that do not answer the close handshake are cut shortly after.
    const clients = [...this.#clients];
    setTimeout(() => {
      for (const ws of clients) ws.terminate();
    }, 1000).unref();
  }

  /**
   * Authenticates an HTTP request of the console (its image routes) under the same per-address
   * bad-token throttle as the socket: `throttled` (answer 429) without looking at the token.
   */
  authenticateHttp(request: IncomingMessage, token: string | undefined): AgentConfig | 'throttled' | undefined {
    const remote = clientAddress(request, this.#options.trustProxy);
    if ((this.#throttle?.blockedFor(remote) ?? 0) > 0) return 'throttled';
    const agent = this.#auth.authenticate(token);
    if (!agent) {
      this.#options.log.warn({ remote }, 'console request refused: bad or missing token');
      const blockMs = this.#throttle?.fail(remote) ?? 0;
      if (blockMs > 0) this.#options.log.warn({ remote, blockMs }, 'agent login throttled: too many bad tokens from this address; refused (429) until the block ends');
      return undefined;
    }
    this.#throttle?.succeed(remote);
    return agent;
  }

  #upgrade(server: Server, request: IncomingMessage, socket: Duplex, head: Buffer): void {
    let url: URL | undefined;
    try {
      url = new URL(request.url ?? '/', 'http://localhost');
    } catch {
      url = undefined;
    }
    if (url?.pathname !== this.#options.path) {
      // Another listener may own that path; with none, Node would leave the socket hanging.
      if (server.listenerCount('upgrade') === 1) refuse(socket, 404, 'Not Found');
      return;
    }
    socket.on('error', () => socket.destroy());
    const remote = clientAddress(request, this.#options.trustProxy);
    const throttle = this.#throttle;
    const wait = throttle?.blockedFor(remote) ?? 0;
    if (wait > 0) {
      // Blocked: the token is not even looked at, so guessing on costs nothing but time.
      refuse(socket, 429, 'Too Many Requests', `Retry-After: ${Math.ceil(wait / 1000)}\r\n`);
      return;
    }
    const agent = this.#auth.authenticate(tokenOf(request, url));
    if (!agent) {
      const { log } = this.#options;
      log.warn({ remote }, 'agent connection refused: bad or missing token');
      const blockMs = throttle?.fail(remote) ?? 0;
      if (blockMs > 0) log.warn({ remote, blockMs }, 'agent login throttled: too many bad tokens from this address; refused (429) until the block ends');
      refuse(socket, 401, 'Unauthorized');
      return;
    }
    throttle?.succeed(remote);
    if (!originAllowed(request, this.#options.allowedOrigins)) {
      this.#options.log.warn({ remote: request.socket.remoteAddress, origin: request.headers.origin?.slice(0, 200) }, 'agent connection refused: Origin not allowed');
      refuse(socket, 403, 'Forbidden');
      return;
    }
    this.#wss = this.#server();
    this.#wss.then(
      (wss) => {
        // Closed while ws was loading: the bot is stopping, as for an upgrade after close.
        if (this.#closed) return void socket.destroy();
        wss.handleUpgrade(request, socket, head, (ws) => {
          wss.emit('connection', ws, request);
          this.#session(ws, { name: agent.name, ...(agent.wecomUserId && { wecomUserId: agent.wecomUserId }) });
        });
      },
      (error: unknown) => {
        this.#options.log.error({ err: error }, 'agent connection failed: the WebSocket server could not be started (ws could not be loaded; tried again at the next sign-in)');
        refuse(socket, 503, 'Service Unavailable');
      },
    );
  }

  #session(ws: WebSocket, agent: Agent): void {
    const { service, bus, log, maxPayload } = this.#options;
    log.info({ agent: agent.name }, 'agent connected');
    const send = (event: ServerEvent) => {
      if (ws.readyState !== ws.OPEN) return;
      if (ws.bufferedAmount > MAX_BUFFERED_BYTES) {
        log.warn({ agent: agent.name }, 'agent socket too slow; dropped (it reconnects and gets hello)');
        ws.terminate();
        return;
      }
      ws.send(JSON.stringify(event));
    };
    // Subscribe before reading the list, so nothing that happens in between is missed.
    const unsubscribe = bus.subscribe(send);
    ws.on('close', (code) => {
      unsubscribe();
      log.info({ agent: agent.name, code }, 'agent disconnected');
    });
    ws.on('error', (error) => log.warn({ agent: agent.name, err: error }, 'agent socket error'));
    void service
      .list()
      .then((conversations) =>
        send({ type: 'hello', protocol: PROTOCOL_VERSION, agent: { name: agent.name }, conversations, maxPayload, instance: this.#instance, persistent: this.#options.persistent }),
      )
      .catch((error: unknown) => {
        log.error({ err: error }, 'agent hello failed');
        ws.close(1011, 'state unavailable');
      });
    ws.on('message', (data: RawData, isBinary: boolean) => {
      if (isBinary) {
        send({ type: 'error', code: 'bad_request', message: 'send JSON text frames' });
        return;
      }
      const parsed = parseCommand(rawText(data));
      if ('error' in parsed) {
        send({ type: 'error', ...(parsed.id !== undefined && { id: parsed.id }), code: parsed.error.code, message: parsed.error.message });
        return;
      }
      void this.#run(parsed.command, agent).then(send, (error: unknown) => {
        if (error instanceof CommandError) {
          send({ type: 'error', id: parsed.command.id, code: error.code, message: error.message });
          return;
        }
        log.error({ err: error, agent: agent.name, command: parsed.command.type }, 'agent command failed');
        send({ type: 'error', id: parsed.command.id, code: 'internal', message: 'internal error' });
      });
    });
  }

  async #run(command: Command, agent: Agent): Promise<ServerEvent> {
    const { service } = this.#options;
    const id: RequestId = command.id;
    switch (command.type) {
      case 'reply': {
        const reply = replyOf(command);
        return { type: 'ack', id, conversation: await service.reply(command.conversationId, agent, reply) };
      }
      case 'takeover':
        return { type: 'ack', id, conversation: await service.takeover(command.conversationId, agent) };
      case 'release':
        return { type: 'ack', id, conversation: await service.release(command.conversationId, agent) };
      case 'close':
        await service.close(command.conversationId, agent);
        return { type: 'ack', id };
      case 'history':
        return { type: 'history', id, conversationId: command.conversationId, messages: await service.history(command.conversationId, command.limit) };
    }
  }
}

function replyOf(command: Extract<Command, { type: 'reply' }>): Reply {
  if (command.text !== undefined && command.image === undefined) return { type: 'text', text: command.text };
  if (command.image !== undefined && command.text === undefined) return { type: 'image', mediaId: command.image.mediaId };
  throw new CommandError('bad_reply', 'give text or image, one of them');
}

function rawText(data: RawData): string {
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8');
  return Buffer.isBuffer(data) ? data.toString('utf8') : Buffer.from(data).toString('utf8');
}

/** Ends an upgrade with a bare status: no body, nothing about why beyond the status. */
function refuse(socket: Duplex, status: number, text: string, headers = ''): void {
  socket.end(`HTTP/1.1 ${status} ${text}\r\n${headers}Connection: close\r\nContent-Length: 0\r\n\r\n`);
}
