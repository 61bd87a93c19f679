import { describe, expect, it } from 'vitest'
import { newId } from './new-id.js'

describe('newId', () => {
  it('makes distinct prefixed ULIDs that sort by creation time', async () => {
    const ids = Array.from({ length: 10_000 }, () => newId('evt'))
    expect(new Set(ids).size).toBe(ids.length)
    for (const id of ids) expect(id).toMatch(/^evt_[0-9A-HJKMNP-TV-Z]{26}$/)
    const earlier = newId('msg')
    await new Promise((resolve) => setTimeout(resolve, 2))
    expect(newId('msg') > earlier).toBe(true)
  })

  it('draws the random part evenly (every ULID character appears in the last positions)', () => {
    const seen = new Set<string>()
    for (let i = 0; i < 2000; i++) seen.add(newId('x').slice(-1))
    expect(seen.size).toBe(32)
  })
})
