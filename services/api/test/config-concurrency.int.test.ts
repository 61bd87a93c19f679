import { randomBytes } from 'node:crypto'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { createConfigStore, type OutgoingServer } from '@outbound/store'
import { type App, ApiHarness } from './helpers/api-harness.js'

// Before, each handler read the whole object from the cache, changed it and wrote it back: of
// concurrent PATCHes only some changes survived, concurrent DKIM key creations lost keys whose DNS
// record had been answered, and one alias-domain name could be created many times.

const h = new ApiHarness()
let app: App

type Json = Record<string, unknown>
type Method = 'GET' | 'POST' | 'PATCH' | 'DELETE'
async function call(method: Method, url: string, payload?: object) {
  const response = await app.inject({ method, url, ...(payload === undefined ? {} : { payload }) })
  return { status: response.statusCode, body: response.body === '' ? {} : response.json<Json>() }
}
const range = (n: number) => Array.from({ length: n }, (_, i) => i)
const statuses = (answers: { status: number }[]) =>
  answers.map((a) => a.status).sort((a, b) => a - b)

beforeAll(() => h.beforeAll())
afterAll(() => h.afterAll())
beforeEach(async () => {
  await h.beforeEach()
  app = await h.makeApp({ OUTBOUND_SECRET_KEY: randomBytes(32).toString('base64') })
})
afterEach(() => h.afterEach())

describe('concurrent configuration writes', () => {
  it('keeps all 10 changes of 10 concurrent PATCHes of different fields of one server', async () => {
    const created = await call('POST', '/v1/servers', {
      name: 'A',
      host: 'smtp.a.example',
      port: 25,
    })
    const id = String(created.body['id'])
    const changes: Json[] = [
      { name: 'B' },
      { host: 'smtp.b.example' },
      { port: 2525 },
      { security: 'tls' },
      { username: 'ann' },
      { sequence: 3 },
      { fromFilter: 'b.example' },
      { dailyLimit: 1000 },
      { spf: 'include:_spf.b.example' },
      { maxConnections: 9 },
    ]
    const answers = await Promise.all(changes.map((c) => call('PATCH', `/v1/servers/${id}`, c)))
    expect(statuses(answers)).toEqual(range(10).map(() => 200))
    const stored = (await call('GET', `/v1/servers/${id}`)).body
    const lost = changes.filter((c) => !Object.entries(c).every(([k, v]) => stored[k] === v))
    expect(lost).toEqual([])
  })

  it('keeps all 10 changes of 10 concurrent PATCHes of the settings', async () => {
    const changes: Json[] = [
      { defaultFromFilter: 'b.example' },
      { forceSmtpFrom: 'force@b.example' },
      { dynamicSmtpFrom: 'dyn@b.example' },
      { defaultDailyLimit: 77 },
      { quotaTimezone: 'Europe/Brussels' },
      { transactionalReservePercent: 33 },
      { bounceSuppressAfter: 4 },
      { retrySchedule: { transactional: [5, 6] } },
      { retrySchedule: { mass: [7, 8] } },
      { massDedicatedServerId: null },
    ]
    const answers = await Promise.all(changes.map((c) => call('PATCH', '/v1/settings', c)))
    expect(statuses(answers)).toEqual(range(10).map(() => 200))
    expect((await call('GET', '/v1/settings')).body).toMatchObject({
      defaultFromFilter: 'b.example',
      forceSmtpFrom: 'force@b.example',
      dynamicSmtpFrom: 'dyn@b.example',
      defaultDailyLimit: 77,
      quotaTimezone: 'Europe/Brussels',
      transactionalReservePercent: 33,
      bounceSuppressAfter: 4,
      retrySchedule: { transactional: [5, 6], mass: [7, 8] },
    })
  })

  it('keeps the changes of concurrent PATCHes of a company', async () => {
    const aliasDomainId = String(
      (await call('POST', '/v1/alias-domains', { name: 'shop.example' })).body['id'],
    )
    const id = String((await call('POST', '/v1/companies', { name: 'Shop' })).body['id'])
    const answers = await Promise.all([
      call('PATCH', `/v1/companies/${id}`, { name: 'Shop SA' }),
      call('PATCH', `/v1/companies/${id}`, { aliasDomainId }),
    ])
    expect(statuses(answers)).toEqual([200, 200])
    expect((await call('GET', `/v1/companies/${id}`)).body).toMatchObject({
      name: 'Shop SA',
      aliasDomainId,
    })
  })

  it.each([2, 5])(
    'keeps all %i DKIM keys created at once under different selectors, each as answered',
    async (n) => {
      const id = String(
        (await call('POST', '/v1/alias-domains', { name: 'shop.example' })).body['id'],
      )
      const answers = await Promise.all(
        range(n).map((i) =>
          call('POST', `/v1/alias-domains/${id}/dkim`, {
            selector: `s${i}`,
            algorithm: i === 0 ? 'rsa' : 'ed25519',
          }),
        ),
      )
      expect(statuses(answers)).toEqual(range(n).map(() => 201))
      const stored = (await call('GET', `/v1/alias-domains/${id}`)).body['dkim'] as Json[]
      expect(stored.map((k) => k['selector']).sort()).toEqual(range(n).map((i) => `s${i}`))
      for (const answer of answers) {
        expect(stored.find((k) => k['selector'] === answer.body['selector'])?.['value']).toBe(
          answer.body['value'],
        )
      }
    },
  )

  it('creates one DKIM key of 5 created at once under one selector; the others are 409', async () => {
    const id = String(
      (await call('POST', '/v1/alias-domains', { name: 'shop.example' })).body['id'],
    )
    const answers = await Promise.all(
      range(5).map(() =>
        call('POST', `/v1/alias-domains/${id}/dkim`, { selector: 'one', algorithm: 'ed25519' }),
      ),
    )
    expect(statuses(answers)).toEqual([201, 409, 409, 409, 409])
    expect(answers.filter((a) => a.status === 409).map((a) => a.body['code'])).toEqual(
      range(4).map(() => 'DKIM_SELECTOR_EXISTS'),
    )
    const stored = (await call('GET', `/v1/alias-domains/${id}`)).body['dkim'] as Json[]
    expect(stored).toHaveLength(1)
    expect(stored[0]?.['value']).toBe(answers.find((a) => a.status === 201)?.body['value'])
  })

  it('creates one alias domain of 20 concurrent creations of one name; the others are 409', async () => {
    const answers = await Promise.all(
      range(20).map(() => call('POST', '/v1/alias-domains', { name: 'shop.example' })),
    )
    expect(answers.filter((a) => a.status === 201)).toHaveLength(1)
    const refused = answers.filter((a) => a.status === 409)
    expect(refused).toHaveLength(19)
    expect(new Set(refused.map((a) => a.body['code']))).toEqual(new Set(['ALIAS_DOMAIN_EXISTS']))
    expect((await call('GET', '/v1/alias-domains')).body).toHaveLength(1)
  })

  it('creates no server past MAX_SERVERS, however many arrive at once', async () => {
    const store = createConfigStore(h.redis, h.prefix)
    const at = new Date().toISOString()
    const seeded = (i: number): OutgoingServer => ({
      id: `srv_seed_${i}`,
      name: `seed ${i}`,
      host: 'smtp.example',
      port: 25,
      security: 'none',
      username: null,
      passwordSealed: null,
      sequence: 10,
      fromFilter: null,
      dailyLimit: null,
      maxConnections: 1,
      active: false,
      createdAt: at,
      updatedAt: at,
    })
    await Promise.all(range(497).map((i) => store.putServer(seeded(i))))
    const answers = await Promise.all(
      range(10).map((i) =>
        call('POST', '/v1/servers', { name: `S${i}`, host: 'smtp.example', port: 25 }),
      ),
    )
    expect(answers.filter((a) => a.status === 201)).toHaveLength(3)
    expect(answers.filter((a) => a.body['code'] === 'TOO_MANY_OBJECTS')).toHaveLength(7)
    expect((await call('GET', '/v1/servers')).body).toHaveLength(500)
  })

  it('creates no company past MAX_COMPANIES, however many arrive at once', async () => {
    const store = createConfigStore(h.redis, h.prefix)
    const at = new Date().toISOString()
    await Promise.all(
      range(4998).map((i) =>
        store.putCompany({
          id: `co_seed_${i}`,
          name: `seed ${i}`,
          aliasDomainId: null,
          createdAt: at,
          updatedAt: at,
        }),
      ),
    )
    const answers = await Promise.all(
      range(6).map((i) => call('POST', '/v1/companies', { name: `C${i}` })),
    )
    expect(answers.filter((a) => a.status === 201)).toHaveLength(2)
    expect(answers.filter((a) => a.body['code'] === 'TOO_MANY_OBJECTS')).toHaveLength(4)
    expect((await call('GET', '/v1/companies')).body).toHaveLength(5000)
  })
})
