import { limitInForce, quotaView, quotaWindow, type ServerState } from '@outbound/quota'
import type { ConfigSnapshot, QuotaStore, ServerStateStore } from '@outbound/store'

export type QuotaReport = {
  serverId: string
  name: string
  limit: number | null
  used: number
  remaining: number | null
  reservedForTransactional: number
  windowStart: string
  resetsAt: string
  /** The server's health (the built-in default server has none: null). */
  state: ServerState | null
}

/** Today's quota of every server and of the built-in default server (`default`). */
export async function quotaReport(
  snapshot: ConfigSnapshot,
  quota: QuotaStore,
  now: Date,
  serverStates?: ServerStateStore,
): Promise<QuotaReport[]> {
  const { settings } = snapshot
  const window = quotaWindow(now, settings.quotaTimezone)
  // The limit in force: a warm-up schedule's day, else the daily limit (DOMAIN.md §8).
  const servers = [
    { id: 'default', name: 'built-in default server', dailyLimit: settings.defaultDailyLimit },
    ...snapshot.servers.map((server) => ({
      id: server.id,
      name: server.name,
      dailyLimit: limitInForce(server, now, settings.quotaTimezone),
    })),
  ]
  const [used, states] = await Promise.all([
    quota.readQuotaUsed(
      servers.map((s) => s.id),
      window.day,
    ),
    serverStates?.readServerStates(snapshot.servers.map((s) => s.id)) ??
      new Map<string, ServerState>(),
  ])
  return servers.map((server) => ({
    serverId: server.id,
    name: server.name,
    ...quotaView(server.dailyLimit, used.get(server.id) ?? 0, settings.transactionalReservePercent),
    windowStart: window.start.toISOString(),
    resetsAt: window.resetsAt.toISOString(),
    state: states.get(server.id) ?? null,
  }))
}
