import { setTimeout as delay } from 'node:timers/promises'
import type { Queue } from 'bullmq'
import type { Logger } from 'pino'
import { type WebhookJobData, webhookJobOptions } from '@outbound/jobs'
import type {
  EventStream,
  StoredEvent,
  StreamEntry,
  WebhookEndpoint,
  WebhookStore,
} from '@outbound/store'

export type DispatcherDeps = {
  events: EventStream
  webhooks: WebhookStore
  queue: Queue<WebhookJobData>
  /** The endpoints as configured now (the configuration cache). */
  endpoints: () => readonly WebhookEndpoint[]
  retrySchedule: readonly number[]
  /** This process's consumer name in the group (unique per process). */
  consumer: string
  /** The age (seconds) of the oldest event not yet dispatched, after each round of upkeep. */
  oldestEventAge: (seconds: number) => void
  log: Logger
  now: () => Date
  /** Pause between polls when every shard was empty. */
  pollMs?: number
  /** Pause after a read that found fewer events than a batch. */
  gatherMs?: number
  /** How long an entry stays with a consumer before another claims it. */
  claimIdleMs?: number
  /** How often entries are claimed and streams trimmed. */
  upkeepMs?: number
}

const BATCH = 100
// A consumer idle this long with nothing pending belonged to a process that is gone.
const FORGET_CONSUMER_AFTER_MS = 3600 * 1000

/** True when the endpoint is active and subscribes to this event type. */
function wants(endpoint: WebhookEndpoint, type: string): boolean {
  return endpoint.active && (endpoint.events.includes('*') || endpoint.events.includes(type))
}

/**
 * Reads every shard's event stream in the dispatchers' consumer group and turns each event into
 * one delivery job per matching active endpoint, then acknowledges it. A dispatcher that dies
 * leaves its entries pending; another claims them after `claimIdleMs` and adds the jobs again,
 * which adds nothing twice (job id `<eventId>.<endpointId>`). Already running.
 */
export function startDispatcher(deps: DispatcherDeps): { stop(): Promise<void> } {
  const pollMs = deps.pollMs ?? 250
  const gatherMs = deps.gatherMs ?? 50
  const claimIdleMs = deps.claimIdleMs ?? 60_000
  const upkeepMs = deps.upkeepMs ?? 10_000
  const stopping = new AbortController()
  const isStopping = () => stopping.signal.aborted

  async function dispatch(shard: number, entries: readonly StreamEntry[]): Promise<void> {
    const jobs: {
      name: string
      data: WebhookJobData
      opts: ReturnType<typeof webhookJobOptions>
    }[] = []
    const endpoints = deps.endpoints()
    const saves: Promise<void>[] = []
    for (const { entryId, event } of entries) {
      if (event === null) {
        deps.log.error({ shard, entryId }, 'unreadable webhook event skipped')
        continue
      }
      const matching = endpoints.filter((endpoint) => wants(endpoint, event.type))
      if (matching.length === 0) continue
      // Saved together (one pipelined round trip), each before any job that reads it is added.
      saves.push(deps.webhooks.saveEvent(event))
      for (const endpoint of matching) jobs.push(job(event, endpoint))
    }
    await Promise.all(saves)
    if (jobs.length > 0) await deps.queue.addBulk(jobs)
    await deps.events.acknowledge(
      shard,
      entries.map(({ entryId }) => entryId),
    )
  }

  function job(event: StoredEvent, endpoint: WebhookEndpoint) {
    return {
      name: event.type,
      data: { eventId: event.id, endpointId: endpoint.id },
      opts: webhookJobOptions(event.id, endpoint.id, deps.retrySchedule),
    }
  }

  async function upkeep(): Promise<void> {
    let oldest: Date | null = null
    for (let shard = 0; shard < deps.events.shards; shard += 1) {
      for (;;) {
        const claimed = await deps.events.claimStale(shard, deps.consumer, claimIdleMs, BATCH)
        if (claimed.length === 0) break
        deps.log.info({ shard, entries: claimed.length }, 'claimed webhook events left pending')
        await dispatch(shard, claimed)
      }
      await deps.events.trimRead(shard)
      await deps.events.forgetIdleConsumers(shard, FORGET_CONSUMER_AFTER_MS)
      const at = await deps.events.oldestEntryAt(shard)
      if (at !== null && (oldest === null || at < oldest)) oldest = at
    }
    deps.oldestEventAge(oldest === null ? 0 : (deps.now().getTime() - oldest.getTime()) / 1000)
  }

  const running = (async () => {
    let ready = false
    let lastUpkeep = 0
    while (!isStopping()) {
      try {
        if (!ready) {
          await deps.events.ensureGroups()
          ready = true
        }
        // Every shard read at once (one pipelined round trip), then dispatched shard by shard.
        const read = await Promise.all(
          Array.from({ length: deps.events.shards }, (_, shard) =>
            deps.events.readNew(shard, deps.consumer, BATCH),
          ),
        )
        const found = read.reduce((sum, entries) => sum + entries.length, 0)
        // The shards' events dispatched together: their writes share round trips.
        await Promise.all(
          read.map((entries, shard) =>
            entries.length > 0 ? dispatch(shard, entries) : Promise.resolve(),
          ),
        )
        if (deps.now().getTime() - lastUpkeep >= upkeepMs) {
          lastUpkeep = deps.now().getTime()
          await upkeep()
        }
        // Nothing: the next poll. A trickle: a moment for more to gather, so that a busy worker
        // reads its events a batch at a time rather than one or two per read of every shard.
        if (found === 0) await delay(pollMs, undefined, { signal: stopping.signal })
        else if (found < BATCH) await delay(gatherMs, undefined, { signal: stopping.signal })
      } catch (err) {
        if (isStopping()) break
        deps.log.warn({ err }, 'webhook dispatch failed; trying again')
        await delay(1000, undefined, { signal: stopping.signal }).catch(() => undefined)
      }
    }
  })()

  return {
    async stop() {
      stopping.abort()
      await running
    },
  }
}
