/**
 * The AI bot's long connection loads `ws` when it starts connecting, not when @wxbot/core is
 * imported: a stop, or a stop and a new start, while that load is under way must leave no
 * connection behind, or two. Each case ends with a probe socket started after the others and
 * waits for its connection: the loads of `ws` settle in the order they were asked for, so by
 * then any connection the socket under test was going to open has been opened (no timing).
 * A load of `ws` that fails is logged and is one failed attempt: the reconnect loads it again.
 */
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocketServer } from 'ws';
import { AiBotSocket } from '../src/channels/aibot/socket.ts';
import { captureLogger } from './helpers.ts';

/** Accepts connections and answers nothing (no subscription is needed here); counts them by path. */
let server: WebSocketServer;
const connections = new Map<string, number>();
const waiting = new Set<() => void>();
beforeAll(async () => {
  server = new WebSocketServer({ port: 0, host: '127.0.0.1' });
  server.on('connection', (_ws, request) => {
    connections.set(request.url ?? '', (connections.get(request.url ?? '') ?? 0) + 1);
    for (const check of waiting) check();
  });
  await new Promise((listening) => server.once('listening', listening));
});
afterAll(async () => {
  for (const client of server.clients) client.terminate();
  await new Promise((closed) => server.close(closed));
});

function socket(path: string): AiBotSocket {
  const url = `ws://127.0.0.1:${(server.address() as AddressInfo).port}${path}`;
  return new AiBotSocket({ url, botId: 'aib-socket-start', secret: 'socket-start-secret-1', log: captureLogger().log, onCallback: () => {} });
}

/** Starts a socket on `path` after everything before it and resolves once it has connected. */
async function probe(path: string): Promise<void> {
  const s = socket(path);
  await new Promise<void>((connected) => {
    const check = () => {
      if (!connections.get(path)) return;
      waiting.delete(check);
      connected();
    };
    waiting.add(check);
    s.start();
  });
  await s.stop();
}

describe('AiBotSocket while ws is loading', () => {
  it('stopped before ws is loaded, it never connects', async () => {
    const s = socket('/stopped');
    s.start();
    await s.stop();
    await probe('/probe-1');
    expect(connections.get('/stopped')).toBeUndefined();
  });

  it('stopped and started again before ws is loaded, it connects once', async () => {
    const s = socket('/restarted');
    s.start();
    void s.stop();
    s.start();
    await probe('/probe-2');
    expect(connections.get('/restarted')).toBe(1);
    await s.stop();
  });
});

describe('AiBotSocket when ws fails to load', () => {
  it('logs the failure and connects at the reconnect, loading ws again', async () => {
    const logs = captureLogger();
    let loads = 0;
    const loadWs = () => {
      // The first load fails as a process out of file descriptors would.
      if (++loads === 1) return Promise.reject(Object.assign(new Error("EMFILE: too many open files, open '/app/node_modules/ws/wrapper.mjs'"), { code: 'EMFILE' }));
      return import('ws');
    };
    const url = `ws://127.0.0.1:${(server.address() as AddressInfo).port}/load-failed`;
    const s = new AiBotSocket({ url, botId: 'aib-socket-start', secret: 'socket-start-secret-1', log: logs.log, onCallback: () => {}, reconnectBaseMs: 1, loadWs });
    await new Promise<void>((connected) => {
      const check = () => {
        if (!connections.get('/load-failed')) return;
        waiting.delete(check);
        connected();
      };
      waiting.add(check);
      s.start();
    });
    await s.stop();
    expect(loads).toBe(2);
    expect(logs.lines).toContainEqual(expect.objectContaining({ level: 50, msg: expect.stringContaining('AI-bot WebSocket: the ws module could not be loaded') }));
    expect(logs.text()).toContain('EMFILE');
    expect(logs.text()).not.toContain('socket-start-secret-1');
  });
});
