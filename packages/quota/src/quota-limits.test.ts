import { describe, expect, it } from 'vitest'
import { crossedWarningLevel, quotaView, streamCap } from './quota-limits.js'

describe('streamCap', () => {
  it.each<[number, 'transactional' | 'mass', number, number]>([
    [100, 'transactional', 10, 100],
    [100, 'mass', 10, 90],
    [200, 'mass', 10, 180],
    [7, 'mass', 10, 6],
    [100, 'mass', 0, 100],
    [100, 'mass', 100, 0],
  ])('limit %i, %s, reserve %i %% → %i', (limit, stream, reserve, cap) => {
    expect(streamCap(limit, stream, reserve)).toBe(cap)
  })
})

describe('quotaView', () => {
  it('reports the remaining units and the transactional reserve', () => {
    expect(quotaView(100, 95, 10)).toEqual({
      limit: 100,
      used: 95,
      remaining: 5,
      reservedForTransactional: 10,
    })
    expect(quotaView(null, 12, 10)).toEqual({
      limit: null,
      used: 12,
      remaining: null,
      reservedForTransactional: 0,
    })
  })
})

describe('crossedWarningLevel', () => {
  it('fires once, on the reservation that reaches 90 %', () => {
    expect(crossedWarningLevel(100, 88, 89)).toBe(false)
    expect(crossedWarningLevel(100, 89, 91)).toBe(true)
    expect(crossedWarningLevel(100, 91, 92)).toBe(false)
    expect(crossedWarningLevel(null, 0, 1_000_000)).toBe(false)
  })
})
