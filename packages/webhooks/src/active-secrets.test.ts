import { describe, expect, it } from 'vitest'
import { activeSecrets } from './active-secrets.js'

describe('activeSecrets', () => {
  const secrets = [
    { sealed: 'new', expiresAt: null },
    { sealed: 'old', expiresAt: '2026-12-02T10:00:00.000Z' },
    { sealed: 'older', expiresAt: '2026-12-01T09:00:00.000Z' },
  ]
  it.each([
    ['2026-12-01T08:00:00.000Z', ['new', 'old', 'older']],
    ['2026-12-01T09:00:00.000Z', ['new', 'old']],
    ['2026-12-02T09:59:59.999Z', ['new', 'old']],
    ['2026-12-02T10:00:00.000Z', ['new']],
  ])('at %s signs with %j', (at, expected) => {
    expect(activeSecrets(secrets, new Date(at)).map((s) => s.sealed)).toEqual(expected)
  })
})
