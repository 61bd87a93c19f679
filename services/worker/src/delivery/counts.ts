import { classifyFailure } from '@outbound/bounce'
import type { Recipient, StatCounts } from '@outbound/store'
import { failureOfRecipient } from './record-bounces.js'

/**
 * What the stats count for an outcome (recipients): each recipient whose status this outcome
 * changed, under its new status (a bounce as hard or soft, as its `email.bounced` event says),
 * and `deferred`, the recipients the attempt deferred (again or for the first time).
 */
export function outcomeCounts(
  before: readonly Recipient[],
  after: readonly Recipient[],
  deferred = 0,
): StatCounts {
  const counts: StatCounts = deferred > 0 ? { deferred } : {}
  const add = (metric: keyof StatCounts) => {
    counts[metric] = (counts[metric] ?? 0) + 1
  }
  after.forEach((recipient, i) => {
    if (recipient.status === before[i]?.status) return
    switch (recipient.status) {
      case 'sent':
      case 'failed':
      case 'suppressed':
      case 'canceled':
        add(recipient.status)
        return
      case 'bounced':
        add(
          classifyFailure({ ...failureOfRecipient(recipient), action: null }).kind === 'hard'
            ? 'bounced.hard'
            : 'bounced.soft',
        )
        return
      case 'pending':
      case 'deferred':
        // Deferrals are counted from the attempt (`deferred`), not from a change of status.
        return
    }
  })
  return counts
}
