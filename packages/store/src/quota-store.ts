import type { Cluster, Redis } from 'ioredis'
import { createKeys } from './keys.js'
import { runScript, script } from './scripts.js'

// KEYS: the counter, the waiting set. ARGV: units, cap, ttl seconds, waiting member, retry at (ms).
// One step: count the units in, or refuse them all when that would pass the cap, so any number of
// workers share the limit exactly. A refused message is noted as waiting for the window, so that
// raising the limit can bring it back at once.
const RESERVE = script(`
local used = tonumber(redis.call('GET', KEYS[1]) or '0')
local units = tonumber(ARGV[1])
if used + units > tonumber(ARGV[2]) then
  if ARGV[4] ~= '' then
    redis.call('ZADD', KEYS[2], tonumber(ARGV[5]), ARGV[4])
    redis.call('EXPIRE', KEYS[2], tonumber(ARGV[3]))
  end
  return {0, used}
end
local now = redis.call('INCRBY', KEYS[1], units)
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[3]))
return {1, now}
`)

// KEYS: the counter. ARGV: units. Gives back units that were not handed over (never below 0).
const RELEASE = script(`
local used = tonumber(redis.call('GET', KEYS[1]) or '0')
local units = math.min(tonumber(ARGV[1]), used)
if units <= 0 then return used end
return redis.call('DECRBY', KEYS[1], units)
`)

export type Reservation = { granted: boolean; usedBefore: number; usedAfter: number }

/** Daily quota counters: reservations and releases, each one atomic Redis step. */
export function createQuotaStore(redis: Redis | Cluster, prefix = 'outbound') {
  const keys = createKeys(prefix)
  return {
    /**
     * Counts `units` against a server's day unless that passes `cap`. The counter lives
     * `ttlSeconds` (the window plus a margin for late releases).
     */
    async reserveQuota(
      serverId: string,
      day: string,
      units: number,
      cap: number,
      ttlSeconds: number,
      waiting: { member: string; retryAt: Date } = { member: '', retryAt: new Date(0) },
    ): Promise<Reservation> {
      const reply = await runScript(
        redis,
        RESERVE,
        [keys.quota(serverId, day), keys.quotaWaiting(serverId)],
        [units, cap, ttlSeconds, waiting.member, waiting.retryAt.getTime()],
      )
      if (!Array.isArray(reply)) throw new Error('reserving quota: unexpected reply')
      const [granted, used] = reply.map(Number)
      return granted === 1
        ? { granted: true, usedBefore: (used ?? 0) - units, usedAfter: used ?? 0 }
        : { granted: false, usedBefore: used ?? 0, usedAfter: used ?? 0 }
    },

    /** Gives back units that were not handed to the server. */
    async releaseQuota(serverId: string, day: string, units: number): Promise<void> {
      if (units <= 0) return
      await runScript(redis, RELEASE, [keys.quota(serverId, day)], [units])
    },

    /**
     * Takes the messages waiting for a server's next window (members as given to reserveQuota),
     * so that they can be tried again now; each is handed to one caller only.
     */
    async takeQuotaWaiting(serverId: string, limit = 10_000): Promise<string[]> {
      const key = keys.quotaWaiting(serverId)
      const members = await redis.zrange(key, 0, limit - 1)
      if (members.length === 0) return []
      const removed = await Promise.all(members.map((member) => redis.zrem(key, member)))
      return members.filter((_, i) => removed[i] === 1)
    },

    /** The units used in a server's day (0 when none). */
    async readQuotaUsed(serverIds: readonly string[], day: string): Promise<Map<string, number>> {
      if (serverIds.length === 0) return new Map()
      // One key per server, each in its own Cluster slot: separate GETs (they leave together).
      const replies = await Promise.all(serverIds.map((id) => redis.get(keys.quota(id, day))))
      return new Map(serverIds.map((id, i) => [id, Number(replies[i] ?? 0)]))
    },
  }
}

export type QuotaStore = ReturnType<typeof createQuotaStore>
