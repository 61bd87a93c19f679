/** One quota window: the calendar day in a time zone (DOMAIN.md §6). */
export type QuotaWindow = {
  /** The local date, YYYY-MM-DD: the window's name in keys. */
  day: string
  start: Date
  resetsAt: Date
}

const formatters = new Map<string, Intl.DateTimeFormat>()

function formatter(timeZone: string): Intl.DateTimeFormat {
  let found = formatters.get(timeZone)
  if (found === undefined) {
    found = new Intl.DateTimeFormat('en-CA', {
      timeZone,
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
    })
    formatters.set(timeZone, found)
  }
  return found
}

/** The local date (YYYY-MM-DD) of an instant in a time zone. */
export function localDay(at: Date, timeZone: string): string {
  const parts = Object.fromEntries(
    formatter(timeZone)
      .formatToParts(at)
      .map((p) => [p.type, p.value]),
  )
  return `${parts['year'] ?? ''}-${parts['month'] ?? ''}-${parts['day'] ?? ''}`
}

function addDays(day: string, days: number): string {
  const [y, m, d] = day.split('-').map(Number)
  return new Date(Date.UTC(y ?? 0, (m ?? 1) - 1, (d ?? 1) + days)).toISOString().slice(0, 10)
}

const HOUR = 3_600_000

/**
 * The first instant whose local date is `day`. Local midnight is not always it: a DST change at
 * midnight skips it (America/Santiago) — so search the instant, to the millisecond, between the
 * widest offsets (UTC−14 … UTC+14).
 */
function startOfDay(day: string, timeZone: string): Date {
  const [y, m, d] = day.split('-').map(Number)
  const utcMidnight = Date.UTC(y ?? 0, (m ?? 1) - 1, d ?? 1)
  let low = utcMidnight - 15 * HOUR // local date before `day`
  let high = utcMidnight + 15 * HOUR // local date `day` or later
  while (high - low > 1) {
    const middle = Math.floor((low + high) / 2)
    if (localDay(new Date(middle), timeZone) < day) low = middle
    else high = middle
  }
  return new Date(high)
}

/** The window `at` falls in, for an IANA time zone; correct across DST changes. */
export function quotaWindow(at: Date, timeZone: string): QuotaWindow {
  const day = localDay(at, timeZone)
  return { day, start: startOfDay(day, timeZone), resetsAt: startOfDay(addDays(day, 1), timeZone) }
}
