import type { Cluster, Redis } from 'ioredis'
import { Type } from 'typebox'
import { Compile } from 'typebox/compile'
import type { ServerState } from '@outbound/quota'
import { createKeys } from './keys.js'
import { runScript, script } from './scripts.js'

const ServerStateSchema = Type.Object({
  status: Type.Union([Type.Literal('ok'), Type.Literal('throttled'), Type.Literal('down')]),
  since: Type.String(),
  until: Type.Union([Type.String(), Type.Null()]),
  reason: Type.Union([Type.String(), Type.Null()]),
  consecutiveFailures: Type.Integer(),
  backoffMs: Type.Number(),
  lastThrottledAt: Type.Union([Type.String(), Type.Null()]),
})
const stateValidator = Compile(ServerStateSchema)

// KEYS: state, probe. ARGV: the JSON read ('' for none), the next JSON. Writes only if nobody else
// did; a new state ends the probe that led to it.
const SWAP_STATE = script(`
if (redis.call('GET', KEYS[1]) or '') ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2])
redis.call('DEL', KEYS[2])
return 1
`)

// KEYS: rate clock. ARGV: units, interval ms, tolerance ms, epoch (the limit it was booked for).
// The generic cell rate algorithm on Redis's own clock, as a booking: every call takes the next
// free slots and answers when its first one comes, so waiting mail is spread evenly over the rate
// and each message is looked at twice, not polled. A changed limit starts a new clock.
const BOOK_RATE = script(`
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local tat = tonumber(redis.call('HGET', KEYS[1], 'tat') or '0')
if redis.call('HGET', KEYS[1], 'epoch') ~= ARGV[4] then tat = 0 end
if tat < now then tat = now end
local at = tat - tonumber(ARGV[3])
if at < now then at = now end
local next = tat + tonumber(ARGV[1]) * tonumber(ARGV[2])
redis.call('HSET', KEYS[1], 'tat', tostring(next), 'epoch', ARGV[4])
redis.call('PEXPIRE', KEYS[1], math.ceil(next - now) + 60000)
return {tostring(math.floor(at)), tostring(now)}
`)

// KEYS: leases. ARGV: member, max, ttl ms. A lease per open connection, on Redis's clock: a dead
// process's leases lapse after the ttl, a live one renews them.
const TAKE_LEASE = script(`
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local ttl = tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if not redis.call('ZSCORE', KEYS[1], ARGV[1]) and redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then
  return 0
end
redis.call('ZADD', KEYS[1], now + ttl, ARGV[1])
redis.call('PEXPIRE', KEYS[1], ttl * 2)
return 1
`)

// KEYS: leases. ARGV: ttl ms, members. Renews the leases still held.
const RENEW_LEASES = script(`
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local ttl = tonumber(ARGV[1])
for i = 2, #ARGV do redis.call('ZADD', KEYS[1], 'XX', now + ttl, ARGV[i]) end
redis.call('PEXPIRE', KEYS[1], ttl * 2)
return 1
`)

/**
 * Servers' shaping state, shared by every worker process: health (ok, throttled, down), the rate
 * clock, the probe of a down server, and the connection leases.
 */
export function createServerStateStore(redis: Redis | Cluster, prefix = 'outbound') {
  const keys = createKeys(prefix)

  function parse(raw: string | null): ServerState | null {
    if (raw === null) return null
    const value: unknown = JSON.parse(raw)
    return stateValidator.Check(value) ? value : null
  }

  return {
    /** The states of these servers (absent: never recorded, i.e. ok). */
    async readServerStates(serverIds: readonly string[]): Promise<Map<string, ServerState>> {
      const raws = await Promise.all(serverIds.map((id) => redis.get(keys.serverState(id))))
      const states = new Map<string, ServerState>()
      serverIds.forEach((id, i) => {
        const state = parse(raws[i] ?? null)
        if (state !== null) states.set(id, state)
      })
      return states
    },

    /**
     * Applies `change` to a server's state atomically (read, change, compare-and-set, again on a
     * race); returns the states before and after. `change` returning the same object writes nothing.
     */
    async updateServerState(
      serverId: string,
      change: (current: ServerState | null) => ServerState,
    ): Promise<{ before: ServerState | null; after: ServerState }> {
      const key = keys.serverState(serverId)
      for (let attempt = 0; attempt < 50; attempt++) {
        const raw = await redis.get(key)
        const before = parse(raw)
        const after = change(before)
        if (after === before) return { before, after }
        const swapped = await runScript(
          redis,
          SWAP_STATE,
          [key, keys.serverProbe(serverId)],
          [raw ?? '', JSON.stringify(after)],
        )
        if (swapped === 1) return { before, after }
      }
      throw new Error(`the state of server ${serverId} kept changing under 50 updates`)
    },

    /** Forgets a server's state: it is ok again (POST /v1/servers/:id/reset-state). */
    async resetServerState(serverId: string): Promise<void> {
      await redis.del(keys.serverState(serverId), keys.serverProbe(serverId))
    },

    /**
     * Books `units` on a server's rate clock; answers when they may go, on Redis's clock, with
     * that clock's now (the caller waits the difference). The `gate` clock spreads the waiting
     * mail; the `wire` clock, booked once a connection is in hand, keeps late mail from bunching.
     */
    async bookRate(
      serverId: string,
      booking: { units: number; intervalMs: number; toleranceMs: number; epoch: string },
      clock: 'gate' | 'wire' = 'gate',
    ): Promise<{ sendAt: number; now: number }> {
      const reply = await runScript(
        redis,
        BOOK_RATE,
        [keys.serverRate(serverId, clock)],
        [booking.units, booking.intervalMs, booking.toleranceMs, booking.epoch],
      )
      if (!Array.isArray(reply)) throw new Error('booking a rate: unexpected reply')
      const [sendAt, now] = reply.map(Number)
      return { sendAt: sendAt ?? 0, now: now ?? 0 }
    },

    /** Lets one attempt probe a down server: true for the first caller within `ttlMs`. */
    async takeProbe(serverId: string, holder: string, ttlMs: number): Promise<boolean> {
      return (await redis.set(keys.serverProbe(serverId), holder, 'PX', ttlMs, 'NX')) === 'OK'
    },

    /** Takes (or renews) a connection lease unless `max` are held by live holders. */
    async takeConnectionLease(
      serverId: string,
      member: string,
      max: number,
      ttlMs: number,
    ): Promise<boolean> {
      const taken = await runScript(
        redis,
        TAKE_LEASE,
        [keys.serverLeases(serverId)],
        [member, max, ttlMs],
      )
      return taken === 1
    },

    async renewConnectionLeases(
      serverId: string,
      members: readonly string[],
      ttlMs: number,
    ): Promise<void> {
      if (members.length === 0) return
      await runScript(redis, RENEW_LEASES, [keys.serverLeases(serverId)], [ttlMs, ...members])
    },

    /** Says that `holder` waits for a lease of the server (for `ttlMs`). */
    async wantConnectionLease(serverId: string, holder: string, ttlMs: number): Promise<void> {
      await redis.set(keys.serverLeaseWanted(serverId), holder, 'PX', ttlMs)
    },

    /** Whether a process other than `holder` waits for a lease of the server. */
    async connectionLeaseWantedByOther(serverId: string, holder: string): Promise<boolean> {
      const wanting = await redis.get(keys.serverLeaseWanted(serverId))
      return wanting !== null && wanting !== holder
    },

    async releaseConnectionLease(serverId: string, member: string): Promise<void> {
      await redis.zrem(keys.serverLeases(serverId), member)
    },

    /** How many connection leases are held now (for views and tests). */
    async connectionLeases(serverId: string): Promise<number> {
      const key = keys.serverLeases(serverId)
      const time = await redis.time()
      const now = Number(time[0]) * 1000 + Math.floor(Number(time[1]) / 1000)
      return await redis.zcount(key, now, '+inf')
    },
  }
}

export type ServerStateStore = ReturnType<typeof createServerStateStore>
