import type { Redis } from 'ioredis';

type SendCommand = Redis['sendCommand'];

const coalesced = new WeakSet<Redis>();

/**
 * Makes the commands that `redis` is given in one turn of the event loop leave in one socket
 * write: the connection is corked at the first command of a turn and uncorked once the turn's
 * synchronous code and promise continuations have run (`process.nextTick`, which runs after
 * them and before any I/O). Nothing waits longer than it would have: no command's answer can
 * come before that point anyway. A worker process issues a BullMQ job's completion, the next
 * job's turn check and other jobs' checks from the same continuations; written one by one,
 * every command was a system call of its own (most of the bot's CPU per KF message went to
 * them) and a read of its own for Redis. Commands written outside the `ready` state (queued
 * offline, handshake) and pipelines' own writes are left as they are.
 */
export function coalesceWrites(redis: Redis): void {
  if (coalesced.has(redis)) return;
  coalesced.add(redis);
  const send: SendCommand = redis.sendCommand;
  let corked: Redis['stream'] | undefined;
  const uncork = () => {
    const socket = corked;
    corked = undefined;
    socket?.uncork();
  };
  redis.sendCommand = function (this: Redis, command, stream) {
    const socket = this.stream;
    if (corked === undefined && stream === undefined && this.status === 'ready' && socket?.writable) {
      socket.cork();
      corked = socket;
      process.nextTick(uncork);
    }
    return send.call(this, command, stream);
  } as SendCommand;
}
