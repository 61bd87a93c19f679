// How the console writes times, counts, rates and SMTP replies.

/** `2026-12-01 10:04:09` in the browser's time zone (or the one given), or '—' for none. */
export function formatDateTime(iso: string | null | undefined, timeZone?: string): string {
  if (iso === null || iso === undefined || iso === '') return '—'
  const date = new Date(iso)
  if (Number.isNaN(date.getTime())) return iso
  const parts = Object.fromEntries(
    new Intl.DateTimeFormat('en-GB', {
      ...(timeZone === undefined ? {} : { timeZone }),
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
      hourCycle: 'h23',
    })
      .formatToParts(date)
      .map((part) => [part.type, part.value]),
  )
  return `${parts['year']}-${parts['month']}-${parts['day']} ${parts['hour']}:${parts['minute']}:${parts['second']}`
}

/** "12 s ago", "5 min ago", "3 h ago", "2 d ago"; "in 4 min" for a time ahead. */
export function formatRelative(iso: string, now: Date): string {
  const ms = new Date(iso).getTime() - now.getTime()
  if (Number.isNaN(ms)) return iso
  const seconds = Math.round(Math.abs(ms) / 1000)
  const text =
    seconds < 60
      ? `${seconds} s`
      : seconds < 3600
        ? `${Math.round(seconds / 60)} min`
        : seconds < 86_400
          ? `${Math.round(seconds / 3600)} h`
          : `${Math.round(seconds / 86_400)} d`
  return ms > 0 ? `in ${text}` : `${text} ago`
}

const counts = new Intl.NumberFormat('en')

/** 12,345 */
export function formatCount(n: number): string {
  return counts.format(n)
}

/** A ratio as a percentage with enough digits for Gmail's 0.1 % and 0.3 % lines: "0.12 %". */
export function formatPercent(ratio: number | null): string {
  if (ratio === null || !Number.isFinite(ratio)) return '—'
  const percent = ratio * 100
  const digits = percent === 0 ? 0 : percent < 1 ? 2 : 1
  return `${percent.toFixed(digits)} %`
}

/** A recipient's reply: "550 5.1.1", "250", or '—'. */
export function formatSmtpCode(code: number | null, enhanced: string | null): string {
  const text = [code, enhanced].filter((part) => part !== null && part !== '').join(' ')
  return text === '' ? '—' : text
}

/** How full a quota is (0..1), or null when it is unlimited. */
export function quotaShare(used: number, limit: number | null): number | null {
  if (limit === null) return null
  if (limit <= 0) return used > 0 ? 1 : 0
  return Math.min(1, used / limit)
}
