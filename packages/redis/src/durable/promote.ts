import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';

/**
 * BullMQ 6.7's `promote` (commands/promote-9.lua, its includes inlined), with one change: the job
 * goes to the end of the wait list workers take from (RPUSH; workers RPOPLPUSH from the right),
 * not behind every job already waiting (LPUSH). A parked job woken because its turn came is then
 * the next one run, instead of waiting for the whole backlog. Prioritized jobs are as BullMQ has
 * them. KEYS: delayed, wait, paused, meta, prioritized, active, pc, events, marker; ARGV: the
 * queue's key prefix (`queue.toKey('')`), the job id. Returns 0, or -3 when the job is not delayed.
 */
const PROMOTE_TO_FRONT_LUA = `
local rcall = redis.call
local jobId = ARGV[2]
if rcall("ZREM", KEYS[1], jobId) ~= 1 then return -3 end
local jobKey = ARGV[1] .. jobId
local priority = tonumber(rcall("HGET", jobKey, "priority")) or 0
local attributes = rcall("HMGET", KEYS[4], "paused", "concurrency")
local pausedOrMaxed = false
if attributes[1] then
  pausedOrMaxed = true
elseif attributes[2] then
  pausedOrMaxed = rcall("LLEN", KEYS[6]) >= tonumber(attributes[2])
end
local marker = rcall("LINDEX", KEYS[2], 0)
if marker and string.sub(marker, 1, 2) == "0:" then rcall("LPOP", KEYS[2]) end
if priority == 0 then
  rcall("RPUSH", KEYS[2], jobId)
else
  local counter = rcall("INCR", KEYS[7])
  rcall("ZADD", KEYS[5], priority * 0x100000000 + counter % 0x100000000, jobId)
end
if not pausedOrMaxed then rcall("ZADD", KEYS[9], 0, "0") end
rcall("XADD", KEYS[8], "*", "event", "waiting", "jobId", jobId, "prev", "delayed")
rcall("HSET", jobKey, "delay", 0)
return 0`;

/** The script's KEYS, as BullMQ names them (`queue.toKey(name)`). */
const KEYS = ['delayed', 'wait', 'paused', 'meta', 'prioritized', 'active', 'pc', 'events', 'marker'];

type WithPromote = Redis & { wxbotPromoteToFront(...keysAndArgs: string[]): Promise<number> };
const defined = new WeakSet<Redis>();

/**
 * Moves delayed job `id` of `queue` to the waiting jobs' front: the next a worker takes (see
 * {@link PROMOTE_TO_FRONT_LUA}). False when the job is not delayed (running, waiting or done).
 * `redis`: a connection to the queue's server.
 */
export async function promoteToFront(redis: Redis, queue: Queue, id: string): Promise<boolean> {
  if (!defined.has(redis)) {
    redis.defineCommand('wxbotPromoteToFront', { numberOfKeys: 9, lua: PROMOTE_TO_FRONT_LUA });
    defined.add(redis);
  }
  const keys = KEYS.map((name) => queue.toKey(name));
  const code = await (redis as WithPromote).wxbotPromoteToFront(...keys, queue.toKey(''), id);
  return code === 0;
}
