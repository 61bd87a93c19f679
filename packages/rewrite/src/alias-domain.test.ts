import { describe, expect, it } from 'vitest'
import {
  aliasAddresses,
  aliasDomainFor,
  sanitizeAliasDomainName,
  sanitizeAliasLocalPart,
  sanitizeDefaultFrom,
} from './alias-domain.js'

describe('sanitizeAliasLocalPart', () => {
  it.each<[string, string | null]>([
    ['bounce', 'bounce'],
    ['  Bounce  ', 'bounce'],
    ['Réponses', 'reponses'],
    ['sales team', 'sales-team'],
    ['a  (b)  c', 'a-b-c'],
    ['x@y.example', 'x'],
    ['.lead..ing.', 'lead.ing'],
    ['ok+tag_1', 'ok+tag_1'],
    ['  ', null],
    ['...', null],
  ])('%j → %j', (input, expected) => {
    expect(sanitizeAliasLocalPart(input)).toBe(expected)
  })
})

describe('sanitizeAliasDomainName and sanitizeDefaultFrom', () => {
  it('lower-cases domain names and refuses what is not one', () => {
    expect(sanitizeAliasDomainName(' Shop.Example ')).toBe('shop.example')
    expect(sanitizeAliasDomainName('bücher.example')).toBe('bücher.example')
    expect(sanitizeAliasDomainName('not a domain')).toBeNull()
  })

  it('keeps a full address and sanitises a local part', () => {
    expect(sanitizeDefaultFrom('noreply@shop.example')).toBe('noreply@shop.example')
    expect(sanitizeDefaultFrom('Notifications Team')).toBe('notifications-team')
    expect(sanitizeDefaultFrom('"X" <x@y.example>')).toBeNull()
  })
})

const shop = {
  id: 'ad_1',
  name: 'shop.example',
  sequence: 10,
  bounceAlias: 'bounce',
  catchallAlias: 'catchall',
  defaultFrom: 'notifications',
}

describe('aliasAddresses', () => {
  it('builds N, B and the catchall on the alias domain', () => {
    expect(aliasAddresses(shop)).toEqual({
      notification: 'notifications@shop.example',
      bounce: 'bounce@shop.example',
      catchall: 'catchall@shop.example',
      defaultFromIsAddress: false,
      domain: 'shop.example',
    })
  })

  it('uses a full-address defaultFrom as N, and the A-label for IDN domains', () => {
    expect(aliasAddresses({ ...shop, defaultFrom: 'hello@other.example' }).notification).toBe(
      'hello@other.example',
    )
    expect(aliasAddresses({ ...shop, name: 'bücher.example' }).bounce).toBe(
      'bounce@xn--bcher-kva.example',
    )
  })
})

describe('aliasDomainFor', () => {
  const low = { ...shop, id: 'ad_low', sequence: 1 }
  it("takes the company's alias domain, else the lowest sequence, else none", () => {
    expect(aliasDomainFor('ad_1', [low, shop])?.id).toBe('ad_1')
    expect(aliasDomainFor(null, [shop, low])?.id).toBe('ad_low')
    expect(aliasDomainFor('ad_gone', [shop, low])?.id).toBe('ad_low')
    expect(aliasDomainFor(null, [])).toBeNull()
  })
})
