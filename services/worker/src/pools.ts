import { UnrecoverableError, Worker } from 'bullmq'
import type { Cluster, Redis } from 'ioredis'
import type { Logger } from 'pino'
import type { PoolName } from '@outbound/config'
import {
  type DeliverJobData,
  type Stream,
  STREAMS,
  WEBHOOK_BACKOFF,
  type WebhookJobData,
  webhookRetryDelayMs,
  WEBHOOKS_QUEUE,
} from '@outbound/jobs'
import { deliver } from './delivery/deliver.js'
import type { DeliverDeps } from './delivery/types.js'
import { deliverWebhook, type WebhookDeliveryDeps } from './webhooks/deliver-webhook.js'

export type PoolsDeps = {
  connection: Redis | Cluster
  /** The BullMQ prefix (queuePrefix() of the key base). */
  prefix: string
  pool: PoolName
  concurrency: Readonly<Record<Stream, number>>
  deliver: DeliverDeps
  log: Logger
}

/** The streams a pool serves: one, both for `all`, none for `webhooks`. */
export function streamsOf(pool: PoolName): readonly Stream[] {
  if (pool === 'webhooks') return []
  return pool === 'all' ? STREAMS : [pool]
}

/** True when the pool delivers webhooks (`webhooks` and `all`). */
export function servesWebhooks(pool: PoolName): boolean {
  return pool === 'webhooks' || pool === 'all'
}

/**
 * The BullMQ worker of the `webhooks` queue, apart from mail: its own connection (give it one of
 * its own) and concurrency, so that a receiver that hangs holds up webhooks only. Already running.
 */
export function startWebhookPool(deps: {
  connection: Redis | Cluster
  prefix: string
  concurrency: number
  deliver: WebhookDeliveryDeps
  log: Logger
}): Worker<WebhookJobData> {
  const worker = new Worker<WebhookJobData>(
    WEBHOOKS_QUEUE,
    (job) => deliverWebhook(job, deps.deliver),
    {
      connection: deps.connection,
      prefix: deps.prefix,
      concurrency: deps.concurrency,
      maxStalledCount: 10,
      settings: {
        backoffStrategy: (attemptsMade, type) =>
          type === WEBHOOK_BACKOFF
            ? webhookRetryDelayMs(attemptsMade, deps.deliver.retrySchedule)
            : -1,
      },
    },
  )
  worker.on('error', (err) => deps.log.error({ err, queue: WEBHOOKS_QUEUE }, 'worker error'))
  return worker
}

/** One BullMQ worker per stream of the pool, each with its own concurrency; already running. */
export function startPools(deps: PoolsDeps): Worker<DeliverJobData>[] {
  return streamsOf(deps.pool).map((stream) => {
    const worker = new Worker<DeliverJobData>(
      stream,
      (job, token) => deliver(job, token, deps.deliver),
      {
        connection: deps.connection,
        prefix: deps.prefix,
        concurrency: deps.concurrency[stream],
        // A crashed worker's jobs come back after the lock expires; allow several crashes in a row
        // before BullMQ gives up on a job (the message record keeps it from being sent twice).
        maxStalledCount: 10,
        // A worker that dies loses its jobs' locks after 30 s; they are checked for every 15 s.
        lockDuration: 30_000,
        stalledInterval: 15_000,
      },
    )
    worker.on('error', (err) => deps.log.error({ err, stream }, 'worker error'))
    worker.on('failed', (job, err) => {
      // The job handler records its own outcomes (a final failure ends the job as failed); what is
      // left are stalls and unexpected errors, which BullMQ retries: those a human must see.
      if (err instanceof UnrecoverableError) return
      deps.log.error(
        { jobId: job?.id, stream, err },
        err.message.includes('stalled')
          ? 'job failed after repeated stalls'
          : 'delivery attempt failed unexpectedly',
      )
    })
    return worker
  })
}
