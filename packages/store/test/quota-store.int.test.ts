import { Redis } from 'ioredis'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { createQuotaStore, type QuotaStore } from '@outbound/store'
import { deleteKeysWithPrefix, startTestRedis, testPrefix, type TestRedis } from '@outbound/testing'

let server: TestRedis
let prefix: string
let quota: QuotaStore
const connections: Redis[] = []

beforeAll(async () => {
  server = await startTestRedis()
  for (let i = 0; i < 4; i++) connections.push(new Redis(server.url))
})
afterAll(async () => {
  for (const c of connections) c.disconnect()
  await server.stop()
})
beforeEach(() => {
  prefix = testPrefix()
  quota = createQuotaStore(connections[0] ?? new Redis(server.url), prefix)
})
afterEach(async () => {
  await deleteKeysWithPrefix(server.url, prefix)
})

describe('createQuotaStore', () => {
  it('grants exactly the cap to 300 concurrent reservations over four connections', async () => {
    const stores = connections.map((c) => createQuotaStore(c, prefix))
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
    const ttl = await (connections[0] ?? new Redis()).ttl(`${prefix}:quota:{srv_1}:d`)
    expect(ttl).toBeGreaterThan(89_000)
  })
})
