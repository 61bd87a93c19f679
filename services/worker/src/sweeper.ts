import type { Queue } from 'bullmq'
import type { Cluster, Redis } from 'ioredis'
import type { Logger } from 'pino'
import { DELIVER_JOB, type DeliverJobData, deliverJobOptions, type Stream } from '@outbound/jobs'
import type { MessageStore } from '@outbound/store'

export type SweeperOptions = {
  redis: Redis | Cluster
  store: MessageStore
  queues: Readonly<Record<Stream, Queue<DeliverJobData>>>
  /** The key of the lease that lets one process at a time sweep. */
  leaseKey: string
  /** This process, as the lease's holder. */
  holder: string
  log: Logger
  /** Counts a repaired message. */
  repaired: (stream: Stream) => void
  now: () => Date
  /** How often to look (20 s). */
  intervalMs?: number
  /** How long a message may be overdue before its job is checked (30 s). */
  graceMs?: number
  /** Messages checked per shard and round. */
  batch?: number
}

// KEYS: lease. ARGV: holder, ttl ms. Takes the lease when free, renews it when ours.
const TAKE_LEASE = `
local holder = redis.call('GET', KEYS[1])
if holder and holder ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', tonumber(ARGV[2]))
return 1
`

/** How long a checked message whose job exists is left alone. */
const RECHECK_MS = 5 * 60_000

/**
 * Finds messages that wait for an attempt but whose job is gone (the API died between writing the
 * record and adding the job, or Redis lost the job) and adds the job again; job id = message id, so
 * a job that exists after all is not doubled, and the claim keeps a message from going out twice.
 * One process at a time (a lease in Redis); it reads the shards' pending indexes, never every record.
 */
export async function sweepOnce(options: SweeperOptions): Promise<number> {
  const { store, queues, redis, log } = options
  const now = options.now()
  const due = await store.duePending(
    new Date(now.getTime() - (options.graceMs ?? 30_000)),
    options.batch ?? 200,
  )
  if (due.length === 0) return 0
  const states = await store.statusesOf(due.map((entry) => entry.id))
  let repairs = 0
  await Promise.all(
    due.map(async (entry, i) => {
      const state = states[i] ?? null
      if (state === null || !['queued', 'scheduled', 'deferred'].includes(state.status)) {
        await store.dropPending(entry.id)
        return
      }
      const queue = queues[state.stream]
      if ((await redis.exists(queue.toKey(entry.id))) === 1) {
        await store.postponePending(entry.id, new Date(now.getTime() + RECHECK_MS))
        return
      }
      const delayMs = Math.max(0, entry.due.getTime() - now.getTime())
      await queue.add(DELIVER_JOB, { messageId: entry.id }, deliverJobOptions(entry.id, delayMs))
      repairs += 1
      options.repaired(state.stream)
      log.warn(
        { messageId: entry.id, status: state.status, stream: state.stream },
        'message without a job: job added again',
      )
    }),
  )
  return repairs
}

/** Runs sweepOnce every intervalMs while this process holds the lease; stop() ends it. */
export function startSweeper(options: SweeperOptions): { stop(): Promise<void> } {
  const intervalMs = options.intervalMs ?? 20_000
  let running: Promise<unknown> = Promise.resolve()
  const tick = async () => {
    const held = await options.redis.eval(
      TAKE_LEASE,
      1,
      options.leaseKey,
      options.holder,
      intervalMs * 3,
    )
    if (held === 1) await sweepOnce(options)
  }
  const timer = setInterval(() => {
    running = tick().catch((err: unknown) => options.log.warn({ err }, 'sweeper round failed'))
  }, intervalMs)
  timer.unref()
  return {
    async stop() {
      clearInterval(timer)
      await running
    },
  }
}
