import { randomBytes } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { makeUnsubscribeToken, openUnsubscribeToken, unsubscribeKey } from './unsubscribe-token.js'

const key = unsubscribeKey(randomBytes(32))
const subject = {
  messageId: 'msg_01',
  recipientIndex: 0,
  list: 'news',
  domain: 'mail.shop.example',
  address: 'bob@example.com',
}

describe('unsubscribe tokens', () => {
  it('round-trip, differ each time and carry no address in clear', () => {
    const a = makeUnsubscribeToken(subject, key)
    const b = makeUnsubscribeToken(subject, key)
    expect(a).not.toBe(b)
    expect(a).toMatch(/^[A-Za-z0-9_-]+$/)
    for (const token of [a, b]) {
      expect(token).not.toContain('bob')
      expect(Buffer.from(token, 'base64url').toString('latin1')).not.toContain('bob')
      expect(openUnsubscribeToken(token, [key])).toEqual(subject)
    }
  })

  it('open with a previous key during a rotation', () => {
    const old = unsubscribeKey(randomBytes(32))
    const token = makeUnsubscribeToken(subject, old)
    expect(openUnsubscribeToken(token, [key])).toBeNull()
    expect(openUnsubscribeToken(token, [key, old])).toEqual(subject)
  })

  it('refuse forged, truncated, changed and foreign tokens', () => {
    const token = makeUnsubscribeToken(subject, key)
    const raw = Buffer.from(token, 'base64url')
    const flipped = Buffer.from(raw)
    flipped[20] = (flipped[20] ?? 0) ^ 1
    const cases = [
      token.slice(0, -4),
      token.slice(0, 10),
      flipped.toString('base64url'),
      `${token}AA`,
      '',
      'not a token!',
      makeUnsubscribeToken(subject, unsubscribeKey(randomBytes(32))),
      'A'.repeat(100_000),
    ]
    for (const candidate of cases) expect(openUnsubscribeToken(candidate, [key])).toBeNull()
  })

  it('derive a key of their own from the secret key', () => {
    const secret = randomBytes(32)
    expect(unsubscribeKey(secret)).toHaveLength(32)
    expect(unsubscribeKey(secret).equals(secret)).toBe(false)
    expect(unsubscribeKey(secret).equals(unsubscribeKey(secret))).toBe(true)
  })
})
