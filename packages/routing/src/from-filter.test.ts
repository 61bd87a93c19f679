import { describe, expect, it } from 'vitest'
import { matchesFilter, parseFromFilter } from './from-filter.js'

describe('parseFromFilter', () => {
  it('trims parts, drops empty ones, and normalises case and IDNA', () => {
    expect(parseFromFilter(' Shop.Example , ,Paula@Partner.Example,bücher.example,')).toEqual({
      ok: true,
      parts: [
        { kind: 'domain', value: 'shop.example' },
        { kind: 'address', value: 'paula@partner.example' },
        { kind: 'domain', value: 'xn--bcher-kva.example' },
      ],
    })
  })

  it('takes domains and addresses with an underscore (RFC 5322, as Odoo does)', () => {
    expect(parseFromFilter('unknown_domain.com, test@other_domain.example')).toEqual({
      ok: true,
      parts: [
        { kind: 'domain', value: 'unknown_domain.com' },
        { kind: 'address', value: 'test@other_domain.example' },
      ],
    })
  })

  it.each(['not a domain', 'a@@b.example', '"Paula" <paula@partner.example>', 'bad..example'])(
    'names the invalid part %j',
    (part) => {
      expect(parseFromFilter(`shop.example, ${part}`)).toEqual({ ok: false, invalidPart: part })
    },
  )
})

describe('matchesFilter', () => {
  it.each<[string, string | null, boolean]>([
    ['ann@shop.example', null, true],
    ['ann@shop.example', ' , ', true],
    ['ann@shop.example', 'shop.example', true],
    ['ANN@SHOP.EXAMPLE', 'shop.example', true],
    ['ann@mail.shop.example', 'shop.example', false],
    ['ann@shop.example', 'mail.shop.example', false],
    ['ann@shop.example', 'other.example, ann@shop.example', true],
    ['bob@shop.example', 'ann@shop.example', false],
    ['ann@xn--bcher-kva.example', 'bücher.example', true],
    ['ann@bücher.example', 'XN--BCHER-KVA.example', true],
    ['Ann@shop.example', 'ann@shop.example', true],
    ['ann@shop.example', 'not a domain', false],
  ])('%s against %j → %s', (address, filter, expected) => {
    expect(matchesFilter(address, filter)).toBe(expected)
  })
})
