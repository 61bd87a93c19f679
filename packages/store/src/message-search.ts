import type { Cluster, Redis } from 'ioredis'
import { normalizeAddressText } from '@outbound/address'
import type { Stream } from '@outbound/jobs'
import { createKeys, MESSAGE_SHARDS } from './keys.js'
import { ALL_INDEX, statusIndex } from './message-index.js'
import {
  type MessageRecord,
  type MessageStatus,
  parseMessageRecord,
  RECORD_FIELDS,
} from './message-record.js'

/** What GET /v1/emails filters on; every filter given must hold (AND). */
export type MessageFilter = {
  status?: MessageStatus
  stream?: Stream
  /** A recipient (to, cc or bcc), in comparison form. */
  to?: string
  /** The sender, in comparison form. */
  from?: string
  tag?: string
  reference?: string
  list?: string
  /** Accepted at or after. */
  since?: Date
  /** Accepted before. */
  until?: Date
}

/** A place in the newest-first order: acceptance time (ms), then id (descending, as Redis orders ties). */
export type SearchPosition = { score: number; id: string }

/** A search result row: the record without its events and bodies, with its mailing list if any. */
export type MessageRow = Omit<MessageRecord, 'events'> & { list: string | null }

export type SearchPage = { rows: MessageRow[]; next: SearchPosition | null }

type Entry = SearchPosition & { row: MessageRow | null }

/** At most this many index entries are read per query; past it the page ends early with a cursor. */
const SCAN_BUDGET = 5000

const ROW_FIELDS = RECORD_FIELDS

/** True when `a` comes before `b` in the newest-first order. */
function isBefore(a: SearchPosition, b: SearchPosition): boolean {
  return a.score !== b.score ? a.score > b.score : a.id > b.id
}

/** The indexes that can answer each given filter (time bounds apply to every index). */
function candidateIndexes(filter: MessageFilter): string[] {
  const indexes: string[] = []
  if (filter.status !== undefined) indexes.push(statusIndex(filter.status))
  if (filter.stream !== undefined) indexes.push(`stream:${filter.stream}`)
  if (filter.to !== undefined) indexes.push(`to:${filter.to}`)
  if (filter.from !== undefined) indexes.push(`from:${filter.from}`)
  if (filter.tag !== undefined) indexes.push(`tag:${filter.tag}`)
  if (filter.reference !== undefined) indexes.push(`reference:${filter.reference}`)
  if (filter.list !== undefined) indexes.push(`list:${filter.list}`)
  return indexes.length === 0 ? [ALL_INDEX] : indexes
}

/** Whether a record meets every filter; the time bounds are the index's business. */
function matches(row: MessageRow, filter: MessageFilter): boolean {
  const { request } = row
  return (
    (filter.status === undefined || row.status === filter.status) &&
    (filter.stream === undefined || row.stream === filter.stream) &&
    (filter.from === undefined || normalizeAddressText(request.from) === filter.from) &&
    (filter.to === undefined ||
      row.recipients.some((r) => normalizeAddressText(r.address) === filter.to)) &&
    (filter.tag === undefined || request.tags.includes(filter.tag)) &&
    (filter.reference === undefined || request.reference === filter.reference) &&
    (filter.list === undefined || row.list === filter.list)
  )
}

/**
 * Message search over the per-shard indexes: the most selective index given is read newest first
 * in every shard, the shards are merged by (time, id), and each entry's record is checked against
 * the other filters. Entries whose record has expired are skipped and dropped from the index.
 */
export function createMessageSearch(redis: Redis | Cluster, prefix = 'outbound') {
  const keys = createKeys(prefix)

  async function readRows(ids: readonly string[]): Promise<(MessageRow | null)[]> {
    const replies = await Promise.all(ids.map((id) => redis.hmget(keys.message(id), ...ROW_FIELDS)))
    return replies.map((values, i) => {
      const id = ids[i] ?? ''
      if (values[0] === null || values[0] === undefined) return null
      const fields: Record<string, string> = {}
      ROW_FIELDS.forEach((field, index) => {
        const value = values[index]
        if (value !== null && value !== undefined) fields[field] = value
      })
      const { events: _events, ...record } = parseMessageRecord(id, fields, [])
      return { ...record, list: record.stream === 'mass' ? (record.request.list ?? null) : null }
    })
  }

  /** Up to `count` entries of one shard's index after `after` (or from the top), newest first. */
  async function readShard(
    key: string,
    top: string,
    bottom: string,
    after: SearchPosition | null,
    count: number,
  ): Promise<SearchPosition[]> {
    const parse = (reply: string[]) => {
      const entries: SearchPosition[] = []
      for (let i = 0; i + 1 < reply.length; i += 2)
        entries.push({ id: reply[i] ?? '', score: Number(reply[i + 1]) })
      return entries
    }
    if (after === null)
      return parse(
        await redis.zrange(key, top, bottom, 'BYSCORE', 'REV', 'LIMIT', 0, count, 'WITHSCORES'),
      )
    // The entries that share the last score come first (ids after it, in Redis's byte order),
    // then those below it: a keyset cursor, so removals and inserts elsewhere shift nothing.
    const [ties, below] = await Promise.all([
      redis.zrange(key, String(after.score), String(after.score), 'BYSCORE', 'REV', 'WITHSCORES'),
      redis.zrange(
        key,
        `(${after.score}`,
        bottom,
        'BYSCORE',
        'REV',
        'LIMIT',
        0,
        count,
        'WITHSCORES',
      ),
    ])
    const tied = parse(ties).filter((entry) => isBefore(after, entry))
    return [...tied, ...parse(below)].slice(0, count)
  }

  /** Which candidate index holds the fewest entries in the time range (ZCOUNT over every shard). */
  async function mostSelective(indexes: string[], top: string, bottom: string) {
    if (indexes.length === 1) return indexes[0] ?? ALL_INDEX
    const counts = await Promise.all(
      indexes.map(async (index) => {
        const perShard = await Promise.all(
          Array.from({ length: MESSAGE_SHARDS }, (_, shard) =>
            redis.zcount(keys.messageIndex(shard, index), bottom, top),
          ),
        )
        return perShard.reduce((sum, n) => sum + n, 0)
      }),
    )
    let best = 0
    counts.forEach((count, i) => {
      if (count < (counts[best] ?? Infinity)) best = i
    })
    return indexes[best] ?? ALL_INDEX
  }

  return {
    /**
     * One page of the messages matching `filter`, newest first, after `cursor`. `next` is where
     * the next page starts, null when nothing is left. A page may hold fewer than `limit` rows
     * (but never skips one) when a filter combination makes it read more than SCAN_BUDGET entries.
     */
    async searchMessages(
      filter: MessageFilter,
      limit: number,
      cursor: SearchPosition | null,
    ): Promise<SearchPage> {
      const top = filter.until === undefined ? '+inf' : `(${filter.until.getTime()}`
      const bottom = filter.since === undefined ? '-inf' : String(filter.since.getTime())
      const index = await mostSelective(candidateIndexes(filter), top, bottom)
      const chunk = Math.min(limit, Math.ceil(limit / MESSAGE_SHARDS) + 4)

      type Shard = {
        key: string
        buffer: Entry[]
        last: SearchPosition | null
        done: boolean
        /** Entries to read next: grows while filters reject this shard's entries. */
        size: number
      }
      const shards: Shard[] = Array.from({ length: MESSAGE_SHARDS }, (_, shard) => ({
        key: keys.messageIndex(shard, index),
        buffer: [],
        last: cursor,
        done: false,
        size: chunk,
      }))
      const fill = async (shard: Shard) => {
        const size = shard.size
        shard.size = Math.min(size * 2, 200)
        const entries = await readShard(shard.key, top, bottom, shard.last, size)
        read += entries.length
        if (entries.length < size) shard.done = true
        const last = entries.at(-1)
        if (last !== undefined) shard.last = { score: last.score, id: last.id }
        const rows = await readRows(entries.map((entry) => entry.id))
        const gone = entries.filter((_, i) => rows[i] === null).map((entry) => entry.id)
        // The record expired (or was never enqueued): its entry has nothing left to point to.
        if (gone.length > 0) await redis.zrem(shard.key, ...gone)
        entries.forEach((entry, i) => shard.buffer.push({ ...entry, row: rows[i] ?? null }))
      }

      const rows: MessageRow[] = []
      let position: SearchPosition | null = cursor
      let read = 0
      for (;;) {
        await Promise.all(
          shards.filter((shard) => shard.buffer.length === 0 && !shard.done).map(fill),
        )
        let full = false
        for (;;) {
          let pick: Shard | null = null
          for (const shard of shards) {
            const head = shard.buffer[0]
            if (head === undefined) {
              if (!shard.done) {
                pick = null
                break
              }
              continue
            }
            const best = pick?.buffer[0]
            if (best === undefined || isBefore(head, best)) pick = shard
          }
          // Stop when a shard that may hold newer entries has run dry: it is refilled first.
          if (pick === null) break
          const entry = pick.buffer.shift()
          if (entry === undefined) break
          position = { score: entry.score, id: entry.id }
          if (entry.row !== null && matches(entry.row, filter)) rows.push(entry.row)
          if (rows.length === limit) {
            full = true
            break
          }
        }
        const exhausted = shards.every((shard) => shard.done && shard.buffer.length === 0)
        if (exhausted) return { rows, next: null }
        if (full || read >= SCAN_BUDGET) return { rows, next: position }
      }
    },
  }
}

export type MessageSearch = ReturnType<typeof createMessageSearch>
