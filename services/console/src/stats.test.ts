import { describe, expect, it } from 'vitest'
import { complaintRate, readStats, statsPath, totals } from './stats.js'

const bucket = (start: string, fields: Record<string, unknown>) => ({ start, ...fields })

describe('reading GET /v1/stats', () => {
  it('reads buckets in time order, missing counts as 0, bounced as {hard, soft}', () => {
    const stats = readStats({
      buckets: [
        bucket('2026-12-01T11:00:00Z', { sent: 5, bounced: { hard: 1, soft: 2 }, complained: 1 }),
        bucket('2026-12-01T10:00:00Z', { accepted: 3, sent: 3, deferred: 1 }),
      ],
      complaintRate24h: 0.002,
    })
    expect(stats.buckets.map((b) => b.start)).toEqual([
      '2026-12-01T10:00:00Z',
      '2026-12-01T11:00:00Z',
    ])
    expect(stats.buckets[1]).toMatchObject({ sent: 5, bouncedHard: 1, bouncedSoft: 2, failed: 0 })
    expect(stats.complaintRate24h).toBe(0.002)
    expect(totals(stats.buckets)).toMatchObject({
      sent: 8,
      deferred: 1,
      bouncedHard: 1,
      accepted: 3,
    })
  })

  it('takes a bare array or {data}, and ignores what is not a bucket', () => {
    expect(
      readStats([bucket('2026-12-01T10:00:00Z', { sent: 1 }), null, { sent: 2 }]).buckets,
    ).toHaveLength(1)
    expect(
      readStats({ data: [bucket('2026-12-01T10:00:00Z', { bounced: 4 })] }).buckets[0],
    ).toMatchObject({
      bouncedHard: 4,
      bouncedSoft: 0,
    })
    expect(readStats('nonsense')).toEqual({ buckets: [], complaintRate24h: null })
  })

  it('computes the complaint rate over a window: complaints ÷ sent', () => {
    const { buckets } = readStats([
      bucket('2026-11-29T10:00:00Z', { sent: 1000, complained: 50 }),
      bucket('2026-12-01T10:00:00Z', { sent: 1000, complained: 2 }),
      bucket('2026-12-01T11:00:00Z', { sent: 1000, complained: 1 }),
    ])
    expect(complaintRate(buckets, new Date('2026-11-30T12:00:00Z'))).toBe(0.0015)
    expect(complaintRate([], new Date(0))).toBeNull()
  })

  it('asks for a range, an interval, a stream and a server', () => {
    const path = statsPath({
      since: new Date('2026-12-01T00:00:00Z'),
      until: new Date('2026-12-02T00:00:00Z'),
      interval: 'hour',
      stream: 'mass',
      serverId: '',
    })
    expect(path).toBe(
      '/v1/stats?since=2026-12-01T00%3A00%3A00.000Z&until=2026-12-02T00%3A00%3A00.000Z&interval=hour&stream=mass',
    )
  })
})
