import { describe, expect, it } from 'vitest'
import { parseMailbox } from '@outbound/address'
import { prepareServers, type ServerCandidate } from '@outbound/routing'
import type { AliasDomain } from './alias-domain.js'
import { planDelivery, type RoutingSettings } from './plan-delivery.js'

const shop: AliasDomain = {
  id: 'ad_shop',
  name: 'shop.example',
  sequence: 1,
  bounceAlias: 'bounce',
  catchallAlias: 'catchall',
  defaultFrom: 'notifications',
}
const server = (name: string, sequence: number, fromFilter: string | null): ServerCandidate => ({
  id: `srv_${name}`,
  name,
  sequence,
  fromFilter,
  active: true,
  createdAt: new Date(sequence * 1000).toISOString(),
})
const A = server('A', 1, 'shop.example')
const P = server('P', 5, 'paula@partner.example')
const Z = server('Z', 9, null)
const noSettings: RoutingSettings = {
  defaultFromFilter: null,
  forceSmtpFrom: null,
  dynamicSmtpFrom: null,
  massDedicatedServerId: null,
}

type Options = {
  servers?: ServerCandidate[]
  aliasDomains?: AliasDomain[]
  settings?: Partial<RoutingSettings>
  replyTo?: string
  reference?: string
  company?: { name: string; aliasDomainId: string | null }
  stream?: 'transactional' | 'mass'
  serverId?: string
}

function plan(from: string, options: Options = {}) {
  const sender = parseMailbox(from)
  if (sender === null) throw new Error(`bad sender ${from}`)
  const servers = options.servers ?? [A, P, Z]
  const result = planDelivery({
    sender,
    replyTo: options.replyTo ?? null,
    reference: options.reference ?? null,
    stream: options.stream ?? 'transactional',
    serverId: options.serverId ?? null,
    company: options.company ?? null,
    aliasDomains: options.aliasDomains ?? [shop],
    settings: { ...noSettings, ...options.settings },
    servers,
    prepared: prepareServers(servers),
  })
  if (!result.ok) throw new Error(result.code)
  return result.plan
}

describe('planDelivery: the worked example of DOMAIN.md §5', () => {
  it.each([
    ['ann@shop.example', [A, P, Z], 'A', 'ann@shop.example', 'bounce@shop.example'],
    [
      '"Paula" <paula@partner.example>',
      [A, P, Z],
      'P',
      '"Paula" <paula@partner.example>',
      'paula@partner.example',
    ],
    [
      '"Mary" <mary@customer.example.com>',
      [A, P, Z],
      'A',
      '"Mary" <notifications@shop.example>',
      'bounce@shop.example',
    ],
    [
      '"Mary" <mary@customer.example.com>',
      [P, Z],
      'Z',
      '"Mary" <notifications@shop.example>',
      'bounce@shop.example',
    ],
  ])('%s', (from, servers, serverName, headerFrom, envelopeFrom) => {
    const result = plan(from, { servers })
    expect([result.server?.name, result.headerFrom, result.envelopeFrom]).toEqual([
      serverName,
      headerFrom,
      envelopeFrom,
    ])
  })
})

describe("planDelivery: domains with an underscore (as in Odoo's own mail-server tests)", () => {
  const unknown: AliasDomain = { ...shop, id: 'ad_unknown', name: 'test_domain.example' }
  const U = server('U', 2, 'unknown_domain.com')
  const N = server('N', 3, 'test_domain.example')

  it('matches a sender at unknown_domain.com by its domain filter and keeps it', () => {
    const result = plan('test@unknown_domain.com', { servers: [U, Z], aliasDomains: [unknown] })
    expect([result.server?.name, result.routing.step, result.headerFrom]).toEqual([
      'U',
      'sender-domain',
      'test@unknown_domain.com',
    ])
  })

  it('rewrites to the notification address of an alias domain with an underscore', () => {
    const result = plan('"Mary" <mary@customer.example.com>', {
      servers: [N, Z],
      aliasDomains: [unknown],
    })
    expect([result.server?.name, result.headerFrom, result.envelopeFrom]).toEqual([
      'N',
      '"Mary" <notifications@test_domain.example>',
      'bounce@test_domain.example',
    ])
  })
})

describe("planDelivery: the README's worked example", () => {
  it('sends through the first server, as N with MAIL FROM N, when no filter matches and none is empty', () => {
    const result = plan('"Mary" <mary@customer.example.com>', { servers: [P] })
    expect([
      result.server?.name,
      result.routing.step,
      result.headerFrom,
      result.envelopeFrom,
    ]).toEqual([
      'P',
      'first-server',
      '"Mary" <notifications@shop.example>',
      'notifications@shop.example',
    ])
  })
})

describe('planDelivery: the From header', () => {
  it("encapsulates with the sender's local part when it has no display name", () => {
    expect(plan('mary@customer.example.com').headerFrom).toBe('"mary" <notifications@shop.example>')
  })

  it('quotes and escapes display names', () => {
    expect(plan('"Mary \\"M\\" O\'Neil" <mary@customer.example.com>').headerFrom).toBe(
      '"Mary \\"M\\" O\'Neil" <notifications@shop.example>',
    )
  })

  it('keeps a non-ASCII display name for the MIME layer to encode', () => {
    expect(plan('"Jörg" <jorg@customer.example.com>').headerFrom).toBe(
      '"Jörg" <notifications@shop.example>',
    )
  })

  it('sends every message of an alias domain from a full-address defaultFrom, whichever step chose', () => {
    const hello = { ...shop, defaultFrom: 'hello@shop.example' }
    const own = plan('ann@shop.example', { aliasDomains: [hello] })
    expect([own.server?.name, own.headerFrom]).toEqual(['A', '"ann" <hello@shop.example>'])
    const forced = plan('"Paula" <paula@partner.example>', {
      aliasDomains: [hello],
      serverId: 'srv_P',
    })
    expect(forced.headerFrom).toBe('"Paula" <hello@shop.example>')
  })

  it('forces every From to forceSmtpFrom, and selects with it', () => {
    const settings = { forceSmtpFrom: 'relay@partner.example' }
    const result = plan('"Ann" <ann@shop.example>', {
      settings,
      servers: [A, server('R', 20, 'relay@partner.example')],
    })
    expect([result.server?.name, result.headerFrom, result.envelopeFrom]).toEqual([
      'R',
      '"Ann" <relay@partner.example>',
      'relay@partner.example',
    ])
    expect(result.routing.reason).toMatch(/forceSmtpFrom is set/)
  })

  it('applies dynamicSmtpFrom only to senders outside the alias domain, and force wins over it', () => {
    const settings = { dynamicSmtpFrom: 'dyn@shop.example' }
    expect(plan('ann@shop.example', { settings }).headerFrom).toBe('ann@shop.example')
    expect(plan('"Mary" <mary@customer.example.com>', { settings }).headerFrom).toBe(
      '"Mary" <dyn@shop.example>',
    )
    const both = { dynamicSmtpFrom: 'dyn@shop.example', forceSmtpFrom: 'force@shop.example' }
    expect(plan('"Mary" <mary@customer.example.com>', { settings: both }).headerFrom).toBe(
      '"Mary" <force@shop.example>',
    )
  })
})

describe('planDelivery: the envelope', () => {
  it("uses B when the chosen server's filter matches it, else the From address", () => {
    expect(plan('ann@shop.example', { servers: [Z] }).envelopeFrom).toBe('bounce@shop.example')
    expect(plan('paula@partner.example').envelopeFrom).toBe('paula@partner.example')
  })

  it('uses the From address when there is no alias domain (no B)', () => {
    expect(plan('ann@shop.example', { aliasDomains: [] }).envelopeFrom).toBe('ann@shop.example')
  })

  it('checks B against defaultFromFilter on the built-in default server', () => {
    expect(plan('ann@shop.example', { servers: [] }).envelopeFrom).toBe('bounce@shop.example')
    expect(
      plan('ann@other.example', { servers: [], settings: { defaultFromFilter: 'other.example' } })
        .envelopeFrom,
    ).toBe('ann@other.example')
  })
})

describe('planDelivery: Reply-To and Message-ID', () => {
  it("takes the request's replyTo first", () => {
    expect(
      plan('ann@shop.example', { replyTo: 'help@shop.example', reference: 'sale.order/1' }).replyTo,
    ).toBe('help@shop.example')
  })

  it('uses the company catchall for a message with a reference', () => {
    const company = { name: 'Shop Inc', aliasDomainId: 'ad_shop' }
    expect(plan('ann@shop.example', { reference: 'sale.order/42', company }).replyTo).toBe(
      '"Shop Inc" <catchall@shop.example>',
    )
  })

  it('falls back to the sender as given, so replies to a rewritten message reach the person', () => {
    expect(plan('"Mary" <mary@customer.example.com>').replyTo).toBe(
      '"Mary" <mary@customer.example.com>',
    )
  })

  it("puts the alias domain in Message-ID, else the sender's domain", () => {
    expect(plan('mary@Customer.Example.com').messageIdDomain).toBe('shop.example')
    expect(plan('mary@Customer.Example.com', { aliasDomains: [] }).messageIdDomain).toBe(
      'customer.example.com',
    )
  })

  it("uses the company's alias domain for N and B", () => {
    const other = { ...shop, id: 'ad_other', name: 'other.example', sequence: 5 }
    const result = plan('"Mary" <mary@customer.example.com>', {
      aliasDomains: [shop, other],
      company: { name: 'Other', aliasDomainId: 'ad_other' },
      servers: [Z],
    })
    expect([result.headerFrom, result.envelopeFrom]).toEqual([
      '"Mary" <notifications@other.example>',
      'bounce@other.example',
    ])
  })
})

describe('planDelivery: failures', () => {
  it('refuses an unknown serverId', () => {
    expect(() => plan('ann@shop.example', { serverId: 'srv_none' })).toThrow('UNKNOWN_SERVER')
  })
})
