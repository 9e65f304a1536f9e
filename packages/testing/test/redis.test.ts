import { createServer, type AddressInfo, type Server } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { redisReachable } from '../src/index.ts';

/** A TCP server that answers the first thing it reads with `reply`. */
async function fakeRedis(reply: string): Promise<{ server: Server; url: string; received: () => string }> {
  let received = '';
  const server = createServer((socket) =>
    socket.on('data', (chunk) => {
      received += chunk;
      socket.write(reply);
    }),
  );
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  return { server, url: `redis://127.0.0.1:${(server.address() as AddressInfo).port}`, received: () => received };
}

describe('redisReachable', () => {
  let server: Server | undefined;
  afterEach(() => server?.close());

  it('is true when the server answers PING with PONG', async () => {
    const fake = await fakeRedis('+PONG\r\n');
    server = fake.server;
    expect(await redisReachable(fake.url)).toBe(true);
    expect(fake.received()).toBe('*1\r\n$4\r\nPING\r\n');
  });

  it('is false for a server that refuses PING (auth required) or a closed port', async () => {
    const fake = await fakeRedis('-NOAUTH Authentication required.\r\n');
    server = fake.server;
    expect(await redisReachable(fake.url)).toBe(false);
    expect(await redisReachable('redis://127.0.0.1:1')).toBe(false);
  });
});
