import { randomUUID } from 'node:crypto'
import { getPriority, setPriority } from 'node:os'
import { setFlagsFromString } from 'node:v8'
import { Queue } from 'bullmq'
import { Cluster } from 'ioredis'
import type { Logger } from 'pino'
import { ConfigError, loadWorkerConfig, redactConfig } from '@outbound/config'
import {
  type DeliverJobData,
  DEFAULT_WEBHOOK_RETRY_SCHEDULE_SECONDS,
  queuePrefix,
  type Stream,
  type WebhookJobData,
  WEBHOOKS_QUEUE,
} from '@outbound/jobs'
import { createLogger, createRedis, handleSignals, newId, waitForRedis } from '@outbound/runtime'
import {
  createConfigCache,
  createConfigStore,
  createMessageStore,
  createQuotaStore,
  createBounceStore,
  createComplaintStore,
  createEventStream,
  createKeys,
  createServerStateStore,
  createWebhookStore,
} from '@outbound/store'
import { Registry } from 'prom-client'
import { createWindowCache } from './delivery/daily-quota.js'
import { createDeliveryMetrics, createWebhookMetrics, serveMetrics } from './metrics.js'
import { createSigner } from './sign-message.js'
import { unsubscribeKey } from '@outbound/secrets'
import { createDmarcPolicies } from './dmarc-policies.js'
import { orderedOutcomes } from './ordered-outcomes.js'
import { createRoutingContext } from './routing-context.js'
import { createTransportRegistry } from './transports/transport-registry.js'
import { servesWebhooks, startPools, startWebhookPool } from './pools.js'
import { startDispatcher } from './webhooks/dispatcher.js'
import { createFileOutbox } from './transports/file-outbox.js'
import { startSweeper } from './sweeper.js'
import { createServerStates, stateChangedEvent } from './server-states.js'
import { watchQuotaRaises } from './quota-raises.js'
import { createSmtpTransport, smtpSettingsFromUrl } from './transports/smtp-transport.js'

const STARTUP_REDIS_TIMEOUT_MS = 30_000
// In-flight sends may take a while (large attachments, slow servers); then the process exits anyway.
const SHUTDOWN_TIMEOUT_MS = 60_000
// A connection lease lapses this long after its process stopped renewing it.
const LEASE_TTL_MS = 30_000
// How long a process's wish for a connection lease stands (it says so again while it waits).
const LEASE_WANTED_MS = 100

// A worker allocates fast and keeps little (a few records and messages per job in flight). V8's
// default lets the heap grow to several times what is live before a full collection: growing it
// by a fifth at a time keeps the worker's memory to about two thirds for a few percent more CPU
// (measured in `pnpm bench`). Read at every collection, so it applies although set at run time.
setFlagsFromString('--heap-growing-percent=20')

async function main(): Promise<void> {
  let config
  try {
    config = loadWorkerConfig(process.env, process.argv.slice(2))
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err
    process.stderr.write(`outbound worker: ${err.message}\n`)
    process.exit(1)
  }
  const log = createLogger(config.logLevel, 'worker', process.stdout.isTTY)
  log.info({ config: redactConfig(config) }, 'starting worker')
  // Campaigns and webhooks are background work: a password reset goes first.
  if (config.pool === 'mass' || config.pool === 'webhooks') yieldCpu(config.backgroundNice, log)

  const redis = createRedis(config.redisUrl, 'worker', log)
  await waitForRedis(redis, STARTUP_REDIS_TIMEOUT_MS)
  // The stores' calls of many jobs at once leave together (one write per tick, not per command).
  const storeRedis = createRedis(config.redisUrl, 'worker', log, { autoPipelining: true })
  await waitForRedis(storeRedis, STARTUP_REDIS_TIMEOUT_MS)
  const defaultTransport =
    config.smtpUrl === undefined
      ? createFileOutbox(config.outboxDir)
      : createSmtpTransport(smtpSettingsFromUrl(config.smtpUrl))
  if (config.publicUrl === undefined || config.secretKey === undefined) {
    log.warn(
      'PUBLIC_URL or OUTBOUND_SECRET_KEY is not set: mass mail goes out without one-click unsubscribe (each record says so)',
    )
  }
  // This process, as the holder of its leases (connections, the sweeper).
  const holder = `worker-${process.pid}-${randomUUID()}`
  const shaping = createServerStateStore(storeRedis)
  const transports = createTransportRegistry({
    defaultTransport,
    secretKey: config.secretKey,
    previousSecretKeys: config.previousSecretKeys,
    // maxConnections holds across every worker process: a lease per open connection.
    leases: (server) => ({
      take: (member, max) => shaping.takeConnectionLease(server.id, member, max, LEASE_TTL_MS),
      renew: (members) => shaping.renewConnectionLeases(server.id, members, LEASE_TTL_MS),
      release: (member) => shaping.releaseConnectionLease(server.id, member),
      want: () => shaping.wantConnectionLease(server.id, holder, LEASE_WANTED_MS),
      wantedElsewhere: () => shaping.connectionLeaseWantedByOther(server.id, holder),
    }),
    holder,
  })
  // Configuration changes arrive over a subscriber connection of their own, within a second.
  const subscriber = createRedis(config.redisUrl, 'worker', log)
  const configStore = createConfigStore(storeRedis)
  const configCache = await createConfigCache(configStore, subscriber, {
    onError: (err) => log.warn({ err }, 'configuration refresh failed'),
  })
  const registry = new Registry()
  const metricsServer =
    config.metricsPort === undefined
      ? undefined
      : await serveMetrics(registry, config.metricsPort, config.metricsHost)
  const store = createMessageStore(storeRedis)
  const eventStream = createEventStream(storeRedis)
  const quota = createQuotaStore(storeRedis)
  const metrics = createDeliveryMetrics(registry)
  const serverStates = createServerStates({
    store: shaping,
    serverIds: () => configCache.current().servers.map((server) => server.id),
    onChange: async (change) => {
      const { server, before, after } = change
      log.warn(
        {
          serverId: server.id,
          from: before?.status ?? 'ok',
          to: after.status,
          until: after.until,
          reason: after.reason,
        },
        'server state changed',
      )
      metrics.serverStateChange(server.id, after.status)
      await eventStream.appendEvent(stateChangedEvent(newId('evt'), new Date(), change))
    },
    onRefresh: (states) => {
      for (const server of configCache.current().servers)
        metrics.serverState(server.id, states.get(server.id)?.status ?? 'ok')
    },
    now: () => new Date(),
    log,
  })
  const queue = (name: Stream) => {
    const q = new Queue<DeliverJobData>(name, { connection: redis, prefix: queuePrefix() })
    q.on('error', (err) => log.warn({ err, queue: name }, 'queue error'))
    return q
  }
  const queues = { transactional: queue('transactional'), mass: queue('mass') }
  const workers = startPools({
    connection: redis,
    prefix: queuePrefix(),
    pool: config.pool,
    concurrency: config.concurrency,
    deliver: {
      store,
      // The BullMQ workers' connection: an outcome and its job's move leave together (settle.ts).
      ...(redis instanceof Cluster ? {} : { orderedStore: orderedOutcomes(redis) }),
      transports,
      // A sandbox key's mail: always the file outbox, even when SMTP_URL is set.
      sandboxOutbox: createFileOutbox(config.outboxDir),
      routing: createRoutingContext(configCache),
      quota,
      quotaWindow: createWindowCache(),
      bounces: createBounceStore(storeRedis),
      complaints: createComplaintStore(storeRedis),
      dmarcPolicy: createDmarcPolicies(config.dnsServers, () => new Date()),
      listUnsubscribe: {
        publicUrl: config.publicUrl,
        tokenKey: config.secretKey === undefined ? undefined : unsubscribeKey(config.secretKey),
      },
      sign: createSigner([
        ...(config.secretKey === undefined ? [] : [config.secretKey]),
        ...config.previousSecretKeys,
      ]),
      metrics,
      serverStates,
      shaping,
      now: () => new Date(),
      newEventId: () => newId('evt'),
      appendEvent: (event) => eventStream.appendEvent(event),
      rawRetentionMs: config.rawRetentionDays * 86_400_000,
      log,
    },
    log,
  })
  // Webhooks never share a connection, a queue or a concurrency limit with mail: a receiver that
  // hangs holds up webhooks only. Every process dispatches; `webhooks` and `all` deliver.
  const webhookRedis = createRedis(config.redisUrl, 'worker', log)
  const webhookQueueRedis = createRedis(config.redisUrl, 'worker', log)
  const webhookStore = createWebhookStore(webhookRedis)
  const webhookMetrics = createWebhookMetrics(registry)
  const retrySchedule = config.webhookRetrySchedule ?? DEFAULT_WEBHOOK_RETRY_SCHEDULE_SECONDS
  const webhookQueue = new Queue<WebhookJobData>(WEBHOOKS_QUEUE, {
    connection: webhookQueueRedis,
    prefix: queuePrefix(),
  })
  webhookQueue.on('error', (err) => log.warn({ err, queue: WEBHOOKS_QUEUE }, 'queue error'))
  const dispatcher = startDispatcher({
    events: createEventStream(webhookRedis),
    webhooks: webhookStore,
    queue: webhookQueue,
    endpoints: () => configCache.current().webhooks,
    retrySchedule,
    consumer: `worker-${process.pid}-${randomUUID()}`,
    oldestEventAge: (seconds) => webhookMetrics.oldestEventAge(seconds),
    log,
    now: () => new Date(),
  })
  const webhookWorker = servesWebhooks(config.pool)
    ? startWebhookPool({
        connection: webhookQueueRedis,
        prefix: queuePrefix(),
        concurrency: config.webhookConcurrency,
        deliver: {
          retrySchedule,
          webhooks: webhookStore,
          configStore,
          endpoints: () => configCache.current().webhooks,
          secretKeys: [
            ...(config.secretKey === undefined ? [] : [config.secretKey]),
            ...config.previousSecretKeys,
          ],
          allowPrivateUrls: config.allowPrivateWebhookUrls,
          attempted: (endpointId, status) => webhookMetrics.attempted(endpointId, status),
          now: () => new Date(),
          log,
        },
        log,
      })
    : undefined
  // One process at a time re-adds the jobs of messages whose job went missing.
  const sweeper = startSweeper({
    redis,
    store,
    queues,
    leaseKey: createKeys('outbound').sweeperLease(),
    holder,
    log,
    repaired: (stream) => metrics.sweeperRepair(stream),
    now: () => new Date(),
  })
  const quotaRaises = watchQuotaRaises({
    current: () => configCache.current(),
    quota,
    queues,
    log,
  })
  log.info({ pool: config.pool, defaultServer: defaultTransport.description }, 'worker ready')

  handleSignals(
    log,
    async () => {
      // close() lets in-flight jobs finish and takes no new ones.
      quotaRaises.stop()
      serverStates.close()
      await sweeper.stop()
      await dispatcher.stop()
      await Promise.all(
        [...workers, ...(webhookWorker ? [webhookWorker] : [])].map((w) => w.close()),
      )
      await Promise.all([...Object.values(queues), webhookQueue].map((q) => q.close()))
      await new Promise((resolve) =>
        metricsServer === undefined ? resolve(undefined) : metricsServer.close(resolve),
      )
      await transports.closeAll()
      await configCache.close()
      await Promise.all(
        [redis, storeRedis, subscriber, webhookRedis, webhookQueueRedis].map((r) => r.quit()),
      )
    },
    SHUTDOWN_TIMEOUT_MS,
  )
}

main().catch((err: unknown) => {
  process.stderr.write(
    `outbound worker: failed to start: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
  )
  process.exit(1)
})

/**
 * Lowers this process's CPU priority to `nice` (a mass-only or webhooks-only worker): on a busy
 * host, the transactional workers, Redis and the API are scheduled first and a campaign does not
 * slow a password reset down. Raising it back would need privileges, so it only ever goes down.
 */
function yieldCpu(nice: number, log: Logger): void {
  if (nice === 0) return
  try {
    const current = getPriority()
    if (current < nice) setPriority(nice)
    log.info({ nice: Math.max(current, nice) }, 'background worker runs at a lower CPU priority')
  } catch (err) {
    log.warn({ err }, 'the CPU priority could not be lowered')
  }
}
