/**
 * The agents' WebSocket server is made, and `ws` loaded, at the first agent that signs in, not
 * at the plugin's setup. An agent that signs in while the bot stops must not get a session on
 * a server that is closing: its upgrade is dropped once `ws` has loaded. If `ws` fails to load,
 * the agent is refused (503) with an error line, and the next sign-in loads it again.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger, type Logger } from '@wxbot/core';
import { WebSocket } from 'ws';
import type { EventBus } from '../src/bus.ts';
import type { HandoffService } from '../src/service.ts';
import { AgentSocketServer } from '../src/wsServer.ts';

const TOKEN = 'socket-load-token-0123456789';

let http: Server | undefined;
afterEach(() => new Promise<void>((closed) => (http ? http.close(() => closed()) : closed())));

/** An AgentSocketServer on a fresh HTTP server; the service and bus see no use before a session. */
async function serve(extra: { log?: Logger; loadWs?: () => Promise<typeof import('ws')> } = {}): Promise<{ sockets: AgentSocketServer; url: string }> {
  const sockets = new AgentSocketServer({
    path: '/agent/ws',
    agents: [{ name: 'alice', token: TOKEN }],
    allowedOrigins: undefined,
    maxPayload: 64 * 1024,
    service: { list: async () => [] } as unknown as HandoffService,
    bus: { subscribe: () => () => {} } as unknown as EventBus,
    log: extra.log ?? createLogger({ level: 'silent' }),
    persistent: false,
    loginThrottle: false,
    trustProxy: false,
    ...(extra.loadWs && { loadWs: extra.loadWs }),
  });
  http = createServer();
  sockets.attach(http);
  await new Promise<void>((listening) => http!.listen(0, '127.0.0.1', listening));
  return { sockets, url: `ws://127.0.0.1:${(http.address() as AddressInfo).port}/agent/ws` };
}

/** Whether a client signing in with the token opened, or was refused (with the status) or cut. */
function signIn(url: string): Promise<'open' | 'refused' | number> {
  return new Promise((done) => {
    const ws = new WebSocket(url, { headers: { authorization: `Bearer ${TOKEN}` } });
    ws.once('open', () => {
      ws.terminate();
      done('open');
    });
    ws.once('unexpected-response', (_request, response) => done(response.statusCode ?? 'refused'));
    ws.once('error', () => done('refused'));
  });
}

describe('the agents WebSocket server, made at the first sign-in', () => {
  it('lets an agent in', async () => {
    const { sockets, url } = await serve();
    expect(await signIn(url)).toBe('open');
    await sockets.close();
  });

  it('drops an agent whose sign-in comes as the server closes, before ws has loaded', async () => {
    const { sockets, url } = await serve();
    // Listening after the AgentSocketServer: it has taken the upgrade and asked for ws by then.
    let closing: Promise<void> | undefined;
    http!.on('upgrade', () => (closing ??= sockets.close()));
    expect(await signIn(url)).toBe('refused');
    await closing;
  });

  it('refuses an agent with 503 and an error line when ws fails to load, and loads it at the next sign-in', async () => {
    const lines: string[] = [];
    const destination = new Writable({
      write(chunk, _encoding, next) {
        lines.push(String(chunk));
        next();
      },
    });
    const log = createLogger({ level: 'info', destination });
    let loads = 0;
    const loadWs = () => {
      // The first load fails as a process out of file descriptors would.
      if (++loads === 1) return Promise.reject(Object.assign(new Error("EMFILE: too many open files, open '/app/node_modules/ws/wrapper.mjs'"), { code: 'EMFILE' }));
      return import('ws');
    };
    const { sockets, url } = await serve({ log, loadWs });
    expect(await signIn(url)).toBe(503);
    expect(lines.join('')).toMatch(/"level":50.*EMFILE.*agent connection failed: the WebSocket server could not be started/);
    expect(await signIn(url)).toBe('open');
    expect(loads).toBe(2);
    await sockets.close();
  });
});
