import { describe, expect, it } from 'vitest'
import { refuseUnsafeCharacters } from './header-safe.js'

describe('refuseUnsafeCharacters', () => {
  it.each([
    ['CR LF', 'Shop\r\nBcc: x@evil.example'],
    ['LF', 'Shop\n'],
    ['NUL', 'Sh\u0000op'],
    ['DEL', 'Shop\u007f'],
    ['C1 NEL', 'Shop\u0085'],
    ['right-to-left override', '\u202egnp.exe'],
    ['left-to-right embedding', '\u202aShop'],
    ['first-strong isolate', 'Shop\u2068'],
    ['pop directional isolate', 'Shop\u2069'],
    ['left-to-right mark', 'Shop\u200e'],
    ['right-to-left mark', 'Shop\u200f'],
    ['Arabic letter mark', 'Shop\u061c'],
  ])('refuses a value with a %s', (_, value) => {
    expect(() => refuseUnsafeCharacters(value, 'name')).toThrow(
      expect.objectContaining({ code: 'VALIDATION_FAILED', details: { field: 'name' } }),
    )
  })

  it('names the field and answers the code given', () => {
    expect(() => refuseUnsafeCharacters('bounce\r\n', 'bounceAlias', 'INVALID_ALIAS')).toThrow(
      expect.objectContaining({
        code: 'INVALID_ALIAS',
        details: { field: 'bounceAlias' },
        message: expect.stringContaining('U+000D') as unknown,
      }),
    )
  })

  it.each(['Shop', 'Société Générale', 'שלום', 'متجر', '商店 ✉', 'a\u00a0b'])(
    'accepts %s',
    (value) => {
      expect(() => refuseUnsafeCharacters(value, 'name')).not.toThrow()
    },
  )
})
