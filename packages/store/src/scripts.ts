import { createHash } from 'node:crypto'
import type { Cluster, Redis } from 'ioredis'
import { INDEX_WRITES_LUA, moveStatusLua } from './message-index.js'

export type Script = { lua: string; sha: string }

export function script(lua: string): Script {
  return { lua, sha: createHash('sha1').update(lua).digest('hex') }
}

/** Runs a script by its SHA, loading it on the first NOSCRIPT (after a restart or failover). */
export async function runScript(
  redis: Redis | Cluster,
  { lua, sha }: Script,
  keys: readonly string[],
  args: readonly (string | number | Buffer)[],
): Promise<unknown> {
  try {
    return await redis.evalsha(sha, keys.length, ...keys, ...args)
  } catch (err) {
    if (!(err instanceof Error) || !err.message.startsWith('NOSCRIPT')) throw err
    return await redis.eval(lua, keys.length, ...keys, ...args)
  }
}

// Adds a stats count to a shard's hour and day buckets (two of the caller's keys): `counts` is
// JSON `{"<metric>": n}`, the fields are `<metric>|<stream>|<serverId>`, and both buckets expire
// 400 days after they end (`hourAt`, `dayAt`: Unix seconds). Two HINCRBY per metric and two
// EXPIREAT per step, inside the script that records what it counts.
const COUNT_STATS = `
local function countStats(hourKey, dayKey, counts, hourAt, dayAt, stream, server)
  if counts == '' then return end
  local any = false
  for metric, n in pairs(cjson.decode(counts)) do
    if n ~= 0 then
      local field = metric .. '|' .. (stream or '') .. '|' .. (server or '')
      redis.call('HINCRBY', hourKey, field, n)
      redis.call('HINCRBY', dayKey, field, n)
      any = true
    end
  end
  if any then
    redis.call('EXPIREAT', hourKey, hourAt)
    redis.call('EXPIREAT', dayKey, dayAt)
  end
end
`

/** A script that counts stats (COUNT_STATS is defined before its body). */
export function countingScript(lua: string): Script {
  return script(COUNT_STATS + lua)
}

// Creates the records of many messages of one shard in one step. KEYS: pending, stats hour, stats
// day, a record and its events per message, then the search index keys. ARGV: n (messages), hour
// expiry, day expiry, then per message: id, due (ms), event, acceptance time (ms, the index
// score), k, k positions among the index keys (1-based), c, c stats field/count pairs, f, f hash
// field/value pairs. A message whose record exists is left as it is (0 in the reply, else 1). The
// pending index gets each message in the same step, so a message whose job never reached the
// queue (the API died in between) is found by the sweeper; the search indexes and the acceptance
// count too, so a record is never missing from a search or the stats. Each index key and stats
// field is written once per step, however many messages go into it.
export const CREATE_MESSAGES = script(`${INDEX_WRITES_LUA}
local n = tonumber(ARGV[1])
local firstIndex = 3 + 2 * n
local created, pending, counts, fields = {}, {}, {}, {}
local a = 4
for m = 1, n do
  local id, due, event, score = ARGV[a], ARGV[a + 1], ARGV[a + 2], ARGV[a + 3]
  local k = tonumber(ARGV[a + 4])
  local c = tonumber(ARGV[a + 5 + k])
  local f = tonumber(ARGV[a + 6 + k + 2 * c])
  local first = a + 7 + k + 2 * c
  local record = KEYS[2 + 2 * m]
  if redis.call('EXISTS', record) == 1 then
    created[m] = 0
  else
    created[m] = 1
    redis.call('HSET', record, unpack(ARGV, first, first + 2 * f - 1))
    redis.call('RPUSH', KEYS[3 + 2 * m], event)
    pending[#pending + 1] = due
    pending[#pending + 1] = id
    for i = a + 5, a + 4 + k do addToIndex(KEYS[firstIndex + tonumber(ARGV[i])], score, id) end
    for i = a + 6 + k, a + 5 + k + 2 * c, 2 do
      local field = ARGV[i]
      if not counts[field] then
        counts[field] = 0
        fields[#fields + 1] = field
      end
      counts[field] = counts[field] + tonumber(ARGV[i + 1])
    end
  end
  a = first + 2 * f
end
for i = 1, #pending, 2000 do
  redis.call('ZADD', KEYS[1], unpack(pending, i, math.min(i + 1999, #pending)))
end
writeIndexes()
for _, field in ipairs(fields) do
  redis.call('HINCRBY', KEYS[2], field, counts[field])
  redis.call('HINCRBY', KEYS[3], field, counts[field])
end
if #fields > 0 then
  redis.call('EXPIREAT', KEYS[2], ARGV[2])
  redis.call('EXPIREAT', KEYS[3], ARGV[3])
end
return created
`)

// KEYS: record, events, pending, the status indexes (statusIndexKeys). ARGV: token, now, event for a first claim, event for a take-over,
// id, then the fields to return. A message in `sending` whose hand-over is still `connecting`
// belongs to an attempt that lost its job lock (crash or stall): the new attempt takes it over, and
// the old one's commit then fails. One whose hand-over is `committing` may be at the server already
// and is never claimed again. A claim returns the record's fields, so an attempt reads it in the
// same round trip.
export const CLAIM_MESSAGE = script(`${moveStatusLua(4)}
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
moveStatus(ARGV[5], status, 'sending')
if status == 'sending' then
  redis.call('RPUSH', KEYS[2], ARGV[4])
else
  redis.call('RPUSH', KEYS[2], ARGV[3])
end
return {'claimed', tostring(attempts), redis.call('HMGET', KEYS[1], unpack(ARGV, 6))}
`)

// KEYS: record, raw source. ARGV: token, now, raw bytes ('' to keep none), raw retention (ms),
// then field/value pairs (the server, From and envelope used). The point of no return: only the
// attempt that holds the claim may let the end of DATA reach the server. The fields are written
// with it, so a record whose attempt died here still says how it was sent; so are the bytes about
// to go out, so the raw source is there exactly when a hand-over was.
export const COMMIT_HANDOFF = script(`
if redis.call('HGET', KEYS[1], 'status') ~= 'sending' then return 0 end
if redis.call('HGET', KEYS[1], 'token') ~= ARGV[1] then return 0 end
if redis.call('HGET', KEYS[1], 'handoff') ~= 'connecting' then return 0 end
redis.call('HSET', KEYS[1], 'handoff', 'committing', 'committedAt', ARGV[2], 'updatedAt', ARGV[2])
if #ARGV > 4 then redis.call('HSET', KEYS[1], unpack(ARGV, 5)) end
if ARGV[3] ~= '' then redis.call('SET', KEYS[2], ARGV[3], 'PX', ARGV[4]) end
return 1
`)

// KEYS: record, events, pending, webhook events, stats hour, stats day, the status indexes
// (statusIndexKeys). ARGV: token, event, ttl seconds (0: none), id, due (ms; '' when the message no
// longer waits for an attempt), counts, hour expiry, day expiry, n, then n webhook events, then
// field/value pairs. The webhook events, the stats counts (under the stream and the server the
// record names once written) and the status index move are written in the same step as the
// outcome they report: no outcome is recorded without them.
export const RECORD_OUTCOME = countingScript(`${moveStatusLua(7)}
if redis.call('HGET', KEYS[1], 'token') ~= ARGV[1] then return 0 end
local n = tonumber(ARGV[9])
local before = redis.call('HGET', KEYS[1], 'status')
redis.call('HDEL', KEYS[1], 'handoff')
redis.call('HSET', KEYS[1], unpack(ARGV, 10 + n))
moveStatus(ARGV[4], before, redis.call('HGET', KEYS[1], 'status'))
redis.call('RPUSH', KEYS[2], ARGV[2])
for i = 10, 9 + n do redis.call('XADD', KEYS[4], '*', 'e', ARGV[i]) end
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
countStats(KEYS[5], KEYS[6], ARGV[6], ARGV[7], ARGV[8], redis.call('HGET', KEYS[1], 'stream'), redis.call('HGET', KEYS[1], 'serverId'))
return 1
`)

// KEYS: record, events, pending, webhook events, stats hour, stats day, the status indexes. ARGV:
// event, now, ttl seconds, id, webhook event ('' for none), hour expiry, day expiry. Only before the
// point of no return. Recipients still waiting become `canceled` (and are counted so), so the
// record says none of them was mailed.
export const CANCEL_MESSAGE = countingScript(`${moveStatusLua(7)}
local status = redis.call('HGET', KEYS[1], 'status')
if not status then return {'missing'} end
local handoff = redis.call('HGET', KEYS[1], 'handoff')
if status == 'queued' or status == 'scheduled' or status == 'deferred'
  or (status == 'sending' and handoff == 'connecting') then
  local recipients = cjson.decode(redis.call('HGET', KEYS[1], 'recipients'))
  local canceled = 0
  for _, recipient in ipairs(recipients) do
    if recipient.status == 'pending' or recipient.status == 'deferred' then
      recipient.status = 'canceled'
      canceled = canceled + 1
    end
  end
  redis.call('HSET', KEYS[1], 'status', 'canceled', 'updatedAt', ARGV[2], 'recipients', cjson.encode(recipients))
  redis.call('HDEL', KEYS[1], 'token', 'handoff')
  redis.call('RPUSH', KEYS[2], ARGV[1])
  redis.call('ZREM', KEYS[3], ARGV[4])
  moveStatus(ARGV[4], status, 'canceled')
  if ARGV[5] ~= '' then redis.call('XADD', KEYS[4], '*', 'e', ARGV[5]) end
  redis.call('EXPIRE', KEYS[1], tonumber(ARGV[3]))
  redis.call('EXPIRE', KEYS[2], tonumber(ARGV[3]))
  countStats(KEYS[5], KEYS[6], cjson.encode({canceled = canceled}), ARGV[6], ARGV[7], redis.call('HGET', KEYS[1], 'stream'), redis.call('HGET', KEYS[1], 'serverId'))
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

// KEYS: record, events, pending, the status indexes. ARGV: id, now (ISO), now (ms). A deferred
// message is due now (its job is promoted by the caller); a failed one gets its softly failed
// recipients back as pending and a new round of the retry schedule (attempts from 0), and waits in
// `queued` like a new message (its queue time, maxQueueHours, counted from now). Hard-bounced, suppressed and sent recipients stay as they are. One
// step, so of two concurrent retries only one finds the message retryable.
export const RETRY_MESSAGE = script(`${moveStatusLua(4)}
local status = redis.call('HGET', KEYS[1], 'status')
if not status then return {'missing'} end
local stream = redis.call('HGET', KEYS[1], 'stream')
if status == 'deferred' then
  local due = redis.call('HGET', KEYS[1], 'deferredUntil')
  redis.call('HSET', KEYS[1], 'deferredUntil', ARGV[2], 'updatedAt', ARGV[2])
  redis.call('ZADD', KEYS[3], ARGV[3], ARGV[1])
  redis.call('RPUSH', KEYS[2], cjson.encode({at = ARGV[2], type = 'retry', detail = 'tried now on request (the retry was due at ' .. (due or '?') .. ')'}))
  return {'deferred', stream, '0'}
end
if status ~= 'failed' then return {'conflict', status} end
local recipients = cjson.decode(redis.call('HGET', KEYS[1], 'recipients'))
local count = 0
for _, recipient in ipairs(recipients) do
  if recipient.status == 'failed' then
    recipient.status = 'pending'
    recipient.smtpCode = cjson.null
    recipient.enhancedCode = cjson.null
    recipient.diagnostic = cjson.null
    count = count + 1
  end
end
if count == 0 then return {'conflict', status} end
redis.call('HSET', KEYS[1], 'status', 'queued', 'attempts', '0', 'recipients', cjson.encode(recipients),
  'deferredUntil', '', 'error', '', 'rateSlot', '', 'updatedAt', ARGV[2], 'retriedAt', ARGV[2])
redis.call('HDEL', KEYS[1], 'token', 'handoff')
redis.call('PERSIST', KEYS[1])
redis.call('PERSIST', KEYS[2])
redis.call('ZADD', KEYS[3], ARGV[3], ARGV[1])
moveStatus(ARGV[1], 'failed', 'queued')
redis.call('RPUSH', KEYS[2], cjson.encode({at = ARGV[2], type = 'retry', detail = 'retried on request: ' .. count .. ' recipient(s) pending again, a new round of the retry schedule'}))
return {'queued', stream, tostring(count)}
`)
