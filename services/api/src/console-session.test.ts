import { describe, expect, it } from 'vitest'
import {
  isSameOriginConsoleRequest,
  issueSession,
  readCookie,
  SESSION_TTL_SECONDS,
  verifySession,
} from './console-session.js'

const key = { name: 'ops', scopes: ['read', 'admin'] as const, secret: 's3cret-0123456789' }
const other = { name: 'app', scopes: ['send'] as const, secret: 'other-0123456789' }
const now = new Date('2026-12-01T10:00:00Z')

describe('console session cookies', () => {
  it('verifies a session for its key until it expires', () => {
    const value = issueSession(key, now)
    expect(value).not.toContain(key.secret)
    expect(verifySession(value, [other, key], now)).toBe(key)
    const justBefore = new Date(now.getTime() + SESSION_TTL_SECONDS * 1000 - 1000)
    expect(verifySession(value, [key], justBefore)).toBe(key)
    const after = new Date(now.getTime() + SESSION_TTL_SECONDS * 1000)
    expect(verifySession(value, [key], after)).toBeUndefined()
  })

  it('refuses a session whose key is gone or has another secret, and malformed values', () => {
    const value = issueSession(key, now)
    expect(verifySession(value, [other], now)).toBeUndefined()
    expect(verifySession(value, [{ ...key, secret: 'rotated-0123456789' }], now)).toBeUndefined()
    for (const bad of [undefined, '', 'v1', 'v2.b3Bz.1.x', `${value}.extra`, value.slice(0, -1)]) {
      expect(verifySession(bad, [key], now), String(bad)).toBeUndefined()
    }
  })

  it('reads one cookie of a Cookie header', () => {
    expect(readCookie('a=1; outbound_console=v1.x; b=2', 'outbound_console')).toBe('v1.x')
    expect(readCookie('xoutbound_console=1', 'outbound_console')).toBeUndefined()
    expect(readCookie(undefined, 'outbound_console')).toBeUndefined()
  })

  it.each([
    [{ 'x-outbound-console': '1', host: 'a:3000' }, true],
    [{ 'x-outbound-console': '1', host: 'a:3000', origin: 'http://a:3000' }, true],
    [{ 'x-outbound-console': '1', host: 'a:3000', origin: 'http://b:3000' }, false],
    [{ 'x-outbound-console': '1', host: 'a:3000', origin: 'null' }, false],
    [{ 'x-outbound-console': '0', host: 'a:3000', origin: 'http://a:3000' }, false],
    [{ host: 'a:3000', origin: 'http://a:3000' }, false],
    [
      {
        'x-outbound-console': '1',
        host: '10.0.0.1',
        'x-forwarded-host': 'm.example',
        origin: 'https://m.example',
      },
      true,
    ],
  ])('a change with headers %o is the console’s own: %s', (headers, expected) => {
    expect(isSameOriginConsoleRequest(headers)).toBe(expected)
  })
})
