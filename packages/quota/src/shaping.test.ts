import { describe, expect, it } from 'vitest'
import { parseRateLimit, rateParameters } from './rate-limit.js'
import { nextServerState, okState, serverAvailability, type ServerState } from './server-health.js'
import { limitInForce } from './warm-up.js'

describe('parseRateLimit', () => {
  it.each([
    ['40/s', { count: 40, periodMs: 1000 }],
    ['600/min', { count: 600, periodMs: 60_000 }],
    ['10000/h', { count: 10_000, periodMs: 3_600_000 }],
    [' 1/s ', { count: 1, periodMs: 1000 }],
  ])('reads %j', (text, rate) => {
    expect(parseRateLimit(text)).toEqual(rate)
  })

  it.each(['0/s', '40', '40/sec', '-1/s', '1.5/s', '40/d', '', 'x/s'])('refuses %j', (text) => {
    expect(parseRateLimit(text)).toBeNull()
  })
})

describe('rateParameters', () => {
  it.each([
    // 600/min: one every 100 ms, a burst of 1 (no tolerance).
    [{ count: 600, periodMs: 60_000 }, 100, 0],
    // 40/s: one every 25 ms, a burst of 4 (3 more at once).
    [{ count: 40, periodMs: 1000 }, 25, 75],
    [{ count: 10_000, periodMs: 3_600_000 }, 360, 0],
  ])('%j spreads evenly with the burst DOMAIN.md §8 allows', (rate, intervalMs, toleranceMs) => {
    expect(rateParameters(rate)).toEqual({ intervalMs, toleranceMs })
  })
})

describe('limitInForce', () => {
  const server = {
    dailyLimit: 1000,
    warmupSchedule: [50, 100, 250],
    warmupStartedAt: '2030-01-01T10:00:00Z',
  }
  it.each([
    ['2030-01-01T23:00:00Z', 50],
    ['2030-01-02T00:30:00Z', 100],
    ['2030-01-03T12:00:00Z', 250],
    ['2030-01-04T00:00:00Z', 1000],
  ])('at %s the limit is %s (UTC days)', (at, limit) => {
    expect(limitInForce(server, new Date(at), 'UTC')).toBe(limit)
  })

  it('counts days in the quota time zone', () => {
    // 2030-01-01T23:30Z is already 2 January in Berlin: day 2 of the schedule.
    expect(limitInForce(server, new Date('2030-01-01T23:30:00Z'), 'Europe/Berlin')).toBe(100)
  })

  it('is the daily limit without a schedule', () => {
    expect(limitInForce({ dailyLimit: 7 }, new Date(), 'UTC')).toBe(7)
  })
})

describe('nextServerState', () => {
  const t0 = new Date('2030-01-01T00:00:00Z')
  const at = (seconds: number) => new Date(t0.getTime() + seconds * 1000)
  const slowDown = { kind: 'slow-down', reason: '421 4.7.0 slow down' } as const
  const unreachable = { kind: 'unreachable', reason: 'ECONNREFUSED' } as const

  it('throttles for 30 s, doubles on a repeat up to 15 min, back to 30 s after 10 quiet minutes', () => {
    let state: ServerState = okState(t0)
    state = nextServerState(state, slowDown, at(0))
    expect([state.status, state.backoffMs]).toEqual(['throttled', 30_000])
    // A reply to a transaction begun before the throttle is not a repeat.
    expect(nextServerState(state, slowDown, at(10))).toBe(state)
    state = nextServerState(state, slowDown, at(40))
    expect(state.backoffMs).toBe(60_000)
    for (let i = 0; i < 10; i++) {
      const until = Date.parse(state.until ?? '')
      state = nextServerState(state, slowDown, new Date(until + 1000))
    }
    expect(state.backoffMs).toBe(15 * 60_000)
    state = nextServerState(state, { kind: 'success' }, at(10_000))
    expect(state.status).toBe('ok')
    state = nextServerState(state, slowDown, at(10_000 + 11 * 60))
    expect(state.backoffMs).toBe(30_000)
  })

  it('goes down after three unreachable attempts in a row, doubling while probes fail', () => {
    let state: ServerState = okState(t0)
    state = nextServerState(state, unreachable, at(0))
    state = nextServerState(state, unreachable, at(1))
    expect([state.status, state.consecutiveFailures]).toEqual(['ok', 2])
    state = nextServerState(state, unreachable, at(2))
    expect([state.status, state.until]).toEqual(['down', at(32).toISOString()])
    expect(serverAvailability(state, at(10))).toEqual({ kind: 'wait', until: at(32) })
    expect(serverAvailability(state, at(33))).toEqual({ kind: 'probe' })
    // Failures of attempts begun before it went down are no failed probes.
    expect(nextServerState(state, unreachable, at(20))).toBe(state)
    state = nextServerState(state, unreachable, at(33))
    expect(state.backoffMs).toBe(60_000)
    for (let i = 0; i < 10; i++) {
      const until = Date.parse(state.until ?? '')
      state = nextServerState(state, unreachable, new Date(until + 1000))
    }
    expect(state.backoffMs).toBe(10 * 60_000)
    state = nextServerState(state, { kind: 'success' }, at(100_000))
    expect([state.status, state.consecutiveFailures]).toEqual(['ok', 0])
  })

  it('forgets failures after a success', () => {
    let state = nextServerState(okState(t0), unreachable, at(0))
    state = nextServerState(state, { kind: 'success' }, at(1))
    expect(nextServerState(state, unreachable, at(2)).consecutiveFailures).toBe(1)
  })
})
