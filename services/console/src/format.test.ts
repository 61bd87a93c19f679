import { describe, expect, it } from 'vitest'
import {
  formatCount,
  formatDateTime,
  formatPercent,
  formatRelative,
  formatSmtpCode,
  quotaShare,
} from './format.js'

describe('formatting', () => {
  it('writes times as YYYY-MM-DD HH:MM:SS in a zone', () => {
    expect(formatDateTime('2026-12-01T09:04:05.123Z', 'UTC')).toBe('2026-12-01 09:04:05')
    expect(formatDateTime('2026-12-01T23:30:00Z', 'Europe/Brussels')).toBe('2026-12-02 00:30:00')
    expect(formatDateTime(null)).toBe('—')
    expect(formatDateTime('not a time')).toBe('not a time')
  })

  it('writes relative times', () => {
    const now = new Date('2026-12-01T12:00:00Z')
    expect(formatRelative('2026-12-01T11:59:48Z', now)).toBe('12 s ago')
    expect(formatRelative('2026-12-01T11:55:00Z', now)).toBe('5 min ago')
    expect(formatRelative('2026-12-01T15:00:00Z', now)).toBe('in 3 h')
    expect(formatRelative('2026-11-29T12:00:00Z', now)).toBe('2 d ago')
  })

  it('writes rates with the digits Gmail’s thresholds need', () => {
    expect(formatPercent(0.001)).toBe('0.10 %')
    expect(formatPercent(0.0034)).toBe('0.34 %')
    expect(formatPercent(0)).toBe('0 %')
    expect(formatPercent(0.125)).toBe('12.5 %')
    expect(formatPercent(null)).toBe('—')
    expect(formatPercent(Number.NaN)).toBe('—')
  })

  it('writes counts and SMTP codes', () => {
    expect(formatCount(1234567)).toBe('1,234,567')
    expect(formatSmtpCode(550, '5.1.1')).toBe('550 5.1.1')
    expect(formatSmtpCode(250, null)).toBe('250')
    expect(formatSmtpCode(null, null)).toBe('—')
  })

  it('fills a quota gauge', () => {
    expect(quotaShare(50, 200)).toBe(0.25)
    expect(quotaShare(300, 200)).toBe(1)
    expect(quotaShare(5, null)).toBeNull()
    expect(quotaShare(0, 0)).toBe(0)
  })
})
