import { describe, expect, it } from 'vitest'
import { retryAfterMs } from './retrying-fetch.js'

describe('retryAfterMs', () => {
  const now = Date.parse('2030-01-01T00:00:00Z')
  it.each([
    [null, null],
    ['0', 0],
    ['3', 3000],
    [' 10 ', 10_000],
    ['Tue, 01 Jan 2030 00:00:05 GMT', 5000],
    ['Mon, 31 Dec 2029 23:59:00 GMT', 0],
    ['soon', null],
    ['-1', null],
    ['1.5', null],
  ] as const)('%s is %s ms', (header, expected) => {
    expect(retryAfterMs(header, now)).toBe(expected)
  })
})
