import type { Stream } from '@outbound/jobs'

/**
 * How much of a daily limit a stream may use: transactional mail all of it, mass mail all but the
 * last `reservePercent` (rounded so that the reserve is never smaller than asked).
 */
export function streamCap(limit: number, stream: Stream, reservePercent: number): number {
  if (stream === 'transactional') return limit
  return Math.floor((limit * (100 - reservePercent)) / 100)
}

export type QuotaView = {
  limit: number | null
  used: number
  remaining: number | null
  reservedForTransactional: number
}

/** A server's quota as operators see it (GET /v1/quota); `limit` null means unlimited. */
export function quotaView(limit: number | null, used: number, reservePercent: number): QuotaView {
  if (limit === null) return { limit: null, used, remaining: null, reservedForTransactional: 0 }
  return {
    limit,
    used,
    remaining: Math.max(0, limit - used),
    reservedForTransactional: limit - streamCap(limit, 'mass', reservePercent),
  }
}

/** True when this reservation took the count across 90 % of the limit (warn once per window). */
export function crossedWarningLevel(
  limit: number | null,
  usedBefore: number,
  usedAfter: number,
): boolean {
  if (limit === null || limit === 0) return false
  const level = 0.9 * limit
  return usedBefore < level && usedAfter >= level
}
