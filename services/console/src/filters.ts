// The messages page's filters live in its URL (/console/messages?status=bounced&tag=x), so that a
// search can be bookmarked and shared; these turn one into the other and into the API's query.

export const MESSAGE_STATUSES = [
  'queued',
  'scheduled',
  'deferred',
  'sending',
  'sent',
  'bounced',
  'failed',
  'suppressed',
  'canceled',
] as const

/** The filters of GET /v1/emails, in the order the URL writes them. */
export const FILTER_KEYS = [
  'status',
  'stream',
  'to',
  'from',
  'tag',
  'reference',
  'list',
  'since',
  'until',
] as const

export type FilterKey = (typeof FILTER_KEYS)[number]
export type Filters = Partial<Record<FilterKey, string>>

/** The filters a URL's query string names (unknown parameters and empty values are dropped). */
export function parseFilters(search: string): Filters {
  const params = new URLSearchParams(search)
  const filters: Filters = {}
  for (const key of FILTER_KEYS) {
    const value = params.get(key)?.trim()
    if (value !== undefined && value !== '') filters[key] = value
  }
  return filters
}

/** The query string for filters (`?status=bounced&tag=x`), or '' when there are none. */
export function filtersToSearch(filters: Filters): string {
  const params = new URLSearchParams()
  for (const key of FILTER_KEYS) {
    const value = filters[key]?.trim()
    if (value !== undefined && value !== '') params.set(key, value)
  }
  const text = params.toString()
  return text === '' ? '' : `?${text}`
}

/**
 * A time as the API takes it (ISO-8601 with a zone). The form's `datetime-local` fields give a
 * time without one, which is the browser's local time; a value with a zone is kept as it is.
 */
export function toApiTime(value: string): string {
  if (/[zZ]|[+-]\d\d:?\d\d$/.test(value)) return value
  const date = new Date(value)
  return Number.isNaN(date.getTime()) ? value : date.toISOString()
}

/** The GET /v1/emails path for filters, one page of `limit`, after `cursor`. */
export function searchPath(filters: Filters, cursor: string | null, limit: number): string {
  const params = new URLSearchParams()
  for (const key of FILTER_KEYS) {
    const value = filters[key]?.trim()
    if (value === undefined || value === '') continue
    params.set(key, key === 'since' || key === 'until' ? toApiTime(value) : value)
  }
  params.set('limit', String(limit))
  if (cursor !== null) params.set('cursor', cursor)
  return `/v1/emails?${params.toString()}`
}
