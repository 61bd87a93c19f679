import type { Cluster, Redis } from 'ioredis'
import { Type, type Static } from 'typebox'
import { Compile } from 'typebox/compile'
import type { WebhookEvent } from '@outbound/jobs'
import { createKeys, MESSAGE_SHARDS, messageShard } from './keys.js'
import type { MessageEvent } from './message-record.js'
import { countingScript, runScript } from './scripts.js'
import { BOUNCE_RETENTION_DAYS } from './bounce-store.js'
import { statsArgs } from './stats-store.js'

const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(schema: T) =>
  Type.Union([schema, Type.Null()])

export const ComplaintRecordSchema = Type.Object({
  id: Type.String(),
  /** Our message the complaint is about; null when it could not be found. */
  messageId: Nullable(Type.String()),
  /** The address in comparison form. */
  recipient: Type.String(),
  feedbackType: Type.String(),
  /** The server and stream the message left through, when it is known. */
  serverId: Nullable(Type.String()),
  stream: Nullable(Type.String()),
  /** The original's Message-ID header as the report quoted it. */
  originalMessageId: Nullable(Type.String()),
  reportingMta: Nullable(Type.String()),
  userAgent: Nullable(Type.String()),
  sourceIp: Nullable(Type.String()),
  arrivalDate: Nullable(Type.String()),
  at: Type.String(),
})
export type ComplaintRecord = Static<typeof ComplaintRecordSchema>
const complaintValidator = Compile(ComplaintRecordSchema)

function parseComplaintRecord(raw: string | null | undefined): ComplaintRecord | null {
  if (raw === null || raw === undefined) return null
  const value: unknown = JSON.parse(raw)
  return complaintValidator.Check(value) ? value : null
}

const RETENTION_MS = BOUNCE_RETENTION_DAYS * 86_400_000
/** Expired records removed per new complaint: the clean-up keeps pace without a long script. */
const TRIM_BATCH = 100

// KEYS: records, by-time, seen marker, webhook events, stats hour, stats day, message record,
// message events (all of one shard). ARGV: id, json, score (ms), retention (ms), trim batch,
// webhook event ('' for none), counts, hour expiry, day expiry, message event ('' for none),
// stream, server. A report seen before (same original, same recipient) changes nothing and returns
// the first record; a new one is stored, counted and announced in one step. Records older than
// the retention leave the shard a batch at a time.
const RECORD_COMPLAINT = countingScript(`
local earlier = redis.call('GET', KEYS[3])
if earlier then return {0, redis.call('HGET', KEYS[1], earlier) or ''} end
local cutoff = tonumber(ARGV[3]) - tonumber(ARGV[4])
local expired = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', '(' .. cutoff, 'LIMIT', 0, tonumber(ARGV[5]))
if #expired > 0 then
  redis.call('HDEL', KEYS[1], unpack(expired))
  redis.call('ZREM', KEYS[2], unpack(expired))
end
redis.call('SET', KEYS[3], ARGV[1], 'PX', ARGV[4])
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[1])
if ARGV[6] ~= '' then redis.call('XADD', KEYS[4], '*', 'e', ARGV[6]) end
countStats(KEYS[5], KEYS[6], ARGV[7], ARGV[8], ARGV[9], ARGV[11], ARGV[12])
if ARGV[10] ~= '' and redis.call('EXISTS', KEYS[7]) == 1 then redis.call('RPUSH', KEYS[8], ARGV[10]) end
return {1, ARGV[2]}
`)

export type ComplaintQuery = { since?: Date; limit: number }

/** Complaints from feedback loops, kept like bounces, each counted and announced as it is stored. */
export function createComplaintStore(redis: Redis | Cluster, prefix = 'outbound') {
  const keys = createKeys(prefix)

  return {
    /**
     * Stores a complaint with its `email.complained` event (when given), its stats count and an
     * event on its message's record, in one step. A complaint about the same original and
     * recipient as an earlier one is not stored again: `stored` is false and `record` is the first.
     */
    async recordComplaint(
      record: ComplaintRecord,
      webhookEvent: WebhookEvent | null,
    ): Promise<{ stored: boolean; record: ComplaintRecord }> {
      // Its message's shard, or its recipient's when the message is unknown.
      const shardKey = record.messageId ?? record.recipient
      const shard = messageShard(shardKey)
      const identity = `${record.messageId ?? record.originalMessageId ?? ''}\n${record.recipient}`
      const at = new Date(record.at)
      const stats = statsArgs(keys, shardKey, at, { complained: 1 })
      const messageEvent: MessageEvent = {
        at: record.at,
        type: 'complained',
        detail: `${record.feedbackType} report about ${record.recipient}${
          record.reportingMta === null ? '' : ` from ${record.reportingMta}`
        }`,
      }
      const reply = await runScript(
        redis,
        RECORD_COMPLAINT,
        [
          keys.complaints(shard),
          keys.complaintsByTime(shard),
          keys.complaintSeen(shardKey, identity),
          keys.events(shard),
          ...stats.keys,
          keys.message(shardKey),
          keys.messageEvents(shardKey),
        ],
        [
          record.id,
          JSON.stringify(record),
          at.getTime(),
          RETENTION_MS,
          TRIM_BATCH,
          webhookEvent === null ? '' : JSON.stringify(webhookEvent),
          stats.counts,
          ...stats.expiries,
          record.messageId === null ? '' : JSON.stringify(messageEvent),
          record.stream ?? '',
          record.serverId ?? '',
        ],
      )
      if (!Array.isArray(reply)) throw new Error('recording a complaint: unexpected reply')
      const values: unknown[] = reply
      const [stored, json] = values
      // A first record that expired while its marker lived: the new one stands in for it.
      const first = typeof json === 'string' ? parseComplaintRecord(json || null) : null
      return { stored: stored === 1, record: first ?? record }
    },

    /** Complaints, newest first, at most `limit`, none older than `since`. */
    async listComplaints(query: ComplaintQuery): Promise<ComplaintRecord[]> {
      const min = query.since === undefined ? '-inf' : String(query.since.getTime())
      const perShard = await Promise.all(
        Array.from({ length: MESSAGE_SHARDS }, async (_, shard) => {
          const reply = await redis.zrevrangebyscore(
            keys.complaintsByTime(shard),
            '+inf',
            min,
            'WITHSCORES',
            'LIMIT',
            0,
            query.limit,
          )
          const entries: { shard: number; id: string; score: number }[] = []
          for (let i = 0; i + 1 < reply.length; i += 2)
            entries.push({ shard, id: reply[i] ?? '', score: Number(reply[i + 1]) })
          return entries
        }),
      )
      const newest = perShard
        .flat()
        .sort((a, b) => b.score - a.score || b.id.localeCompare(a.id))
        .slice(0, query.limit)
      const values = await Promise.all(
        newest.map(({ shard, id }) => redis.hget(keys.complaints(shard), id)),
      )
      return values
        .map((raw) => parseComplaintRecord(raw))
        .filter((r): r is ComplaintRecord => r !== null)
    },
  }
}

export type ComplaintStore = ReturnType<typeof createComplaintStore>
