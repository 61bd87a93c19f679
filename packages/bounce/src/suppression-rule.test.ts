import { describe, expect, it } from 'vitest'
import { shouldSuppress } from './suppression-rule.js'

const now = new Date('2026-06-01T00:00:00Z')
const daysAgo = (days: number) => new Date(now.getTime() - days * 86_400_000)

describe('shouldSuppress', () => {
  it('suppresses after bounceSuppressAfter hard bounces', () => {
    expect(shouldSuppress([{ at: daysAgo(1), kind: 'hard' }], now, 1)).toEqual({
      suppress: true,
      reason: 'hard bounce',
    })
    expect(shouldSuppress([{ at: daysAgo(1), kind: 'hard' }], now, 2)).toEqual({ suppress: false })
  })

  it('suppresses after 5 soft bounces more than a week apart within 13 weeks', () => {
    const weekly = [0, 8, 16, 24, 32].map((d) => ({ at: daysAgo(d), kind: 'soft' as const }))
    expect(shouldSuppress(weekly, now, 1)).toMatchObject({ suppress: true })
  })

  it('does not count soft bounces close together, or older than 13 weeks', () => {
    const burst = [0, 1, 2, 3, 4, 5, 6].map((d) => ({ at: daysAgo(d), kind: 'soft' as const }))
    expect(shouldSuppress(burst, now, 1)).toEqual({ suppress: false })
    const old = [0, 8, 16, 24, 100].map((d) => ({ at: daysAgo(d), kind: 'soft' as const }))
    expect(shouldSuppress(old, now, 1)).toEqual({ suppress: false })
  })
})
