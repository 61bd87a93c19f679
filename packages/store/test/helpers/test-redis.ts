import { Redis } from 'ioredis'
import { afterAll, afterEach, beforeAll, beforeEach } from 'vitest'
import { deleteKeysWithPrefix, startTestRedis, testPrefix, type TestRedis } from '@outbound/testing'

export type TestDatabase = {
  /** The test Redis's URL, for extra connections. */
  readonly url: string
  /** One connection, shared by the file's tests. */
  readonly redis: Redis
  /** A key prefix of this test alone; its keys are deleted after the test. */
  readonly prefix: string
}

/**
 * Registers the hooks of a store test file: a private Redis for the file, a fresh key prefix for
 * each test, and the clean-up of both. Read the fields inside hooks and tests.
 */
export function useTestDatabase(): TestDatabase {
  let server: TestRedis | undefined
  let connection: Redis | undefined
  let prefix = ''
  const started = <T>(value: T | undefined): T => {
    if (value === undefined) throw new Error('the test Redis is not started yet (use it in a hook)')
    return value
  }
  beforeAll(async () => {
    server = await startTestRedis()
    connection = new Redis(server.url)
  })
  afterAll(async () => {
    connection?.disconnect()
    await server?.stop()
  })
  beforeEach(() => {
    prefix = testPrefix()
  })
  afterEach(async () => {
    await deleteKeysWithPrefix(started(server).url, prefix)
  })
  return {
    get url() {
      return started(server).url
    },
    get redis() {
      return started(connection)
    },
    get prefix() {
      return prefix
    },
  }
}
