import {
  COMPLAINT_RATE_THRESHOLDS,
  complaintRate,
  complaintRateLevel,
  type ComplaintRateLevel,
} from '@outbound/bounce'
import { reputationWarningEvent, type ReputationWarning } from '@outbound/jobs'
import type { StatsStore } from '@outbound/store'

export type ReputationDeps = {
  stats: StatsStore
  now: () => Date
  newEventId: () => string
}

/** A server's complaint rate over the last 24 h (DOMAIN.md §9). */
export type ServerComplaintRate = {
  serverId: string
  complained: number
  delivered: number
  rate: number
  level: ComplaintRateLevel
}

/** Every server's complaint rate over the last 24 h, from the stats counters. */
export async function complaintRates(deps: ReputationDeps): Promise<ServerComplaintRate[]> {
  const counts = await deps.stats.complaintCounts(deps.now())
  return counts.map((entry) => {
    const rate = complaintRate(entry.complained, entry.delivered)
    return { ...entry, rate, level: complaintRateLevel(rate) }
  })
}

/**
 * Records where each server's complaint rate stands (`only`: just that server) and emits a
 * `reputation.warning` for each threshold crossed upwards since the last check, once per crossing
 * whichever process checks (a drop below a threshold re-arms its warning). Returns the warnings
 * emitted, for the caller to log.
 */
export async function checkReputation(
  deps: ReputationDeps,
  only?: string,
): Promise<{ rates: ServerComplaintRate[]; warnings: ReputationWarning[] }> {
  const rates = await complaintRates(deps)
  const warnings: ReputationWarning[] = []
  for (const server of rates) {
    if (only !== undefined && server.serverId !== only) continue
    const at = deps.now()
    const warningAt = (threshold: number): ReputationWarning => ({
      serverId: server.serverId,
      threshold,
      rate: server.rate,
      complained: server.complained,
      delivered: server.delivered,
    })
    const [low, high] = COMPLAINT_RATE_THRESHOLDS.map(warningAt)
    if (low === undefined || high === undefined) continue
    const before = await deps.stats.recordReputationLevel(server.serverId, server.level, [
      reputationWarningEvent(deps.newEventId(), at, low),
      reputationWarningEvent(deps.newEventId(), at, high),
    ])
    if (server.level >= 1 && before < 1) warnings.push(low)
    if (server.level >= 2 && before < 2) warnings.push(high)
  }
  return { rates, warnings }
}
