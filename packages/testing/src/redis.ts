import { connect } from 'node:net';

/**
 * Whether a Redis server answers PING at `url` (within about a second). Speaks the one RESP
 * exchange it needs over a plain socket, so @wxbot/testing does not depend on a Redis client.
 */
export async function redisReachable(url = 'redis://127.0.0.1:6379'): Promise<boolean> {
  const { hostname, port } = new URL(url);
  return new Promise<boolean>((resolve) => {
    const socket = connect({ host: hostname || '127.0.0.1', port: Number(port || 6379) });
    let answer = '';
    const done = (reachable: boolean) => {
      socket.destroy();
      resolve(reachable);
    };
    socket.setTimeout(1000, () => done(false));
    socket.on('error', () => done(false));
    socket.on('connect', () => socket.write('*1\r\n$4\r\nPING\r\n'));
    socket.on('data', (chunk) => {
      answer += chunk.toString('latin1');
      // +PONG, or an error (-NOAUTH…): the server is there either way, but only PONG is usable.
      if (answer.includes('\r\n')) done(answer.startsWith('+PONG'));
    });
  });
}

/**
 * Whether Redis-backed tests should run: always when `CI=true` (Redis is part of the machine
 * there, so a missing server must fail loudly), else only when one answers. Warns when skipping.
 */
export async function shouldRunRedisTests(what: string, url = 'redis://127.0.0.1:6379'): Promise<boolean> {
  if (process.env.CI === 'true' || (await redisReachable(url))) return true;
  console.warn(`${what} skipped: no Redis at ${url} (CI=true requires it)`);
  return false;
}
