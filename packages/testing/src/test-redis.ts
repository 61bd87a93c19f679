import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { Redis } from 'ioredis'
import { startLocalRedis } from '@outbound/local-redis'

export type TestRedis = { url: string; stop(): Promise<void> }

/**
 * A Redis for one test file: REDIS_URL when set, else a redis-server spawned on a free port in a
 * temp dir, else a container. Never the machine's shared Redis unless REDIS_URL names it.
 */
export async function startTestRedis(): Promise<TestRedis> {
  const given = process.env['REDIS_URL']
  if (given !== undefined && given !== '') return { url: given, stop: async () => {} }
  const dataDir = mkdtempSync(join(tmpdir(), 'outbound-test-redis-'))
  const redis = await startLocalRedis({
    dataDir,
    appendOnly: false,
    searchPath: process.env['PATH'] ?? '',
  })
  return {
    url: redis.url,
    stop: async () => {
      await redis.stop()
      rmSync(dataDir, { recursive: true, force: true })
    },
  }
}

/** A key prefix of its own for one test (`test-<random>`), for the store and for BullMQ. */
export function testPrefix(): string {
  return `test-${randomBytes(5).toString('hex')}`
}

/** Deletes every key under a test prefix; returns how many there were. */
export async function deleteKeysWithPrefix(url: string, prefix: string): Promise<number> {
  const redis = new Redis(url, { lazyConnect: true })
  await redis.connect()
  let deleted = 0
  try {
    let cursor = '0'
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000)
      cursor = next
      if (keys.length > 0) deleted += await redis.del(...keys)
    } while (cursor !== '0')
  } finally {
    redis.disconnect()
  }
  return deleted
}
