import { Redis } from 'ioredis'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { createQuotaStore, type QuotaStore } from '@outbound/store'
import { useTestDatabase } from './helpers/test-redis.js'

const db = useTestDatabase()
let quota: QuotaStore
// Three more connections besides the shared one: reservations race across them.
const connections: Redis[] = []

beforeAll(() => {
  connections.push(db.redis)
  for (let i = 0; i < 3; i++) connections.push(new Redis(db.url))
})
afterAll(() => {
  for (const c of connections.splice(1)) c.disconnect()
})
beforeEach(() => {
  quota = createQuotaStore(db.redis, db.prefix)
})

describe('createQuotaStore', () => {
  it('grants exactly the cap to 300 concurrent reservations over four connections', async () => {
    const stores = connections.map((c) => createQuotaStore(c, db.prefix))
    const results = await Promise.all(
      Array.from({ length: 300 }, (_, i) =>
        (stores[i % stores.length] ?? quota).reserveQuota('srv_1', '2026-03-10', 1, 100, 90_000),
      ),
    )
    expect(results.filter((r) => r.granted)).toHaveLength(100)
    expect((await quota.readQuotaUsed(['srv_1'], '2026-03-10')).get('srv_1')).toBe(100)
  })

  it('counts every recipient, refuses a reservation that does not fit whole, and releases', async () => {
    expect(await quota.reserveQuota('srv_1', 'd', 3, 4, 60)).toEqual({
      granted: true,
      usedBefore: 0,
      usedAfter: 3,
    })
    expect(await quota.reserveQuota('srv_1', 'd', 2, 4, 60)).toEqual({
      granted: false,
      usedBefore: 3,
      usedAfter: 3,
    })
    await quota.releaseQuota('srv_1', 'd', 3)
    await quota.releaseQuota('srv_1', 'd', 5)
    expect(await quota.readQuotaUsed(['srv_1', 'srv_2'], 'd')).toEqual(
      new Map([
        ['srv_1', 0],
        ['srv_2', 0],
      ]),
    )
  })

  it('lets the counter expire after its window', async () => {
    await quota.reserveQuota('srv_1', 'd', 1, 10, 90_000)
    const ttl = await db.redis.ttl(`${db.prefix}:quota:{srv_1}:d`)
    expect(ttl).toBeGreaterThan(89_000)
  })
})
