import { randomBytes } from 'node:crypto'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { startDnsServer, type TestDnsServer, type Zone } from '@outbound/testing'
import { createTxtResolver } from '../src/resolve-txt.js'
import { type App, ApiHarness } from './helpers/api-harness.js'

const h = new ApiHarness()
let app: App
let dns: TestDnsServer
const secretKey = randomBytes(32).toString('base64')

type Finding = { check: string; status: string; message: string; fix: string | null }

beforeAll(async () => {
  await h.beforeAll()
  dns = await startDnsServer()
})
afterAll(async () => {
  await dns.close()
  await h.afterAll()
})
beforeEach(async () => {
  await h.beforeEach()
  app = await h.makeApp(
    { OUTBOUND_SECRET_KEY: secretKey },
    { resolveTxt: createTxtResolver([dns.address]) },
  )
})
afterEach(() => h.afterEach())

async function post(url: string, payload: object) {
  return (await app.inject({ method: 'POST', url, payload })).json<Record<string, string>>()
}

/** An alias domain shop.example, server A (include:_spf.provider.example), optionally a DKIM key. */
async function setUp(withKey: boolean): Promise<{ id: string; dkimValue: string }> {
  const { id = '' } = await post('/v1/alias-domains', { name: 'shop.example' })
  await post('/v1/servers', {
    name: 'A',
    host: 'smtp.provider.example',
    port: 587,
    security: 'starttls',
    fromFilter: 'shop.example',
    spf: 'include:_spf.provider.example',
  })
  const key = withKey ? await post(`/v1/alias-domains/${id}/dkim`, {}) : { value: '' }
  return { id, dkimValue: key['value'] ?? '' }
}

const chunks = (value: string) => [value.match(/.{1,255}/g) ?? [value]]

function zone(dkimValue: string, change: Zone = {}): Zone {
  return {
    'shop.example': [['v=spf1 include:_spf.provider.example ~all']],
    '_spf.provider.example': [['v=spf1 ip4:192.0.2.0/24 -all']],
    'outbound._domainkey.shop.example': chunks(dkimValue),
    '_dmarc.shop.example': [['v=DMARC1; p=quarantine; rua=mailto:dmarc@shop.example']],
    ...change,
  }
}

async function check(id: string): Promise<Finding[]> {
  const response = await app.inject({ method: 'GET', url: `/v1/alias-domains/${id}/dns` })
  expect(response.statusCode).toBe(200)
  return response.json<{ domain: string; findings: Finding[] }>().findings
}

const problems = (findings: Finding[]) =>
  findings.filter((f) => f.status !== 'ok').map((f) => [f.check, f.status, f.message])

describe('GET /v1/alias-domains/:id/dns', () => {
  it('finds nothing wrong with a well-kept zone', async () => {
    const { id, dkimValue } = await setUp(true)
    dns.serve(zone(dkimValue))
    const findings = await check(id)
    expect(problems(findings)).toEqual([])
    expect(findings.map((f) => f.check)).toEqual(['spf', 'spf', 'spf', 'dkim', 'dmarc', 'bounce'])
  })

  it.each<[string, (dkim: string) => Zone, string, string, RegExp]>([
    ['no SPF record', () => ({ 'shop.example': [] }), 'spf', 'error', /has no SPF record/],
    [
      'two SPF records',
      () => ({
        'shop.example': [['v=spf1 include:_spf.provider.example ~all'], ['v=spf1 mx -all']],
      }),
      'spf',
      'error',
      /2 SPF records/,
    ],
    [
      'SPF without the include',
      () => ({ 'shop.example': [['v=spf1 mx ~all']] }),
      'spf',
      'error',
      /does not authorise server A/,
    ],
    [
      'SPF ending in ?all',
      () => ({ 'shop.example': [['v=spf1 include:_spf.provider.example ?all']] }),
      'spf',
      'warn',
      /anyone may send/,
    ],
    [
      'a missing DKIM record',
      () => ({ 'outbound._domainkey.shop.example': [] }),
      'dkim',
      'error',
      /no DKIM record at outbound\._domainkey\.shop\.example/,
    ],
    [
      'a DKIM record for another key',
      () => ({
        'outbound._domainkey.shop.example': [
          ['v=DKIM1; k=rsa; p=MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAother'],
        ],
      }),
      'dkim',
      'error',
      /does not match the key/,
    ],
    [
      'no DMARC record',
      () => ({ '_dmarc.shop.example': [] }),
      'dmarc',
      'warn',
      /has no DMARC record/,
    ],
  ])('reports %s', async (_what, change, checkName, status, message) => {
    const { id, dkimValue } = await setUp(true)
    dns.serve(zone(dkimValue, change(dkimValue)))
    const found = (await check(id)).filter((f) => f.check === checkName && f.status === status)
    expect(found.map((f) => f.message).join('\n')).toMatch(message)
    expect(found.every((f) => f.fix !== null)).toBe(true)
  })

  it('says "p=reject and no DKIM key: mail will be rejected"', async () => {
    const { id } = await setUp(false)
    dns.serve(zone('', { '_dmarc.shop.example': [['v=DMARC1; p=reject']] }))
    const findings = await check(id)
    expect(findings).toContainEqual(
      expect.objectContaining({
        check: 'dmarc',
        status: 'error',
        message: 'p=reject and no DKIM key: mail will be rejected',
      }),
    )
    expect(findings).toContainEqual(expect.objectContaining({ check: 'dkim', status: 'warn' }))
  })

  it('counts SPF lookups through includes and reports more than 10', async () => {
    const { id, dkimValue } = await setUp(true)
    const includes = Array.from({ length: 6 }, (_, i) => `include:n${i}.provider.example`).join(' ')
    const nested = Object.fromEntries(
      Array.from({ length: 6 }, (_, i) => [`n${i}.provider.example`, [['v=spf1 a mx -all']]]),
    )
    dns.serve(
      zone(dkimValue, {
        'shop.example': [[`v=spf1 include:_spf.provider.example ${includes} ~all`]],
        ...nested,
      }),
    )
    const findings = await check(id)
    expect(findings).toContainEqual(
      expect.objectContaining({
        check: 'spf',
        status: 'error',
        message: expect.stringMatching(/needs 19 DNS lookups; receivers stop at 10/),
      }),
    )
    expect(findings).toContainEqual(expect.objectContaining({ check: 'bounce', status: 'error' }))
  })
})
