import { Cluster, Redis, type RedisOptions } from 'ioredis'
import type { Logger } from 'pino'
import { parseClusterUrl, parseSentinelUrl } from '@outbound/config'

/** A connection to a single Redis (or one behind Sentinel), or to a Redis Cluster. */
export type RedisClient = Redis | Cluster

/**
 * `producer`: the API's connection, which fails fast (no offline queue) so a request gets an error
 * instead of hanging. `worker`: waits out outages (BullMQ needs maxRetriesPerRequest null).
 */
export type RedisRole = 'producer' | 'worker'

const ROLE_OPTIONS: Record<RedisRole, RedisOptions> = {
  producer: { enableOfflineQueue: false, maxRetriesPerRequest: 1 },
  worker: { maxRetriesPerRequest: null },
}

/** A client for REDIS_URL: redis://, rediss://, a unix socket path, redis+sentinel:// or redis+cluster://. */
function connect(url: string, options: RedisOptions): RedisClient {
  if (url.startsWith('/')) return new Redis({ ...options, path: url })
  const cluster = parseClusterUrl(url)
  if (cluster !== null) {
    const credentials = {
      ...(cluster.username === undefined ? {} : { username: cluster.username }),
      ...(cluster.password === undefined ? {} : { password: cluster.password }),
    }
    return new Cluster(cluster.nodes, {
      enableOfflineQueue: options.enableOfflineQueue ?? true,
      enableAutoPipelining: options.enableAutoPipelining ?? false,
      redisOptions: { ...options, ...credentials },
    })
  }
  const sentinel = parseSentinelUrl(url)
  if (sentinel === null) return new Redis(url, options)
  return new Redis({
    ...options,
    sentinels: sentinel.sentinels,
    name: sentinel.name,
    db: sentinel.db,
    // The same credentials for the sentinels and the master, as most deployments have them.
    ...(sentinel.username === undefined
      ? {}
      : { username: sentinel.username, sentinelUsername: sentinel.username }),
    ...(sentinel.password === undefined
      ? {}
      : { password: sentinel.password, sentinelPassword: sentinel.password }),
  })
}

/**
 * A connection to REDIS_URL whose errors are logged. `autoPipelining`: commands issued in the same
 * tick leave in one write (for the stores' connection, whose calls come from many jobs or batch
 * items at once; BullMQ keeps connections of its own).
 */
export function createRedis(
  url: string,
  role: RedisRole,
  log: Logger,
  { autoPipelining = false }: { autoPipelining?: boolean } = {},
): RedisClient {
  const options: RedisOptions = {
    ...ROLE_OPTIONS[role],
    connectionName: `outbound-${role}`,
    enableAutoPipelining: autoPipelining,
  }
  const redis = connect(url, options)
  let lastMessage = ''
  redis.on('error', (err: Error) => {
    // A dead Redis makes ioredis report every reconnect; log each distinct error once.
    if (err.message === lastMessage) return
    lastMessage = err.message
    log.warn({ err }, 'redis connection error')
  })
  redis.on('ready', () => {
    if (lastMessage !== '') log.info('redis connection restored')
    lastMessage = ''
  })
  return redis
}

/** Resolves when the connection is ready; rejects after timeoutMs with the last error. */
export async function waitForRedis(redis: RedisClient, timeoutMs: number): Promise<void> {
  if (redis.status === 'ready') return
  await new Promise<void>((resolve, reject) => {
    let lastError: unknown
    const onError = (err: unknown) => {
      lastError = err
    }
    const timer = setTimeout(() => {
      redis.off('ready', onReady)
      redis.off('error', onError)
      reject(new Error(`Redis did not answer within ${timeoutMs} ms`, { cause: lastError }))
    }, timeoutMs)
    const onReady = () => {
      clearTimeout(timer)
      redis.off('error', onError)
      resolve()
    }
    redis.once('ready', onReady)
    redis.on('error', onError)
  })
}
