import { quotaView, quotaWindow } from '@outbound/quota'
import type { ConfigSnapshot, QuotaStore } from '@outbound/store'

export type QuotaReport = {
  serverId: string
  name: string
  limit: number | null
  used: number
  remaining: number | null
  reservedForTransactional: number
  windowStart: string
  resetsAt: string
}

/** Today's quota of every server and of the built-in default server (`default`). */
export async function quotaReport(
  snapshot: ConfigSnapshot,
  quota: QuotaStore,
  now: Date,
): Promise<QuotaReport[]> {
  const { settings } = snapshot
  const window = quotaWindow(now, settings.quotaTimezone)
  const servers = [
    { id: 'default', name: 'built-in default server', dailyLimit: settings.defaultDailyLimit },
    ...snapshot.servers.map(({ id, name, dailyLimit }) => ({ id, name, dailyLimit })),
  ]
  const used = await quota.readQuotaUsed(
    servers.map((s) => s.id),
    window.day,
  )
  return servers.map((server) => ({
    serverId: server.id,
    name: server.name,
    ...quotaView(server.dailyLimit, used.get(server.id) ?? 0, settings.transactionalReservePercent),
    windowStart: window.start.toISOString(),
    resetsAt: window.resetsAt.toISOString(),
  }))
}
