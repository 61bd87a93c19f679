import { randomBytes } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { openSecret, openSecretWithAny, sealSecret } from './seal-secret.js'

const key = randomBytes(32)

describe('sealSecret / openSecret', () => {
  it('round-trips, with a fresh IV each time and no plaintext in the sealed form', () => {
    const a = sealSecret('hunter2 ünïcode', key)
    const b = sealSecret('hunter2 ünïcode', key)
    expect(a).not.toBe(b)
    expect(a).not.toContain('hunter2')
    expect(openSecret(a, key)).toBe('hunter2 ünïcode')
  })

  it('opens with any of several keys during a rotation', () => {
    const old = randomBytes(32)
    expect(openSecretWithAny(sealSecret('s', old), [key, old])).toBe('s')
    expect(() => openSecretWithAny(sealSecret('s', old), [key])).toThrow('no configured key')
  })

  it('refuses another key and a tampered value', () => {
    const sealed = sealSecret('secret', key)
    expect(() => openSecret(sealed, randomBytes(32))).toThrow()
    const parts = sealed.split('.')
    const flipped = Buffer.from(parts[3] ?? '', 'base64url')
    flipped[0] = (flipped[0] ?? 0) ^ 1
    expect(() =>
      openSecret([parts[0], parts[1], parts[2], flipped.toString('base64url')].join('.'), key),
    ).toThrow()
    expect(() => openSecret('plain', key)).toThrow('not a sealed secret')
  })
})
