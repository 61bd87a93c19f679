import type { Cluster, Redis } from 'ioredis'
import { Type, type Static } from 'typebox'
import { Compile } from 'typebox/compile'
import { createKeys } from './keys.js'
import type { WebhookEvent } from '@outbound/jobs'
import type { Recipient } from './message-record.js'
import { moveStatusLua, statusIndexKeys } from './message-index.js'
import { countingScript, runScript, script } from './scripts.js'
import { type StatCounts, statsArgs } from './stats-store.js'

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
  /** The address in comparison form, or `*@domain` for a whole domain. */
  address: Type.String(),
  reason: Type.String(),
  source: Type.Union([
    Type.Literal('bounce'),
    Type.Literal('manual'),
    Type.Literal('complaint'),
    Type.Literal('unsubscribe'),
    Type.Literal('import'),
  ]),
  createdAt: Type.String(),
  /** The list it stops (mass mail of that list only); null or absent: every mail. */
  list: Type.Optional(Nullable(Type.String())),
})
export type Suppression = Static<typeof SuppressionSchema>

/**
 * The suppression hash's field of an entry: the address (or `*@domain`) for every mail, and the
 * address, a line feed and the list for one list. No address holds a bare line feed, so the two
 * forms never meet; entries written before lists existed keep their field.
 */
function suppressionField(address: string, list: string | null): string {
  return list === null ? address : `${address}\n${list}`
}

/** The `*@domain` entry that covers an address (comparison form). */
function domainEntry(address: string): string | null {
  const at = address.lastIndexOf('@')
  return at < 0 ? null : `*@${address.slice(at + 1)}`
}

/** The fields that suppress one recipient of a message of `list` (null: not list mail). */
function fieldsFor(address: string, list: string | null): string[] {
  const domain = domainEntry(address)
  const fields = domain === null ? [address] : [address, domain]
  if (list !== null) {
    fields.push(suppressionField(address, list))
    if (domain !== null) fields.push(suppressionField(domain, list))
  }
  return fields
}

function withList(suppression: Suppression): Suppression & { list: string | null } {
  return { ...suppression, list: suppression.list ?? null }
}

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

// KEYS: message record, events, webhook events, stats hour, stats day, the status indexes. ARGV:
// updates json, event json, now, counts, hour expiry, day expiry, then webhook events. A late
// bounce: the recipients named get their new status; a message that was sent becomes bounced once
// none of its recipients is delivered any more. The webhook events, the stats counts and the status
// index move are written in the same step.
const UPDATE_RECIPIENTS = countingScript(`${moveStatusLua(6)}
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
for i = 7, #ARGV do redis.call('XADD', KEYS[3], '*', 'e', ARGV[i]) end
countStats(KEYS[4], KEYS[5], ARGV[4], ARGV[5], ARGV[6], redis.call('HGET', KEYS[1], 'stream'), redis.call('HGET', KEYS[1], 'serverId'))
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

// KEYS: suppressions, by-time. ARGV: field, json, score (ms). Adds only a new entry.
const ADD_SUPPRESSION = script(`
if redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2]) == 0 then return 0 end
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[1])
return 1
`)

// KEYS: suppressions, by-time. ARGV: triples of field, json, score (ms). ADD_SUPPRESSION for many
// entries in one step; answers 1 (added) or 0 (there already) for each.
const ADD_SUPPRESSIONS = script(`
local added = {}
for i = 1, #ARGV, 3 do
  if redis.call('HSETNX', KEYS[1], ARGV[i], ARGV[i + 1]) == 1 then
    redis.call('ZADD', KEYS[2], ARGV[i + 2], ARGV[i])
    added[#added + 1] = 1
  else
    added[#added + 1] = 0
  end
end
return added
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

  /**
   * The entry that stops each recipient, or null: for every mail (its address or its domain),
   * or, for a recipient of list mail (`list` not null), for that list. One HMGET for all of
   * them, whatever their number. Addresses in comparison form.
   */
  async function matchSuppressions(
    queries: readonly { address: string; list: string | null }[],
  ): Promise<(Suppression | null)[]> {
    const perQuery = queries.map((query) => fieldsFor(query.address, query.list))
    const unique = new Set<string>()
    for (const candidates of perQuery) for (const field of candidates) unique.add(field)
    const fields = [...unique]
    if (fields.length === 0) return []
    const values = await redis.hmget(keys.suppressions(), ...fields)
    const byField = new Map<string, string | null>()
    fields.forEach((field, i) => byField.set(field, values[i] ?? null))
    return perQuery.map((candidates) => {
      for (const field of candidates) {
        const found = parseOr(byField.get(field) ?? null, suppressionValidator)
        if (found !== null) return withList(found)
      }
      return null
    })
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

    /**
     * Applies a late bounce to a message's recipients (keyed by lower-cased address); `counts`
     * (the bounces it reports) go to the stats in the same step, unless the record is gone.
     */
    async updateRecipients(
      messageId: string,
      updates: Record<string, Partial<Recipient>>,
      event: { type: string; detail: string },
      at: Date,
      webhookEvents: readonly WebhookEvent[] = [],
      counts: StatCounts = {},
    ): Promise<number> {
      const stats = statsArgs(keys, messageId, at, counts)
      const changed = await runScript(
        redis,
        UPDATE_RECIPIENTS,
        [
          keys.message(messageId),
          keys.messageEvents(messageId),
          keys.eventsOf(messageId),
          ...stats.keys,
          ...statusIndexKeys((filter) => keys.messageIndexOf(messageId, filter)),
        ],
        [
          JSON.stringify(updates),
          JSON.stringify({ at: at.toISOString(), ...event }),
          at.toISOString(),
          stats.counts,
          ...stats.expiries,
          ...webhookEvents.map((webhookEvent) => JSON.stringify(webhookEvent)),
        ],
      )
      return Number(changed)
    },

    /**
     * Puts an address (or `*@domain`) on the suppression list, for every mail or for one list; an
     * existing entry keeps its first reason.
     */
    async addSuppression(suppression: Suppression): Promise<boolean> {
      const field = suppressionField(suppression.address, suppression.list ?? null)
      const added = await runScript(
        redis,
        ADD_SUPPRESSION,
        [keys.suppressions(), keys.suppressionsByTime()],
        [field, JSON.stringify(withList(suppression)), Date.parse(suppression.createdAt)],
      )
      return added === 1
    },

    /** addSuppression for many entries in one step: whether each was added (false: there already). */
    async addSuppressions(suppressions: readonly Suppression[]): Promise<boolean[]> {
      if (suppressions.length === 0) return []
      const added = await runScript(
        redis,
        ADD_SUPPRESSIONS,
        [keys.suppressions(), keys.suppressionsByTime()],
        suppressions.flatMap((suppression) => [
          suppressionField(suppression.address, suppression.list ?? null),
          JSON.stringify(withList(suppression)),
          Date.parse(suppression.createdAt),
        ]),
      )
      return Array.isArray(added) ? added.map((value) => value === 1) : []
    },

    async removeSuppression(address: string, list: string | null = null): Promise<boolean> {
      const field = suppressionField(address, list)
      const results = await redis
        .multi()
        .hdel(keys.suppressions(), field)
        .zrem(keys.suppressionsByTime(), field)
        .exec()
      // The first reply (HDEL) says whether the address was on the list.
      return results?.[0]?.[1] === 1
    },

    async getSuppression(address: string, list: string | null = null): Promise<Suppression | null> {
      const found = parseOr(
        await redis.hget(keys.suppressions(), suppressionField(address, list)),
        suppressionValidator,
      )
      return found === null ? null : withList(found)
    },

    /** Suppressions, newest first: `limit` of them after skipping `offset`. */
    async listSuppressions(limit: number, offset = 0): Promise<Suppression[]> {
      const fields = await redis.zrevrange(keys.suppressionsByTime(), offset, offset + limit - 1)
      if (fields.length === 0) return []
      return (await redis.hmget(keys.suppressions(), ...fields))
        .map((raw) => parseOr(raw, suppressionValidator))
        .filter((s): s is Suppression => s !== null)
        .map(withList)
    },

    /**
     * Every suppression, a page at a time (HSCAN: an entry present from start to end is seen at
     * least once, whatever is added meanwhile; no order).
     */
    async *scanSuppressions(pageSize = 1000): AsyncGenerator<Suppression[]> {
      let cursor = '0'
      do {
        const [next, flat] = await redis.hscan(keys.suppressions(), cursor, 'COUNT', pageSize)
        cursor = next
        const page: Suppression[] = []
        for (let i = 1; i < flat.length; i += 2) {
          const found = parseOr(flat[i] ?? null, suppressionValidator)
          if (found !== null) page.push(withList(found))
        }
        if (page.length > 0) yield page
      } while (cursor !== '0')
    },

    matchSuppressions,

    /** Which of these (comparison-form) addresses are suppressed for every mail. */
    async suppressedAmong(addresses: readonly string[]): Promise<Set<string>> {
      const found = await matchSuppressions(addresses.map((address) => ({ address, list: null })))
      return new Set(addresses.filter((_, i) => found[i] !== null && found[i] !== undefined))
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
