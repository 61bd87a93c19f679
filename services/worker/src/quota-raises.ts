import type { Queue } from 'bullmq'
import type { Logger } from 'pino'
import type { DeliverJobData, Stream } from '@outbound/jobs'
import type { ConfigSnapshot, QuotaStore } from '@outbound/store'
import { DEFAULT_SERVER_ID } from './delivery/types.js'

/** Each server's daily limit in force (null: unlimited), the built-in default server included. */
function limits(snapshot: ConfigSnapshot): Map<string, number | null> {
  return new Map<string, number | null>([
    [DEFAULT_SERVER_ID, snapshot.settings.defaultDailyLimit],
    ...snapshot.servers.map((server): [string, number | null] => [server.id, server.dailyLimit]),
  ])
}

/**
 * The servers whose mail deferred by the daily quota may go now: a limit raised or removed, or a
 * smaller transactional reserve (which lets mass mail use more of every limit).
 */
export function raisedServers(before: ConfigSnapshot, after: ConfigSnapshot): string[] {
  const old = limits(before)
  const reserveShrank =
    after.settings.transactionalReservePercent < before.settings.transactionalReservePercent
  return [...limits(after)].flatMap(([serverId, limit]) => {
    const previous = old.get(serverId)
    if (previous === undefined) return []
    const raised = previous !== null && (limit === null || limit > previous)
    return raised || reserveShrank ? [serverId] : []
  })
}

/**
 * Watches the configuration this process holds; when a server's limit is raised, the jobs of the
 * messages its quota deferred are promoted at once. Each is tried again and its quota checked
 * again (DOMAIN.md §6): a raise lets mail go, it does not send it blindly.
 */
export function watchQuotaRaises(options: {
  current: () => ConfigSnapshot
  quota: QuotaStore
  queues: Readonly<Record<Stream, Queue<DeliverJobData>>>
  log: Logger
  intervalMs?: number
}): { stop(): void } {
  let seen = options.current()
  const check = async () => {
    const now = options.current()
    if (now === seen) return
    const servers = raisedServers(seen, now)
    seen = now
    for (const serverId of servers) {
      const members = await options.quota.takeQuotaWaiting(serverId)
      let promoted = 0
      for (const member of members) {
        const [stream, id] = member.split(':', 2)
        const queue = stream === 'mass' ? options.queues.mass : options.queues.transactional
        const job = id === undefined ? undefined : await queue.getJob(id)
        if (job === undefined || !(await job.isDelayed())) continue
        await job.promote()
        promoted += 1
      }
      if (promoted > 0)
        options.log.info({ serverId, promoted }, 'daily limit raised: deferred mail tried again')
    }
  }
  const timer = setInterval(() => {
    check().catch((err: unknown) =>
      options.log.warn({ err }, 'promoting quota-deferred mail failed'),
    )
  }, options.intervalMs ?? 1000)
  timer.unref()
  return { stop: () => clearInterval(timer) }
}
