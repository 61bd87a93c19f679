import { beforeEach, describe, expect, it } from 'vitest'
import {
  type BounceStore,
  createBounceStore,
  createStatsStore,
  createUnsubscribeStore,
  type UnsubscribeStore,
} from '@outbound/store'
import { useTestDatabase } from './helpers/test-redis.js'

const db = useTestDatabase()
let bounces: BounceStore
let unsubscribes: UnsubscribeStore

beforeEach(() => {
  bounces = createBounceStore(db.redis, db.prefix)
  unsubscribes = createUnsubscribeStore(db.redis, db.prefix)
})

const at = new Date('2026-12-01T09:00:00Z')
const unsubscribe = (messageId: string, address = 'bob@example.com', list = 'weekly') => ({
  messageId,
  recipientIndex: 0,
  address,
  list,
  at,
  event: {
    id: `evt_${messageId}`,
    type: 'email.unsubscribed' as const,
    timestamp: at.toISOString(),
    data: {},
  },
})

async function eventCount(): Promise<number> {
  const keys = await db.redis.keys(`${db.prefix}:{m*}:events`)
  const lengths = await Promise.all(keys.map((key) => db.redis.xlen(key)))
  return lengths.reduce((a, b) => a + b, 0)
}

const entry = (address: string, list: string | null = null) => ({
  address,
  list,
  reason: 'x',
  source: 'manual' as const,
  createdAt: at.toISOString(),
})

describe('unsubscribes', () => {
  it('suppress for the list and write one event, however often and through whichever link', async () => {
    expect(await unsubscribes.unsubscribe(unsubscribe('msg_1'))).toBe('unsubscribed')
    expect(await unsubscribes.unsubscribe(unsubscribe('msg_1'))).toBe('already')
    expect(await unsubscribes.unsubscribe(unsubscribe('msg_2'))).toBe('already')
    expect(await eventCount()).toBe(1)
    // Counted once, in the same step as the event.
    const [day] = await createStatsStore(db.redis, db.prefix).readStats({
      since: new Date('2026-12-01T00:00:00Z'),
      until: new Date('2026-12-02T00:00:00Z'),
      interval: 'day',
    })
    expect(day?.unsubscribed).toBe(1)
    expect(await bounces.getSuppression('bob@example.com', 'weekly')).toMatchObject({
      list: 'weekly',
      source: 'unsubscribe',
    })
    expect(await bounces.getSuppression('bob@example.com')).toBeNull()
  })

  it('emit the event of a first click even when an import already listed the address', async () => {
    await bounces.addSuppression({ ...entry('bob@example.com', 'weekly'), source: 'import' })
    expect(await unsubscribes.unsubscribe(unsubscribe('msg_1'))).toBe('unsubscribed')
    expect(await eventCount()).toBe(1)
    expect(await unsubscribes.unsubscribe(unsubscribe('msg_1'))).toBe('already')
    expect(await eventCount()).toBe(1)
  })

  it('write the suppression a crash left out on the next use of the link, without a second event', async () => {
    await unsubscribes.unsubscribe(unsubscribe('msg_1'))
    // As if the process had died between the event and the suppression.
    await bounces.removeSuppression('bob@example.com', 'weekly')
    expect(await unsubscribes.unsubscribe(unsubscribe('msg_1'))).toBe('unsubscribed')
    expect(await bounces.getSuppression('bob@example.com', 'weekly')).not.toBeNull()
    expect(await eventCount()).toBe(1)
  })
})

describe('matchSuppressions', () => {
  it('finds address, domain and list entries in one look-up, the every-mail entry first', async () => {
    await bounces.addSuppressions([
      entry('all@example.com'),
      entry('*@gone.example'),
      entry('list@example.com', 'weekly'),
      entry('*@listed.example', 'weekly'),
      entry('both@example.com', 'weekly'),
      entry('both@example.com'),
    ])
    const found = await bounces.matchSuppressions([
      { address: 'all@example.com', list: null },
      { address: 'all@example.com', list: 'weekly' },
      { address: 'x@gone.example', list: null },
      { address: 'list@example.com', list: 'weekly' },
      { address: 'list@example.com', list: 'offers' },
      { address: 'list@example.com', list: null },
      { address: 'y@listed.example', list: 'weekly' },
      { address: 'y@listed.example', list: null },
      { address: 'both@example.com', list: 'weekly' },
      { address: 'free@example.com', list: 'weekly' },
    ])
    expect(found.map((s) => (s === null ? null : `${s.address}|${s.list ?? ''}`))).toEqual([
      'all@example.com|',
      'all@example.com|',
      '*@gone.example|',
      'list@example.com|weekly',
      null,
      null,
      '*@listed.example|weekly',
      null,
      'both@example.com|',
      null,
    ])
  })

  it('adds many entries in one step, telling the new from the known', async () => {
    expect(
      await bounces.addSuppressions([
        entry('a@x.example'),
        entry('a@x.example', 'w'),
        entry('a@x.example'),
      ]),
    ).toEqual([true, true, false])
    const pages = []
    for await (const page of bounces.scanSuppressions()) pages.push(...page)
    expect(pages).toHaveLength(2)
  })
})
