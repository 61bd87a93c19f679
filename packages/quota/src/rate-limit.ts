/** A rate limit: `count` units per `periodMs`. */
export type RateLimit = { count: number; periodMs: number }

const PERIODS: Readonly<Record<string, number>> = { s: 1000, min: 60_000, h: 3_600_000 }
const RATE = /^([1-9]\d{0,8})\/(s|min|h)$/

/** `"40/s"`, `"600/min"`, `"10000/h"` (n ≥ 1); null for anything else. */
export function parseRateLimit(text: string): RateLimit | null {
  const match = RATE.exec(text.trim())
  if (match === null) return null
  const periodMs = PERIODS[match[2] ?? '']
  return periodMs === undefined ? null : { count: Number(match[1]), periodMs }
}

/**
 * The generic cell rate algorithm's parameters of a limit (DOMAIN.md §8): the emission interval
 * (one unit every `intervalMs`, spread evenly: 600/min is one every 100 ms) and the tolerance that
 * lets a burst of max(1, a tenth of the rate per second) units go at once. Over any second no more
 * than the rate plus that burst goes out.
 */
export function rateParameters(rate: RateLimit): { intervalMs: number; toleranceMs: number } {
  const intervalMs = rate.periodMs / rate.count
  const perSecond = (rate.count * 1000) / rate.periodMs
  const burst = Math.max(1, Math.floor(perSecond / 10))
  return { intervalMs, toleranceMs: (burst - 1) * intervalMs }
}
