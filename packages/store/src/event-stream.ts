import type { Cluster, Redis } from 'ioredis'
import { Type, type Static } from 'typebox'
import { Compile } from 'typebox/compile'
import type { WebhookEvent } from '@outbound/jobs'
import { createKeys, MESSAGE_SHARDS } from './keys.js'

const StoredEventSchema = Type.Object({
  id: Type.String(),
  type: Type.String(),
  timestamp: Type.String(),
  data: Type.Record(Type.String(), Type.Unknown()),
})
/** An event as read back from Redis (its type may be one this version does not know). */
export type StoredEvent = Static<typeof StoredEventSchema>
const storedEventValidator = Compile(StoredEventSchema)

/** An event's JSON read back, or null when it is not one. */
export function parseStoredEvent(json: string): StoredEvent | null {
  try {
    const value: unknown = JSON.parse(json)
    return storedEventValidator.Check(value) ? value : null
  } catch {
    return null
  }
}

/** An entry of a shard's event stream; `event` is null when its JSON is unreadable. */
export type StreamEntry = { entryId: string; event: StoredEvent | null }

type RawEntry = [id: string, fields: string[]]

function isRawEntry(value: unknown): value is RawEntry {
  return (
    Array.isArray(value) &&
    typeof value[0] === 'string' &&
    Array.isArray(value[1]) &&
    value[1].every((field) => typeof field === 'string')
  )
}

function parseEvent(fields: readonly string[]): StoredEvent | null {
  const index = fields.indexOf('e')
  const json = index >= 0 ? fields[index + 1] : undefined
  if (json === undefined) return null
  // Unreadable JSON is reported as a null event, acknowledged and logged by the caller.
  return parseStoredEvent(json)
}

function toEntries(raw: unknown): StreamEntry[] {
  if (!Array.isArray(raw)) return []
  return raw.filter(isRawEntry).map(([entryId, fields]) => ({ entryId, event: parseEvent(fields) }))
}

/** The stream id just after `id` (`<ms>-<seq+1>`). */
function nextId(id: string): string {
  const [ms = '0', seq = '0'] = id.split('-')
  return `${ms}-${BigInt(seq) + 1n}`
}

function compareIds(a: string, b: string): number {
  const [am = '0', as = '0'] = a.split('-')
  const [bm = '0', bs = '0'] = b.split('-')
  const byMs = BigInt(am) - BigInt(bm)
  const diff = byMs === 0n ? BigInt(as) - BigInt(bs) : byMs
  return diff < 0n ? -1 : diff > 0n ? 1 : 0
}

/**
 * The shards' webhook event streams as a consumer group reads them: the dispatchers of every
 * worker process share the group, each entry goes to one of them, and an entry left pending by a
 * consumer that died is claimed by another.
 */
export function createEventStream(redis: Redis | Cluster, prefix = 'outbound') {
  const keys = createKeys(prefix)
  const group = keys.eventsGroup()

  return {
    shards: MESSAGE_SHARDS,

    /** Creates the group on every shard's stream (and the stream) where it is missing. */
    async ensureGroups(): Promise<void> {
      for (let shard = 0; shard < MESSAGE_SHARDS; shard += 1) {
        try {
          // From the start: events written before the first dispatcher ran are delivered too.
          await redis.xgroup('CREATE', keys.events(shard), group, '0', 'MKSTREAM')
        } catch (err) {
          if (!(err instanceof Error) || !err.message.startsWith('BUSYGROUP')) throw err
        }
      }
    },

    /** Up to `count` entries of the shard no consumer has read yet; they are now `consumer`'s. */
    async readNew(shard: number, consumer: string, count: number): Promise<StreamEntry[]> {
      const reply: unknown = await redis.xreadgroup(
        'GROUP',
        group,
        consumer,
        'COUNT',
        count,
        'STREAMS',
        keys.events(shard),
        '>',
      )
      const stream: unknown = Array.isArray(reply) ? reply[0] : null
      return Array.isArray(stream) ? toEntries(stream[1]) : []
    },

    /** Entries read but not acknowledged for `minIdleMs` (their consumer died): now `consumer`'s. */
    async claimStale(
      shard: number,
      consumer: string,
      minIdleMs: number,
      count: number,
    ): Promise<StreamEntry[]> {
      const reply: unknown = await redis.xautoclaim(
        keys.events(shard),
        group,
        consumer,
        minIdleMs,
        '0-0',
        'COUNT',
        count,
      )
      return Array.isArray(reply) ? toEntries(reply[1]) : []
    },

    async acknowledge(shard: number, entryIds: readonly string[]): Promise<void> {
      if (entryIds.length > 0) await redis.xack(keys.events(shard), group, ...entryIds)
    },

    /**
     * Removes the entries every group of the shard has read and acknowledged. The groups are read
     * before their pending entries, so an entry read in between is still kept.
     */
    async trimRead(shard: number): Promise<void> {
      const key = keys.events(shard)
      const groups: unknown = await redis.xinfo('GROUPS', key)
      if (!Array.isArray(groups) || groups.length === 0) return
      let keepFrom: string | undefined
      for (const info of groups) {
        if (!Array.isArray(info)) return
        const fields = new Map<string, unknown>()
        for (let i = 0; i + 1 < info.length; i += 2) fields.set(String(info[i]), info[i + 1])
        const name = fields.get('name')
        const lastDelivered = fields.get('last-delivered-id')
        if (typeof name !== 'string' || typeof lastDelivered !== 'string') return
        const pending: unknown = await redis.xpending(key, name)
        const oldestPending: unknown = Array.isArray(pending) ? pending[1] : null
        const from = typeof oldestPending === 'string' ? oldestPending : nextId(lastDelivered)
        if (keepFrom === undefined || compareIds(from, keepFrom) < 0) keepFrom = from
      }
      if (keepFrom !== undefined) await redis.xtrim(key, 'MINID', keepFrom)
    },

    /**
     * Removes from the group the consumers (dispatchers of processes gone) that hold no entry and
     * have been idle for `idleMs`; a live dispatcher reads every poll and is never idle that long.
     */
    async forgetIdleConsumers(shard: number, idleMs: number): Promise<number> {
      const key = keys.events(shard)
      const consumers: unknown = await redis.xinfo('CONSUMERS', key, group)
      if (!Array.isArray(consumers)) return 0
      let forgotten = 0
      for (const info of consumers) {
        if (!Array.isArray(info)) continue
        const fields = new Map<string, unknown>()
        for (let i = 0; i + 1 < info.length; i += 2) fields.set(String(info[i]), info[i + 1])
        const name = fields.get('name')
        if (typeof name !== 'string') continue
        if (Number(fields.get('pending')) === 0 && Number(fields.get('idle')) >= idleMs) {
          await redis.xgroup('DELCONSUMER', key, group, name)
          forgotten += 1
        }
      }
      return forgotten
    },

    /** When the oldest entry still in the shard's stream was written; null when it is empty. */
    async oldestEntryAt(shard: number): Promise<Date | null> {
      const [first] = await redis.xrange(keys.events(shard), '-', '+', 'COUNT', 1)
      return first === undefined ? null : new Date(Number(first[0].split('-')[0]))
    },

    /** Appends an event that reports no message outcome (quota warnings) to a shard's stream. */
    async appendEvent(event: WebhookEvent): Promise<void> {
      await redis.xadd(keys.eventsOf(event.id), '*', 'e', JSON.stringify(event))
    },
  }
}

export type EventStream = ReturnType<typeof createEventStream>
