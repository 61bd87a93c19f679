import type { Cluster, Redis } from 'ioredis'
import type { WebhookEvent } from '@outbound/jobs'
import { createKeys, MESSAGE_SHARDS, messageShard } from './keys.js'
import { runScript, script } from './scripts.js'

/** What the stats count: messages accepted, and recipients for every other metric. */
export const STAT_METRICS = [
  'accepted',
  'sent',
  'deferred',
  'bounced.hard',
  'bounced.soft',
  'failed',
  'suppressed',
  'canceled',
  'complained',
  'unsubscribed',
] as const
export type StatMetric = (typeof STAT_METRICS)[number]

/** The server id of sandbox mail's records and stats: never a configured server's. */
export const SANDBOX_SERVER_ID = 'sandbox'
/** Increments of one recorded step; metrics left out are unchanged. */
export type StatCounts = Partial<Record<StatMetric, number>>

export type StatsInterval = 'hour' | 'day'
/** How long a bucket is kept after it ends (CONTRACT.md: stats are kept 400 days). */
const STATS_RETENTION_DAYS = 400
const HOUR_MS = 3_600_000
const DAY_MS = 24 * HOUR_MS
const INTERVAL_MS: Record<StatsInterval, number> = { hour: HOUR_MS, day: DAY_MS }

/** The start of the bucket (UTC) that holds `at`. */
function bucketStart(at: Date, interval: StatsInterval): Date {
  const ms = INTERVAL_MS[interval]
  return new Date(Math.floor(at.getTime() / ms) * ms)
}

/** A bucket's name in its key: `2026-12-01T03` (hour) or `2026-12-01` (day). */
function bucketName(start: Date, interval: StatsInterval): string {
  return start.toISOString().slice(0, interval === 'hour' ? 13 : 10)
}

/** When a bucket's key expires (Unix seconds): 400 days after the bucket ends. */
function bucketExpiry(start: Date, interval: StatsInterval): number {
  return Math.ceil((start.getTime() + INTERVAL_MS[interval] + STATS_RETENTION_DAYS * DAY_MS) / 1000)
}

/**
 * The stats keys and expiries of the step recorded at `at` for message (or shard key) `id`: the
 * hour and day bucket keys, and the ARGV the counting scripts take (counts, hour expiry, day
 * expiry).
 */
export function statsArgs(
  keys: ReturnType<typeof createKeys>,
  id: string,
  at: Date,
  counts: StatCounts,
) {
  const hour = bucketStart(at, 'hour')
  const day = bucketStart(at, 'day')
  const nonZero = Object.entries(counts).filter(([, n]) => n !== 0)
  return {
    keys: [
      keys.statsBucketOf(id, 'hour', bucketName(hour, 'hour')),
      keys.statsBucketOf(id, 'day', bucketName(day, 'day')),
    ],
    counts: nonZero.length === 0 ? '' : JSON.stringify(Object.fromEntries(nonZero)),
    expiries: [bucketExpiry(hour, 'hour'), bucketExpiry(day, 'day')],
  }
}

/** A stats field as the counting scripts write it: `<metric>|<stream>|<serverId>`. */
export function statsField(metric: StatMetric, stream: string, serverId: string | null): string {
  return `${metric}|${stream}|${serverId ?? ''}`
}

/** One bucket of GET /v1/stats. */
export type StatsBucket = {
  start: string
  accepted: number
  sent: number
  deferred: number
  bounced: { hard: number; soft: number }
  failed: number
  suppressed: number
  canceled: number
  complained: number
  unsubscribed: number
}

export type StatsQuery = {
  since: Date
  until: Date
  interval: StatsInterval
  stream?: string
  serverId?: string
}

/** A server's complaints and recipients delivered (sent) over a window. */
export type ComplaintCounts = {
  serverId: string
  complained: number
  delivered: number
}

function emptyBucket(start: Date): StatsBucket {
  return {
    start: start.toISOString(),
    accepted: 0,
    sent: 0,
    deferred: 0,
    bounced: { hard: 0, soft: 0 },
    failed: 0,
    suppressed: 0,
    canceled: 0,
    complained: 0,
    unsubscribed: 0,
  }
}

function addTo(bucket: StatsBucket, metric: string, n: number): void {
  switch (metric) {
    case 'bounced.hard':
      bucket.bounced.hard += n
      return
    case 'bounced.soft':
      bucket.bounced.soft += n
      return
    case 'accepted':
    case 'sent':
    case 'deferred':
    case 'failed':
    case 'suppressed':
    case 'canceled':
    case 'complained':
    case 'unsubscribed':
      bucket[metric] += n
      return
    default:
    // A metric a newer version writes: not part of this version's answer.
  }
}

// KEYS: level key, the same shard's event stream. ARGV: new level, level ttl seconds, then one
// event per level (1, 2). Sets the level a server's complaint rate was last seen at; each level
// crossed upwards since then appends its event, in the same step: one warning per crossing,
// whichever process sees it first.
const RECORD_REPUTATION_LEVEL = script(`
local old = tonumber(redis.call('GET', KEYS[1]) or '0')
local new = tonumber(ARGV[1])
redis.call('SET', KEYS[1], ARGV[1], 'EX', tonumber(ARGV[2]))
for level = old + 1, new do
  redis.call('XADD', KEYS[2], '*', 'e', ARGV[2 + level])
end
return old
`)

/** Time-bucketed delivery counters, summed over the shards on read; complaint-rate levels. */
export function createStatsStore(redis: Redis | Cluster, prefix = 'outbound') {
  const keys = createKeys(prefix)

  /** Every shard's fields of each bucket, as [bucket index, field, count]. */
  async function readBuckets(
    starts: readonly Date[],
    interval: StatsInterval,
  ): Promise<[number, string, number][]> {
    const reads = starts.flatMap((start, index) =>
      Array.from({ length: MESSAGE_SHARDS }, (_, shard) =>
        redis
          .hgetall(keys.statsBucket(shard, interval, bucketName(start, interval)))
          .then((fields) =>
            Object.entries(fields).map(([field, n]): [number, string, number] => [
              index,
              field,
              Number(n),
            ]),
          ),
      ),
    )
    return (await Promise.all(reads)).flat()
  }

  return {
    /**
     * The buckets from the one holding `since` up to the one holding the instant before `until`,
     * every bucket present (zeros where nothing happened), filtered by stream and server.
     */
    async readStats(query: StatsQuery): Promise<StatsBucket[]> {
      const ms = INTERVAL_MS[query.interval]
      const first = bucketStart(query.since, query.interval).getTime()
      const starts: Date[] = []
      for (let t = first; t < query.until.getTime(); t += ms) starts.push(new Date(t))
      const buckets = starts.map(emptyBucket)
      for (const [index, field, n] of await readBuckets(starts, query.interval)) {
        const [metric = '', stream = '', serverId = ''] = field.split('|')
        if (query.stream !== undefined && stream !== query.stream) continue
        if (query.serverId !== undefined && serverId !== query.serverId) continue
        const bucket = buckets[index]
        if (bucket !== undefined) addTo(bucket, metric, n)
      }
      return buckets
    },

    /**
     * Per server, complaints and recipients delivered (sent) in the 24 hourly buckets that end
     * with the current one (DOMAIN.md §9). Servers with neither are left out.
     */
    async complaintCounts(now: Date): Promise<ComplaintCounts[]> {
      const current = bucketStart(now, 'hour').getTime()
      const starts = Array.from({ length: 24 }, (_, i) => new Date(current - i * HOUR_MS))
      const byServer = new Map<string, { complained: number; delivered: number }>()
      for (const [, field, n] of await readBuckets(starts, 'hour')) {
        const [metric = '', , serverId = ''] = field.split('|')
        // Sandbox mail (its simulated complaints) is nobody's reputation.
        if ((metric !== 'sent' && metric !== 'complained') || serverId === '') continue
        if (serverId === SANDBOX_SERVER_ID) continue
        const entry = byServer.get(serverId) ?? { complained: 0, delivered: 0 }
        if (metric === 'sent') entry.delivered += n
        else entry.complained += n
        byServer.set(serverId, entry)
      }
      return [...byServer.entries()]
        .map(([serverId, counts]) => ({ serverId, ...counts }))
        .sort((a, b) => a.serverId.localeCompare(b.serverId))
    },

    /**
     * Records the complaint-rate level a server is at (0, 1: at or over 0.1 %, 2: at or over
     * 0.3 %) and appends `warnings[level - 1]` for each level crossed upwards since the last
     * call. Returns the level it was at before.
     */
    async recordReputationLevel(
      serverId: string,
      level: 0 | 1 | 2,
      warnings: readonly [WebhookEvent, WebhookEvent],
    ): Promise<number> {
      const old = await runScript(
        redis,
        RECORD_REPUTATION_LEVEL,
        [keys.reputationLevel(serverId), keys.events(messageShard(serverId))],
        // The level outlives the 24 h window it describes by a day, then starts afresh.
        [level, 2 * 86_400, ...warnings.map((event) => JSON.stringify(event))],
      )
      return Number(old)
    },
  }
}

export type StatsStore = ReturnType<typeof createStatsStore>
