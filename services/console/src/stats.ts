// GET /v1/stats answers buckets `{start, accepted, sent, deferred, bounced: {hard, soft}, failed,
// suppressed, complained, unsubscribed}`; this reads them defensively (missing counts are 0, a
// bare array or `{data}` is taken too) and derives the series the activity page draws.

export type StatsBucket = {
  start: string
  accepted: number
  sent: number
  deferred: number
  bouncedHard: number
  bouncedSoft: number
  failed: number
  suppressed: number
  complained: number
  unsubscribed: number
}

export type Stats = { buckets: StatsBucket[]; complaintRate24h: number | null }

const count = (value: unknown): number =>
  typeof value === 'number' && Number.isFinite(value) ? value : 0

function readBucket(raw: unknown): StatsBucket | null {
  if (typeof raw !== 'object' || raw === null) return null
  const b = raw as Record<string, unknown>
  if (typeof b['start'] !== 'string') return null
  const bounced = b['bounced']
  const hard =
    typeof bounced === 'object' && bounced !== null
      ? count((bounced as Record<string, unknown>)['hard'])
      : count(bounced)
  const soft =
    typeof bounced === 'object' && bounced !== null
      ? count((bounced as Record<string, unknown>)['soft'])
      : 0
  return {
    start: b['start'],
    accepted: count(b['accepted']),
    sent: count(b['sent']),
    deferred: count(b['deferred']),
    bouncedHard: hard,
    bouncedSoft: soft,
    failed: count(b['failed']),
    suppressed: count(b['suppressed']),
    complained: count(b['complained']),
    unsubscribed: count(b['unsubscribed']),
  }
}

export function readStats(answer: unknown): Stats {
  const object =
    typeof answer === 'object' && answer !== null ? (answer as Record<string, unknown>) : {}
  const list = Array.isArray(answer)
    ? answer
    : Array.isArray(object['buckets'])
      ? object['buckets']
      : Array.isArray(object['data'])
        ? object['data']
        : []
  const buckets = list
    .map(readBucket)
    .filter((b): b is StatsBucket => b !== null)
    .sort((a, b) => Date.parse(a.start) - Date.parse(b.start))
  const rate = object['complaintRate24h']
  return {
    buckets,
    complaintRate24h: typeof rate === 'number' && Number.isFinite(rate) ? rate : null,
  }
}

/** Complaints ÷ delivered (sent) over the buckets that start at or after `since`. */
export function complaintRate(buckets: readonly StatsBucket[], since: Date): number | null {
  let sent = 0
  let complained = 0
  for (const b of buckets) {
    if (Date.parse(b.start) < since.getTime()) continue
    sent += b.sent
    complained += b.complained
  }
  return sent === 0 ? null : complained / sent
}

export type Totals = Omit<StatsBucket, 'start'>

export function totals(buckets: readonly StatsBucket[]): Totals {
  const sum: Totals = {
    accepted: 0,
    sent: 0,
    deferred: 0,
    bouncedHard: 0,
    bouncedSoft: 0,
    failed: 0,
    suppressed: 0,
    complained: 0,
    unsubscribed: 0,
  }
  for (const b of buckets)
    for (const key of Object.keys(sum) as (keyof Totals)[]) sum[key] += b[key]
  return sum
}

/** The GET /v1/stats path for a range, an interval and optional stream and server. */
export function statsPath(query: {
  since: Date
  until: Date
  interval: 'hour' | 'day'
  stream?: string | undefined
  serverId?: string | undefined
}): string {
  const params = new URLSearchParams({
    since: query.since.toISOString(),
    until: query.until.toISOString(),
    interval: query.interval,
  })
  if (query.stream !== undefined && query.stream !== '') params.set('stream', query.stream)
  if (query.serverId !== undefined && query.serverId !== '') params.set('serverId', query.serverId)
  return `/v1/stats?${params.toString()}`
}
