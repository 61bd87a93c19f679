import { describe, expect, it } from 'vitest'
import { localDay, quotaWindow } from './quota-window.js'

const at = (iso: string) => new Date(iso)

describe('quotaWindow', () => {
  it.each([
    // [instant, zone, day, start, resetsAt]
    [
      '2026-03-10T15:00:00Z',
      'UTC',
      '2026-03-10',
      '2026-03-10T00:00:00.000Z',
      '2026-03-11T00:00:00.000Z',
    ],
    [
      '2026-03-10T23:30:00Z',
      'Europe/Brussels',
      '2026-03-11',
      '2026-03-10T23:00:00.000Z',
      '2026-03-11T23:00:00.000Z',
    ],
    [
      '2026-03-10T03:00:00Z',
      'America/New_York',
      '2026-03-09',
      '2026-03-09T04:00:00.000Z',
      '2026-03-10T04:00:00.000Z',
    ],
    [
      '2026-03-10T12:00:00Z',
      'Asia/Kolkata',
      '2026-03-10',
      '2026-03-09T18:30:00.000Z',
      '2026-03-10T18:30:00.000Z',
    ],
    [
      '2026-03-10T12:00:00Z',
      'Pacific/Kiritimati',
      '2026-03-11',
      '2026-03-10T10:00:00.000Z',
      '2026-03-11T10:00:00.000Z',
    ],
  ])('%s in %s is the day %s', (instant, zone, day, start, resetsAt) => {
    const window = quotaWindow(at(instant), zone)
    expect([window.day, window.start.toISOString(), window.resetsAt.toISOString()]).toEqual([
      day,
      start,
      resetsAt,
    ])
  })

  it('has 23 hours on the day DST starts and 25 on the day it ends (Europe/Brussels)', () => {
    const spring = quotaWindow(at('2026-03-29T12:00:00Z'), 'Europe/Brussels')
    expect(spring.resetsAt.getTime() - spring.start.getTime()).toBe(23 * 3_600_000)
    const autumn = quotaWindow(at('2026-10-25T12:00:00Z'), 'Europe/Brussels')
    expect(autumn.resetsAt.getTime() - autumn.start.getTime()).toBe(25 * 3_600_000)
  })

  it('starts the day at 01:00 where DST skips midnight (America/Santiago, 2026-09-06)', () => {
    const window = quotaWindow(at('2026-09-06T15:00:00Z'), 'America/Santiago')
    // Clocks jump from 00:00 (UTC−4) to 01:00 (UTC−3): the day starts at 04:00 UTC.
    expect(window.start.toISOString()).toBe('2026-09-06T04:00:00.000Z')
    expect(localDay(new Date(window.start.getTime() - 1), 'America/Santiago')).toBe('2026-09-05')
  })

  it('puts the instant of the reset in the next window', () => {
    const window = quotaWindow(at('2026-03-10T15:00:00Z'), 'Europe/Brussels')
    expect(quotaWindow(window.resetsAt, 'Europe/Brussels').day).toBe('2026-03-11')
    expect(quotaWindow(new Date(window.resetsAt.getTime() - 1), 'Europe/Brussels').day).toBe(
      '2026-03-10',
    )
  })
})
