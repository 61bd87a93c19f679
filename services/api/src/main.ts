import { fileURLToPath } from 'node:url'
import { Queue } from 'bullmq'
import { ConfigError, loadApiConfig, redactConfig } from '@outbound/config'
import {
  type DeliverJobData,
  queuePrefix,
  type Stream,
  type WebhookJobData,
  WEBHOOKS_QUEUE,
} from '@outbound/jobs'
import { createLogger, createRedis, handleSignals, newId, waitForRedis } from '@outbound/runtime'
import {
  createBounceStore,
  createComplaintStore,
  createStatsStore,
  createUnsubscribeStore,
  createConfigCache,
  createConfigStore,
  createMessageStore,
  createQuotaStore,
  createServerStateStore,
  createWebhookStore,
} from '@outbound/store'
import { buildApp } from './app.js'
import { createTxtResolver } from './resolve-txt.js'

const STARTUP_REDIS_TIMEOUT_MS = 15_000
const SHUTDOWN_TIMEOUT_MS = 15_000

async function main(): Promise<void> {
  let config
  try {
    config = loadApiConfig(process.env)
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err
    process.stderr.write(`outbound api: ${err.message}\n`)
    process.exit(1)
  }
  const log = createLogger(config.logLevel, 'api', process.stdout.isTTY)
  log.info({ config: redactConfig(config) }, 'starting api')

  const redis = createRedis(config.redisUrl, 'producer', log)
  await waitForRedis(redis, STARTUP_REDIS_TIMEOUT_MS)
  const queue = (name: Stream) => {
    const q = new Queue<DeliverJobData>(name, { connection: redis, prefix: queuePrefix() })
    q.on('error', (err) => log.warn({ err, queue: name }, 'queue error'))
    return q
  }
  const queues = { transactional: queue('transactional'), mass: queue('mass') }
  const webhookQueue = new Queue<WebhookJobData>(WEBHOOKS_QUEUE, {
    connection: redis,
    prefix: queuePrefix(),
  })
  webhookQueue.on('error', (err) => log.warn({ err, queue: WEBHOOKS_QUEUE }, 'queue error'))
  // The stores' calls of a batch's items leave together (one write per tick, not per command).
  const storeRedis = createRedis(config.redisUrl, 'producer', log, { autoPipelining: true })
  await waitForRedis(storeRedis, STARTUP_REDIS_TIMEOUT_MS)

  const configStore = createConfigStore(storeRedis)
  // The configuration cache follows changes over its own (subscriber) connection.
  const subscriber = createRedis(config.redisUrl, 'worker', log)
  const configCache = await createConfigCache(configStore, subscriber, {
    onError: (err) => log.warn({ err }, 'configuration refresh failed'),
  })
  const app = await buildApp({
    config,
    store: createMessageStore(storeRedis),
    configStore,
    configCache,
    quota: createQuotaStore(storeRedis),
    serverStates: createServerStateStore(storeRedis),
    bounces: createBounceStore(storeRedis),
    complaints: createComplaintStore(storeRedis),
    stats: createStatsStore(storeRedis),
    unsubscribes: createUnsubscribeStore(storeRedis),
    queues,
    webhookQueue,
    webhooks: createWebhookStore(storeRedis),
    ping: () => redis.ping(),
    rateLimitRedis: redis,
    resolveTxt: createTxtResolver(config.dnsServers),
    logger: log,
    newId,
    // The console's bundle, built by `pnpm build` beside this service (services/console/dist).
    consoleDir: fileURLToPath(new URL('../../console/dist', import.meta.url)),
  })
  handleSignals(
    log,
    async () => {
      await app.close()
      await Promise.all([...Object.values(queues), webhookQueue].map((q) => q.close()))
      await configCache.close()
      await Promise.all([redis.quit(), storeRedis.quit(), subscriber.quit()])
    },
    SHUTDOWN_TIMEOUT_MS,
  )
  await app.listen({ host: config.host, port: config.port })
}

main().catch((err: unknown) => {
  process.stderr.write(
    `outbound api: failed to start: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
  )
  process.exit(1)
})
