import { describe, expect, it } from 'vitest'
import { createEventStream, createKeys, createWebhookStore } from '@outbound/store'
import { useTestDatabase } from './helpers/test-redis.js'

const db = useTestDatabase()

const event = (id: string) => ({
  id,
  type: 'quota.warning' as const,
  timestamp: new Date().toISOString(),
  data: { serverId: 'srv_1' },
})

describe('createEventStream', () => {
  it('hands each entry to one consumer, claims what a dead one left, and trims what was acknowledged', async () => {
    const stream = createEventStream(db.redis, db.prefix)
    await stream.ensureGroups()
    await stream.ensureGroups()
    await stream.appendEvent(event('evt_a'))
    // The shard the event went to.
    let found = -1
    for (let s = 0; s < stream.shards; s += 1) {
      if ((await db.redis.xlen(createKeys(db.prefix).events(s))) > 0) found = s
    }
    const [read] = await stream.readNew(found, 'dies', 10)
    expect(read?.event).toMatchObject({ id: 'evt_a', type: 'quota.warning' })
    expect(await stream.readNew(found, 'lives', 10)).toEqual([])
    // Not acknowledged: trimming keeps it, and after the idle time another consumer claims it.
    await stream.trimRead(found)
    expect(await db.redis.xlen(createKeys(db.prefix).events(found))).toBe(1)
    expect(await stream.claimStale(found, 'lives', 60_000, 10)).toEqual([])
    const claimed = await stream.claimStale(found, 'lives', 0, 10)
    expect(claimed.map((e) => e.event?.id)).toEqual(['evt_a'])
    expect(await stream.oldestEntryAt(found)).toBeInstanceOf(Date)
    await stream.acknowledge(
      found,
      claimed.map((e) => e.entryId),
    )
    await stream.trimRead(found)
    expect(await db.redis.xlen(createKeys(db.prefix).events(found))).toBe(0)
    expect(await stream.oldestEntryAt(found)).toBeNull()
    // 'dies' holds nothing any more: it is forgotten once idle long enough, 'lives' too here.
    expect(await stream.forgetIdleConsumers(found, 3_600_000)).toBe(0)
    expect(await stream.forgetIdleConsumers(found, 0)).toBe(2)
  })
})

describe('createWebhookStore', () => {
  it('logs attempts newest first by status, and tracks since when every delivery failed', async () => {
    const store = createWebhookStore(db.redis, db.prefix)
    const attempt = (n: number, status: 'succeeded' | 'failed' | 'pending', at: number) => ({
      eventId: 'evt_1',
      type: 'email.sent',
      attempt: n,
      status,
      statusCode: status === 'succeeded' ? 200 : 500,
      durationMs: 3,
      response: null,
      error: null,
      at: new Date(at).toISOString(),
    })
    const t0 = Date.now()
    expect(await store.recordAttempt('wh_1', attempt(1, 'pending', t0))).toEqual(new Date(t0))
    expect(await store.recordAttempt('wh_1', attempt(2, 'pending', t0 + 1000))).toEqual(
      new Date(t0),
    )
    expect(await store.recordAttempt('wh_1', attempt(3, 'succeeded', t0 + 2000))).toBeNull()
    const all = await store.listAttempts('wh_1', { limit: 10 })
    expect(all.map((a) => a.attempt)).toEqual([3, 2, 1])
    expect(await store.listAttempts('wh_1', { status: 'pending', limit: 1 })).toMatchObject([
      { attempt: 2 },
    ])
    await store.saveEvent(event('evt_1'))
    expect(await store.readEvent('evt_1')).toMatchObject({ id: 'evt_1' })
    expect(await store.readEvent('evt_2')).toBeNull()
    await store.forgetEndpoint('wh_1')
    expect(await store.listAttempts('wh_1', { limit: 10 })).toEqual([])
  })
})
