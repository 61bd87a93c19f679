import { createHash } from 'node:crypto'
import type { Cluster, Redis } from 'ioredis'

export type Script = { lua: string; sha: string }

export function script(lua: string): Script {
  return { lua, sha: createHash('sha1').update(lua).digest('hex') }
}

/** Runs a script by its SHA, loading it on the first NOSCRIPT (after a restart or failover). */
export async function runScript(
  redis: Redis | Cluster,
  { lua, sha }: Script,
  keys: readonly string[],
  args: readonly (string | number)[],
): Promise<unknown> {
  try {
    return await redis.evalsha(sha, keys.length, ...keys, ...args)
  } catch (err) {
    if (!(err instanceof Error) || !err.message.startsWith('NOSCRIPT')) throw err
    return await redis.eval(lua, keys.length, ...keys, ...args)
  }
}

// KEYS: record, events, pending. ARGV: id, due (ms), event, then field/value pairs. Writes nothing
// if the record exists. The pending index gets the message in the same step, so a message whose job
// never reached the queue (the API died in between) is found by the sweeper.
export const CREATE_MESSAGE = script(`
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV, 4))
redis.call('RPUSH', KEYS[2], ARGV[3])
redis.call('ZADD', KEYS[3], ARGV[2], ARGV[1])
return 1
`)

// KEYS: record, events, pending. ARGV: token, now, event for a first claim, event for a take-over,
// id, then the fields to return. A message in `sending` whose hand-over is still `connecting`
// belongs to an attempt that lost its job lock (crash or stall): the new attempt takes it over, and
// the old one's commit then fails. One whose hand-over is `committing` may be at the server already
// and is never claimed again. A claim returns the record's fields, so an attempt reads it in the
// same round trip.
export const CLAIM_MESSAGE = script(`
local status = redis.call('HGET', KEYS[1], 'status')
if not status then return {'missing'} end
if status == 'sending' then
  if redis.call('HGET', KEYS[1], 'handoff') == 'committing' then
    local held = redis.call('HMGET', KEYS[1], 'token', 'committedAt', 'recipients', 'request', 'stream', 'serverId', 'sandbox')
    return {'committing', held[1], held[2], held[3], held[4], held[5], held[6], held[7]}
  end
elseif status ~= 'queued' and status ~= 'scheduled' and status ~= 'deferred' then
  return {'final', status}
end
local attempts = redis.call('HINCRBY', KEYS[1], 'attempts', 1)
redis.call('HSET', KEYS[1], 'status', 'sending', 'handoff', 'connecting', 'token', ARGV[1], 'updatedAt', ARGV[2])
redis.call('ZREM', KEYS[3], ARGV[5])
if status == 'sending' then
  redis.call('RPUSH', KEYS[2], ARGV[4])
else
  redis.call('RPUSH', KEYS[2], ARGV[3])
end
return {'claimed', tostring(attempts), redis.call('HMGET', KEYS[1], unpack(ARGV, 6))}
`)

// KEYS: record. ARGV: token, now, then field/value pairs (the server, From and envelope used). The
// point of no return: only the attempt that holds the claim may let the end of DATA reach the
// server. The fields are written with it, so a record whose attempt died here still says how it
// was sent.
export const COMMIT_HANDOFF = script(`
if redis.call('HGET', KEYS[1], 'status') ~= 'sending' then return 0 end
if redis.call('HGET', KEYS[1], 'token') ~= ARGV[1] then return 0 end
if redis.call('HGET', KEYS[1], 'handoff') ~= 'connecting' then return 0 end
redis.call('HSET', KEYS[1], 'handoff', 'committing', 'committedAt', ARGV[2], 'updatedAt', ARGV[2])
if #ARGV > 2 then redis.call('HSET', KEYS[1], unpack(ARGV, 3)) end
return 1
`)

// KEYS: record, events, pending, webhook events. ARGV: token, event, ttl seconds (0: none), id, due
// (ms; '' when the message no longer waits for an attempt), n, then n webhook events, then
// field/value pairs. The webhook events are appended in the same step as the outcome they report:
// no outcome is recorded without its events.
export const RECORD_OUTCOME = script(`
if redis.call('HGET', KEYS[1], 'token') ~= ARGV[1] then return 0 end
local n = tonumber(ARGV[6])
redis.call('HDEL', KEYS[1], 'handoff')
redis.call('HSET', KEYS[1], unpack(ARGV, 7 + n))
redis.call('RPUSH', KEYS[2], ARGV[2])
for i = 7, 6 + n do redis.call('XADD', KEYS[4], '*', 'e', ARGV[i]) end
if ARGV[5] == '' then
  redis.call('ZREM', KEYS[3], ARGV[4])
else
  redis.call('ZADD', KEYS[3], ARGV[5], ARGV[4])
end
local ttl = tonumber(ARGV[3])
if ttl > 0 then
  redis.call('EXPIRE', KEYS[1], ttl)
  redis.call('EXPIRE', KEYS[2], ttl)
end
return 1
`)

// KEYS: record, events, pending, webhook events. ARGV: event, now, ttl seconds, id, webhook event
// ('' for none). Only before the point of no return. Recipients still waiting become `canceled`, so
// the record says none of them was mailed.
export const CANCEL_MESSAGE = script(`
local status = redis.call('HGET', KEYS[1], 'status')
if not status then return {'missing'} end
local handoff = redis.call('HGET', KEYS[1], 'handoff')
if status == 'queued' or status == 'scheduled' or status == 'deferred'
  or (status == 'sending' and handoff == 'connecting') then
  local recipients = cjson.decode(redis.call('HGET', KEYS[1], 'recipients'))
  for _, recipient in ipairs(recipients) do
    if recipient.status == 'pending' or recipient.status == 'deferred' then
      recipient.status = 'canceled'
    end
  end
  redis.call('HSET', KEYS[1], 'status', 'canceled', 'updatedAt', ARGV[2], 'recipients', cjson.encode(recipients))
  redis.call('HDEL', KEYS[1], 'token', 'handoff')
  redis.call('RPUSH', KEYS[2], ARGV[1])
  redis.call('ZREM', KEYS[3], ARGV[4])
  if ARGV[5] ~= '' then redis.call('XADD', KEYS[4], '*', 'e', ARGV[5]) end
  redis.call('EXPIRE', KEYS[1], tonumber(ARGV[3]))
  redis.call('EXPIRE', KEYS[2], tonumber(ARGV[3]))
  return {'canceled', status}
end
return {'conflict', status}
`)

// KEYS: idempotency key. ARGV: entry, ttl seconds. Returns the earlier entry, or nil after storing.
// (SET NX GET would do, but needs Redis 7.)
export const RESERVE_IDEMPOTENCY_KEY = script(`
local earlier = redis.call('GET', KEYS[1])
if earlier then return earlier end
redis.call('SET', KEYS[1], ARGV[1], 'EX', tonumber(ARGV[2]))
return false
`)
