import { localDay } from './quota-window.js'

const DAY_MS = 86_400_000

/** Whole calendar days from `from` to `to` in a time zone (0 on the same local day). */
function daysBetween(from: Date, to: Date, timeZone: string): number {
  const [a, b] = [localDay(from, timeZone), localDay(to, timeZone)].map((day) =>
    Date.parse(`${day}T00:00:00Z`),
  )
  return Math.round(((b ?? 0) - (a ?? 0)) / DAY_MS)
}

/**
 * The daily limit in force (DOMAIN.md §8): during a warm-up, the schedule's limit for day 1, 2, …
 * after it was set (days in the quota time zone); past its end, and without one, `dailyLimit`.
 */
export function limitInForce(
  server: {
    dailyLimit: number | null
    warmupSchedule?: readonly number[] | null
    warmupStartedAt?: string | null
  },
  now: Date,
  timeZone: string,
): number | null {
  const schedule = server.warmupSchedule ?? null
  const started = server.warmupStartedAt ?? null
  if (schedule === null || schedule.length === 0 || started === null) return server.dailyLimit
  const day = daysBetween(new Date(started), now, timeZone)
  return schedule[Math.max(0, day)] ?? server.dailyLimit
}
