import { pino } from 'pino'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createRedis, waitForRedis } from '@outbound/runtime'
import { freePort, startTestRedis, type TestRedis } from '@outbound/testing'

let server: TestRedis
const log = pino({ level: 'silent' })

beforeAll(async () => {
  server = await startTestRedis()
})
afterAll(async () => {
  await server.stop()
})

describe('createRedis', () => {
  it('connects a producer that answers', async () => {
    const redis = createRedis(server.url, 'producer', log)
    await waitForRedis(redis, 5000)
    expect(await redis.ping()).toBe('PONG')
    redis.disconnect()
  })

  it('fails a producer command at once while Redis is down instead of queueing it', async () => {
    const redis = createRedis(`redis://127.0.0.1:${await freePort()}`, 'producer', log)
    await expect(waitForRedis(redis, 300)).rejects.toThrow(/did not answer within 300 ms/)
    await expect(redis.ping()).rejects.toThrow()
    redis.disconnect()
  })
})
