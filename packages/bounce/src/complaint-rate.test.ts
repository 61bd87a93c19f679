import { describe, expect, it } from 'vitest'
import { complaintRate, complaintRateLevel } from './complaint-rate.js'

describe('complaintRateLevel', () => {
  it.each([
    [0, 0],
    [0.000_999, 0],
    [0.001, 1],
    [0.002_999, 1],
    [0.003, 2],
    [1, 2],
  ])('rate %d is level %d', (rate, level) => {
    expect(complaintRateLevel(rate)).toBe(level)
  })
})

describe('complaintRate', () => {
  it.each([
    [1, 1000, 0.001],
    [3, 1000, 0.003],
    [0, 0, 0],
    // Nothing delivered in the window: no rate, whatever was complained about.
    [2, 0, 0],
  ])('%d complaints over %d delivered is %d', (complained, delivered, rate) => {
    expect(complaintRate(complained, delivered)).toBe(rate)
  })
})
