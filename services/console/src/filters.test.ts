import { describe, expect, it } from 'vitest'
import { filtersToSearch, parseFilters, searchPath, toApiTime } from './filters.js'

describe('filters in the URL', () => {
  it('reads every known filter and drops unknown and empty ones', () => {
    expect(
      parseFilters(
        '?status=bounced&tag=x&to=a%40example.com&from=&stream=mass&reference=sale.order%2F42&list=news&since=2026-12-01T10:00&until=2026-12-02T00:00Z&cursor=abc&evil=1',
      ),
    ).toEqual({
      status: 'bounced',
      tag: 'x',
      to: 'a@example.com',
      stream: 'mass',
      reference: 'sale.order/42',
      list: 'news',
      since: '2026-12-01T10:00',
      until: '2026-12-02T00:00Z',
    })
  })

  it('writes filters in one order, so that the same search is the same URL', () => {
    expect(filtersToSearch({ tag: 'x', status: 'bounced' })).toBe('?status=bounced&tag=x')
    expect(filtersToSearch({ tag: ' ', status: '' })).toBe('')
    expect(filtersToSearch({ to: 'a+b@example.com', reference: 'a/b c' })).toBe(
      '?to=a%2Bb%40example.com&reference=a%2Fb+c',
    )
  })

  it('round-trips', () => {
    const filters = { status: 'sent', to: 'x@example.com', tag: 'invoice & co', list: 'l.1' }
    expect(parseFilters(filtersToSearch(filters))).toEqual(filters)
  })
})

describe('the API query', () => {
  it('sends every filter, the page size and the cursor', () => {
    const path = searchPath({ status: 'bounced', tag: 'x' }, 'c_1', 50)
    expect(path).toBe('/v1/emails?status=bounced&tag=x&limit=50&cursor=c_1')
  })

  it('sends times with a zone: a form time is the browser’s local time', () => {
    expect(toApiTime('2026-12-01T10:00:00Z')).toBe('2026-12-01T10:00:00Z')
    expect(toApiTime('2026-12-01T10:00:00+02:00')).toBe('2026-12-01T10:00:00+02:00')
    expect(toApiTime('2026-12-01T10:00')).toBe(new Date(2026, 11, 1, 10, 0).toISOString())
    const path = new URL(searchPath({ since: '2026-12-01T10:00' }, null, 20), 'http://x')
    expect(path.searchParams.get('since')).toBe(new Date(2026, 11, 1, 10, 0).toISOString())
    expect(path.searchParams.has('cursor')).toBe(false)
  })
})
