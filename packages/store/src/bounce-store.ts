import type { Cluster, Redis } from 'ioredis'
import { Type, type Static } from 'typebox'
import { Compile } from 'typebox/compile'
import { createKeys } from './keys.js'
import type { WebhookEvent } from '@outbound/jobs'
import type { Recipient } from './message-record.js'
import { moveStatusLua, statusIndexKeys } from './message-index.js'
import { runScript, script } from './scripts.js'

const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(schema: T) =>
  Type.Union([schema, Type.Null()])

export const BounceRecordSchema = Type.Object({
  id: Type.String(),
  messageId: Nullable(Type.String()),
  /** The address in comparison form. */
  recipient: Type.String(),
  kind: Type.Union([Type.Literal('hard'), Type.Literal('soft')]),
  permanent: Type.Boolean(),
  reason: Type.String(),
  source: Type.Union([Type.Literal('smtp'), Type.Literal('dsn')]),
  smtpCode: Nullable(Type.Integer()),
  enhancedCode: Nullable(Type.String()),
  diagnostic: Nullable(Type.String()),
  rule: Type.String(),
  at: Type.String(),
})
export type BounceRecord = Static<typeof BounceRecordSchema>

export const SuppressionSchema = Type.Object({
  address: Type.String(),
  reason: Type.String(),
  source: Type.Union([Type.Literal('bounce'), Type.Literal('manual')]),
  createdAt: Type.String(),
})
export type Suppression = Static<typeof SuppressionSchema>

const bounceValidator = Compile(BounceRecordSchema)
const suppressionValidator = Compile(SuppressionSchema)

function parseOr<T>(raw: string | null, validator: { Check(v: unknown): v is T }): T | null {
  if (raw === null) return null
  const value: unknown = JSON.parse(raw)
  return validator.Check(value) ? value : null
}

/**
 * How long bounce records are kept: longer than the 13 weeks the soft-bounce rule looks back
 * (DOMAIN.md §7). Suppressions are kept until removed.
 */
export const BOUNCE_RETENTION_DAYS = 180
const BOUNCE_RETENTION_MS = BOUNCE_RETENTION_DAYS * 86_400_000
/** Expired records removed per new bounce: the clean-up keeps pace without a long script. */
const TRIM_BATCH = 100

// KEYS: records, by-time, by-address, by-message ('' slot when none).
// ARGV: id, json, score (ms), has message, retention (ms), trim batch.
// Records older than the retention (counted back from this bounce) leave the store a batch at a
// time; per-address and per-message indexes expire with their last record.
const RECORD_BOUNCE = script(`
local cutoff = tonumber(ARGV[3]) - tonumber(ARGV[5])
local expired = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', '(' .. cutoff, 'LIMIT', 0, tonumber(ARGV[6]))
if #expired > 0 then
  redis.call('HDEL', KEYS[1], unpack(expired))
  redis.call('ZREM', KEYS[2], unpack(expired))
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[1])
redis.call('ZADD', KEYS[3], ARGV[3], ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', '(' .. cutoff)
redis.call('PEXPIRE', KEYS[3], ARGV[5])
if ARGV[4] == '1' then
  redis.call('ZADD', KEYS[4], ARGV[3], ARGV[1])
  redis.call('PEXPIRE', KEYS[4], ARGV[5])
end
return redis.call('ZCARD', KEYS[3])
`)

// KEYS: message record, events, webhook events, the status indexes. ARGV: updates json, event json, now, then webhook
// events. A late bounce: the recipients named get their new status; a message that was sent
// becomes bounced once none of its recipients is delivered any more. The webhook events are
// appended in the same step.
const UPDATE_RECIPIENTS = script(`${moveStatusLua(4)}
local raw = redis.call('HGET', KEYS[1], 'recipients')
if not raw then return 0 end
local recipients = cjson.decode(raw)
local updates = cjson.decode(ARGV[1])
local changed = 0
for _, recipient in ipairs(recipients) do
  local update = updates[string.lower(recipient.address)]
  if update then
    for field, value in pairs(update) do recipient[field] = value end
    changed = changed + 1
  end
end
for i = 4, #ARGV do redis.call('XADD', KEYS[3], '*', 'e', ARGV[i]) end
if changed == 0 then return 0 end
redis.call('HSET', KEYS[1], 'recipients', cjson.encode(recipients), 'updatedAt', ARGV[3])
if redis.call('HGET', KEYS[1], 'status') == 'sent' then
  local delivered = false
  for _, recipient in ipairs(recipients) do
    if recipient.status == 'sent' then delivered = true end
  end
  if not delivered then
    redis.call('HSET', KEYS[1], 'status', 'bounced')
    moveStatus(redis.call('HGET', KEYS[1], 'id'), 'sent', 'bounced')
  end
end
redis.call('RPUSH', KEYS[2], ARGV[2])
return changed
`)

// KEYS: suppressions, by-time. ARGV: address, json, score (ms). Adds only a new address.
const ADD_SUPPRESSION = script(`
if redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2]) == 0 then return 0 end
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[1])
return 1
`)

export type BounceQuery = {
  recipient?: string
  messageId?: string
  kind?: 'hard' | 'soft'
  since?: Date
  limit: number
}

/** Bounce records, per-address histories and the suppression list. */
export function createBounceStore(redis: Redis | Cluster, prefix = 'outbound') {
  const keys = createKeys(prefix)

  async function recordsById(ids: readonly string[]): Promise<BounceRecord[]> {
    if (ids.length === 0) return []
    const values = await redis.hmget(keys.bounceRecords(), ...ids)
    return values
      .map((raw) => parseOr(raw, bounceValidator))
      .filter((r): r is BounceRecord => r !== null)
  }

  return {
    /**
     * Stores a bounce and indexes it by time, address and message; returns the address's bounce
     * count within the retention. Removes expired records as it goes.
     */
    async recordBounce(record: BounceRecord): Promise<number> {
      const count = await runScript(
        redis,
        RECORD_BOUNCE,
        [
          keys.bounceRecords(),
          keys.bouncesByTime(),
          keys.bouncesByAddress(record.recipient),
          keys.bouncesByMessage(record.messageId ?? ''),
        ],
        [
          record.id,
          JSON.stringify(record),
          Date.parse(record.at),
          record.messageId === null ? '0' : '1',
          BOUNCE_RETENTION_MS,
          TRIM_BATCH,
        ],
      )
      return Number(count)
    },

    /** Every bounce of an address, oldest first (for the suppression rule). */
    async bounceHistory(address: string): Promise<BounceRecord[]> {
      return await recordsById(await redis.zrange(keys.bouncesByAddress(address), 0, -1))
    },

    /** Bounces, newest first, filtered (at most `limit`). */
    async listBounces(query: BounceQuery): Promise<BounceRecord[]> {
      const index =
        query.recipient !== undefined
          ? keys.bouncesByAddress(query.recipient)
          : query.messageId !== undefined
            ? keys.bouncesByMessage(query.messageId)
            : keys.bouncesByTime()
      const min = query.since === undefined ? '-inf' : String(query.since.getTime())
      // A kind filter is applied after reading: read a few pages' worth.
      const ids = await redis.zrevrangebyscore(
        index,
        '+inf',
        min,
        'LIMIT',
        0,
        query.kind === undefined ? query.limit : query.limit * 10,
      )
      return (await recordsById(ids))
        .filter(
          (r) =>
            (query.messageId === undefined || r.messageId === query.messageId) &&
            (query.kind === undefined || r.kind === query.kind),
        )
        .slice(0, query.limit)
    },

    /** Applies a late bounce to a message's recipients (keyed by lower-cased address). */
    async updateRecipients(
      messageId: string,
      updates: Record<string, Partial<Recipient>>,
      event: { type: string; detail: string },
      at: Date,
      webhookEvents: readonly WebhookEvent[] = [],
    ): Promise<number> {
      const changed = await runScript(
        redis,
        UPDATE_RECIPIENTS,
        [
          keys.message(messageId),
          keys.messageEvents(messageId),
          keys.eventsOf(messageId),
          ...statusIndexKeys((filter) => keys.messageIndexOf(messageId, filter)),
        ],
        [
          JSON.stringify(updates),
          JSON.stringify({ at: at.toISOString(), ...event }),
          at.toISOString(),
          ...webhookEvents.map((webhookEvent) => JSON.stringify(webhookEvent)),
        ],
      )
      return Number(changed)
    },

    /** Puts an address on the suppression list; an existing entry keeps its first reason. */
    async addSuppression(suppression: Suppression): Promise<boolean> {
      const added = await runScript(
        redis,
        ADD_SUPPRESSION,
        [keys.suppressions(), keys.suppressionsByTime()],
        [suppression.address, JSON.stringify(suppression), Date.parse(suppression.createdAt)],
      )
      return added === 1
    },

    async removeSuppression(address: string): Promise<boolean> {
      const results = await redis
        .multi()
        .hdel(keys.suppressions(), address)
        .zrem(keys.suppressionsByTime(), address)
        .exec()
      // The first reply (HDEL) says whether the address was on the list.
      return results?.[0]?.[1] === 1
    },

    async getSuppression(address: string): Promise<Suppression | null> {
      return parseOr(await redis.hget(keys.suppressions(), address), suppressionValidator)
    },

    /** Suppressions, newest first: `limit` of them after skipping `offset`. */
    async listSuppressions(limit: number, offset = 0): Promise<Suppression[]> {
      const addresses = await redis.zrevrange(keys.suppressionsByTime(), offset, offset + limit - 1)
      if (addresses.length === 0) return []
      return (await redis.hmget(keys.suppressions(), ...addresses))
        .map((raw) => parseOr(raw, suppressionValidator))
        .filter((s): s is Suppression => s !== null)
    },

    /** Which of these (comparison-form) addresses are suppressed. */
    async suppressedAmong(addresses: readonly string[]): Promise<Set<string>> {
      if (addresses.length === 0) return new Set()
      const values = await redis.hmget(keys.suppressions(), ...addresses)
      return new Set(addresses.filter((_, i) => values[i] !== null))
    },

    /** Keeps a message that was not a bounce for inspection (the newest 100, a week). */
    async keepRejectedInbound(raw: string, at: Date): Promise<void> {
      const key = keys.rejectedInbound()
      await redis
        .multi()
        .lpush(key, JSON.stringify({ at: at.toISOString(), raw }))
        .ltrim(key, 0, 99)
        .expire(key, 7 * 86_400)
        .exec()
    },
  }
}

export type BounceStore = ReturnType<typeof createBounceStore>
