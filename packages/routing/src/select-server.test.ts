import { describe, expect, it } from 'vitest'
import { prepareServers, selectServer, type ServerCandidate } from './select-server.js'

let created = 0
function server(
  name: string,
  sequence: number,
  fromFilter: string | null,
  active = true,
): ServerCandidate {
  created += 1
  return {
    id: `srv_${name}`,
    name,
    sequence,
    fromFilter,
    active,
    createdAt: new Date(created * 1000).toISOString(),
  }
}

function select(
  servers: ServerCandidate[],
  sender: string,
  options: {
    notification?: string | null
    serverId?: string
    massDedicatedServerId?: string
    defaultFromFilter?: string
  } = {},
) {
  const result = selectServer({
    sender,
    notification:
      options.notification === undefined ? 'notifications@shop.example' : options.notification,
    servers,
    prepared: prepareServers(servers),
    serverId: options.serverId ?? null,
    massDedicatedServerId: options.massDedicatedServerId ?? null,
    defaultFromFilter: options.defaultFromFilter ?? null,
  })
  if (!result.ok) return result.code
  const { selection } = result
  return [selection.server?.name ?? 'default', selection.sendingAddress, selection.step]
}

// DOMAIN.md §5's worked example: alias domain shop.example, servers A, P and Z.
const A = server('A', 1, 'shop.example')
const P = server('P', 5, 'paula@partner.example')
const Z = server('Z', 9, null)

describe('selectServer: the worked example', () => {
  it.each([
    ['ann@shop.example', [A, P, Z], ['A', 'ann@shop.example', 'sender-domain']],
    ['paula@partner.example', [A, P, Z], ['P', 'paula@partner.example', 'sender-address']],
    [
      'mary@customer.example.com',
      [A, P, Z],
      ['A', 'notifications@shop.example', 'notification-domain'],
    ],
    [
      'mary@customer.example.com',
      [P, Z],
      ['Z', 'notifications@shop.example', 'server-without-filter'],
    ],
  ])('%s', (sender, servers, expected) => {
    expect(select(servers, sender)).toEqual(expected)
  })
})

describe('selectServer: the waterfall', () => {
  it('prefers an address match over a domain match whatever their sequences', () => {
    const domain = server('domain', 1, 'partner.example')
    const address = server('address', 50, 'paula@partner.example')
    expect(select([domain, address], 'paula@partner.example')).toEqual([
      'address',
      'paula@partner.example',
      'sender-address',
    ])
  })

  it('orders by sequence, then name, then creation time', () => {
    const b = server('b', 5, 'shop.example')
    const a = server('a', 5, 'shop.example')
    const early = server('a', 3, 'shop.example')
    expect(select([b, a], 'x@shop.example')[0]).toBe('a')
    expect(select([b, a, early], 'x@shop.example')).toEqual([
      'a',
      'x@shop.example',
      'sender-domain',
    ])
    const first = server('same', 5, 'shop.example')
    const second = { ...server('same', 5, 'shop.example'), id: 'srv_second' }
    const result = selectServer({
      sender: 'x@shop.example',
      notification: null,
      servers: [second, first],
      prepared: prepareServers([second, first]),
      serverId: null,
      massDedicatedServerId: null,
      defaultFromFilter: null,
    })
    expect(result.ok && result.selection.server?.id).toBe(first.id)
  })

  it('skips inactive servers', () => {
    expect(select([server('off', 1, 'shop.example', false), Z], 'ann@shop.example')[0]).toBe('Z')
  })

  it('matches the notification address part in step 2', () => {
    const n = server('N', 2, 'notifications@shop.example')
    expect(select([n], 'mary@customer.example.com')).toEqual([
      'N',
      'notifications@shop.example',
      'notification-address',
    ])
  })

  it('falls back to the first server when no filter matches (step 4)', () => {
    const other = server('other', 7, 'other.example')
    expect(select([P, other], 'mary@customer.example.com')).toEqual([
      'P',
      'notifications@shop.example',
      'first-server',
    ])
    expect(select([P, other], 'mary@customer.example.com', { notification: null })).toEqual([
      'P',
      'mary@customer.example.com',
      'first-server',
    ])
  })

  it('uses the sender in step 3 when there is no notification address', () => {
    expect(select([Z], 'mary@customer.example.com', { notification: null })).toEqual([
      'Z',
      'mary@customer.example.com',
      'server-without-filter',
    ])
  })
})

describe('selectServer: the built-in default server (step 5)', () => {
  it.each<[string, string | undefined, string | null, string]>([
    [
      'no default filter: the sender',
      undefined,
      'notifications@shop.example',
      'ann@customer.example',
    ],
    [
      'a filter matching the sender',
      'customer.example',
      'notifications@shop.example',
      'ann@customer.example',
    ],
    [
      'a filter matching only N',
      'shop.example',
      'notifications@shop.example',
      'notifications@shop.example',
    ],
    [
      'a filter matching neither: N',
      'elsewhere.example',
      'notifications@shop.example',
      'notifications@shop.example',
    ],
    [
      'a filter matching neither and no N: the sender',
      'elsewhere.example',
      null,
      'ann@customer.example',
    ],
  ])('%s', (_what, defaultFromFilter, notification, sendingAddress) => {
    expect(
      select([], 'ann@customer.example', {
        notification,
        ...(defaultFromFilter === undefined ? {} : { defaultFromFilter }),
      }),
    ).toEqual(['default', sendingAddress, 'default-server'])
  })
})

describe('selectServer: forced servers', () => {
  it('sends through the request serverId with the sender, skipping the waterfall', () => {
    expect(select([A, P, Z], 'mary@customer.example.com', { serverId: 'srv_P' })).toEqual([
      'P',
      'mary@customer.example.com',
      'forced-server',
    ])
  })

  it('refuses an unknown or inactive serverId', () => {
    expect(select([A], 'ann@shop.example', { serverId: 'srv_none' })).toBe('UNKNOWN_SERVER')
    expect(
      select([server('off', 1, null, false)], 'ann@shop.example', { serverId: 'srv_off' }),
    ).toBe('SERVER_INACTIVE')
  })

  it('sends mass mail through the dedicated server, and falls back to the waterfall when it is inactive', () => {
    expect(select([A, Z], 'ann@shop.example', { massDedicatedServerId: 'srv_Z' })).toEqual([
      'Z',
      'ann@shop.example',
      'mass-dedicated-server',
    ])
    const off = server('off', 1, null, false)
    expect(select([A, off], 'ann@shop.example', { massDedicatedServerId: 'srv_off' })[0]).toBe('A')
  })
})
