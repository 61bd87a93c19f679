export type BounceHistoryEntry = { at: Date; kind: 'hard' | 'soft' }

export type SuppressionVerdict = { suppress: false } | { suppress: true; reason: string }

const DAY = 86_400_000
const SOFT_WINDOW_MS = 13 * 7 * DAY
const SOFT_SPACING_MS = 7 * DAY
const SOFT_COUNT = 5

/**
 * Whether an address stops being mailed (DOMAIN.md §7): after `hardAfter` hard bounces, or after
 * 5 soft bounces within 13 weeks that lie more than a week apart (Odoo's mass-mailing rule).
 */
export function shouldSuppress(
  history: readonly BounceHistoryEntry[],
  now: Date,
  hardAfter: number,
): SuppressionVerdict {
  const hard = history.filter((entry) => entry.kind === 'hard').length
  if (hard >= hardAfter) {
    return { suppress: true, reason: hard === 1 ? 'hard bounce' : `${hard} hard bounces` }
  }
  const recentSoft = history
    .filter(
      (entry) => entry.kind === 'soft' && now.getTime() - entry.at.getTime() <= SOFT_WINDOW_MS,
    )
    .map((entry) => entry.at.getTime())
    .sort((a, b) => a - b)
  // The longest chain of soft bounces each more than a week after the previous one.
  let chain = 0
  let last = -Infinity
  for (const at of recentSoft) {
    if (at - last > SOFT_SPACING_MS) {
      chain += 1
      last = at
    }
  }
  return chain >= SOFT_COUNT
    ? { suppress: true, reason: `${chain} soft bounces more than a week apart within 13 weeks` }
    : { suppress: false }
}
