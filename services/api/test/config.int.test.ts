import { randomBytes } from 'node:crypto'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { createKeys } from '@outbound/store'
import { freePort, selfSignedCertificate, type SmtpSink, startSmtpSink } from '@outbound/testing'
import { type App, ApiHarness } from './helpers/api-harness.js'

const h = new ApiHarness()
let app: App
const secretKey = randomBytes(32).toString('base64')
const certificate = selfSignedCertificate()

async function makeApp(env: Record<string, string> = {}) {
  return await h.makeApp(
    { OUTBOUND_SECRET_KEY: secretKey, ...env },
    { extraCa: Buffer.from(certificate.cert) },
  )
}

type Json = Record<string, unknown>
async function call(method: 'GET' | 'POST' | 'PATCH' | 'DELETE', url: string, payload?: object) {
  const response = await app.inject({ method, url, ...(payload === undefined ? {} : { payload }) })
  return { status: response.statusCode, body: response.body === '' ? {} : response.json<Json>() }
}

const validServer = {
  name: 'A',
  host: 'smtp.shop.example',
  port: 587,
  security: 'starttls',
  fromFilter: 'shop.example',
}

beforeAll(() => h.beforeAll())
afterAll(() => h.afterAll())
beforeEach(async () => {
  await h.beforeEach()
  app = await makeApp()
})
afterEach(() => h.afterEach())

describe('/v1/servers', () => {
  it('creates, reads, changes and deletes a server; the password is write-only', async () => {
    const created = await call('POST', '/v1/servers', {
      ...validServer,
      username: 'ann',
      password: 'hunter2-secret',
    })
    expect(created.status).toBe(201)
    expect(created.body).toMatchObject({
      name: 'A',
      host: 'smtp.shop.example',
      port: 587,
      security: 'starttls',
      username: 'ann',
      hasPassword: true,
      sequence: 10,
      fromFilter: 'shop.example',
      dailyLimit: null,
      maxConnections: 5,
      active: true,
    })
    expect(created.body).not.toHaveProperty('password')
    expect(created.body).not.toHaveProperty('passwordSealed')
    const id = String(created.body['id'])

    const listed = await call('GET', '/v1/servers')
    expect(JSON.stringify(listed.body)).not.toContain('hunter2')
    const stored = await h.redis.hget(`${h.prefix}:{config}:servers`, id)
    expect(stored).not.toContain('hunter2')
    expect(h.logged.join('\n')).not.toContain('hunter2')

    const changed = await call('PATCH', `/v1/servers/${id}`, { password: null, sequence: 3 })
    expect(changed.body).toMatchObject({ hasPassword: false, sequence: 3, username: 'ann' })
    expect((await call('DELETE', `/v1/servers/${id}`)).status).toBe(204)
    expect((await call('GET', `/v1/servers/${id}`)).body).toMatchObject({
      code: 'SERVER_NOT_FOUND',
    })
  })

  it.each<[string, Json, string]>([
    ['a host that is not a name', { host: 'not a host!' }, 'INVALID_HOST'],
    ['port 0', { port: 0 }, 'INVALID_PORT'],
    ['port 70000', { port: 70_000 }, 'INVALID_PORT'],
    ['an unknown security', { security: 'ssl' }, 'INVALID_SECURITY'],
    ['a fractional sequence', { sequence: 1.5 }, 'INVALID_SEQUENCE'],
    ['a negative daily limit', { dailyLimit: -1 }, 'INVALID_DAILY_LIMIT'],
    ['a bad from filter part', { fromFilter: 'shop.example, not a domain' }, 'INVALID_FROM_FILTER'],
  ])('refuses %s with 400 %s', async (_what, change, code) => {
    const response = await call('POST', '/v1/servers', { ...validServer, ...change })
    expect(response).toMatchObject({ status: 400, body: { code } })
    expect((await call('GET', '/v1/servers')).body).toEqual([])
  })

  it('accepts IDN filters and IP hosts, and lists servers in waterfall order', async () => {
    await call('POST', '/v1/servers', {
      ...validServer,
      name: 'b',
      sequence: 5,
      fromFilter: 'bücher.example',
    })
    await call('POST', '/v1/servers', {
      ...validServer,
      name: 'a',
      sequence: 5,
      host: '192.0.2.10',
    })
    await call('POST', '/v1/servers', { ...validServer, name: 'first', sequence: 1 })
    await call('POST', '/v1/servers', { ...validServer, name: 'off', sequence: 0, active: false })
    const listed = (await call('GET', '/v1/servers')).body as unknown as { name: string }[]
    expect(listed.map((s) => s.name)).toEqual(['first', 'a', 'b', 'off'])
  })

  it('refuses a password without OUTBOUND_SECRET_KEY', async () => {
    app = await makeApp({ OUTBOUND_SECRET_KEY: '' })
    const response = await call('POST', '/v1/servers', { ...validServer, password: 'x' })
    expect(response).toMatchObject({ status: 422, body: { code: 'SECRET_KEY_MISSING' } })
  })

  it('refuses to delete the dedicated mass server (409) and settings naming an unknown server (422)', async () => {
    const id = String((await call('POST', '/v1/servers', validServer)).body['id'])
    expect(
      (await call('PATCH', '/v1/settings', { massDedicatedServerId: 'srv_none' })).body,
    ).toMatchObject({ code: 'UNKNOWN_SERVER' })
    expect((await call('PATCH', '/v1/settings', { massDedicatedServerId: id })).status).toBe(200)
    expect((await call('DELETE', `/v1/servers/${id}`)).body).toMatchObject({
      statusCode: 409,
      code: 'SERVER_IN_USE',
    })
    await call('PATCH', '/v1/settings', { massDedicatedServerId: null })
    expect((await call('DELETE', `/v1/servers/${id}`)).status).toBe(204)
  })
})

describe('/v1/alias-domains and /v1/companies', () => {
  it('sanitises alias local parts and reports N, B and the catchall', async () => {
    const created = await call('POST', '/v1/alias-domains', {
      name: ' Shop.Example ',
      bounceAlias: 'Rebonds Été',
      catchallAlias: 'x@elsewhere.example',
    })
    expect(created).toMatchObject({
      status: 201,
      body: {
        name: 'shop.example',
        bounceAlias: 'rebonds-ete',
        catchallAlias: 'x',
        defaultFrom: 'notifications',
        notificationAddress: 'notifications@shop.example',
        bounceAddress: 'rebonds-ete@shop.example',
        catchallAddress: 'x@shop.example',
      },
    })
    expect((await call('POST', '/v1/alias-domains', { name: 'shop.example' })).body).toMatchObject({
      code: 'ALIAS_DOMAIN_EXISTS',
    })
    const other = String(
      (await call('POST', '/v1/alias-domains', { name: 'b.example' })).body['id'],
    )
    expect(
      await call('PATCH', `/v1/alias-domains/${other}`, { name: ' Shop.Example' }),
    ).toMatchObject({
      status: 409,
      body: { code: 'ALIAS_DOMAIN_EXISTS', message: 'an alias domain named shop.example exists' },
    })
    expect(
      (await call('PATCH', `/v1/alias-domains/${other}`, { name: 'b.example', sequence: 3 }))
        .status,
    ).toBe(200)
    expect((await call('POST', '/v1/alias-domains', { name: 'not a domain' })).body).toMatchObject({
      code: 'INVALID_DOMAIN',
    })
    expect(
      (await call('POST', '/v1/alias-domains', { name: 'b.example', bounceAlias: '...' })).body,
    ).toMatchObject({
      code: 'INVALID_ALIAS',
    })
  })

  it('ties companies to alias domains, and protects an alias domain in use', async () => {
    const aliasDomainId = String(
      (await call('POST', '/v1/alias-domains', { name: 'shop.example' })).body['id'],
    )
    expect(
      (await call('POST', '/v1/companies', { name: 'Shop', aliasDomainId: 'ad_none' })).body,
    ).toMatchObject({
      code: 'UNKNOWN_ALIAS_DOMAIN',
    })
    const company = await call('POST', '/v1/companies', { name: 'Shop', aliasDomainId })
    expect(company).toMatchObject({ status: 201, body: { name: 'Shop', aliasDomainId } })
    expect((await call('DELETE', `/v1/alias-domains/${aliasDomainId}`)).body).toMatchObject({
      code: 'ALIAS_DOMAIN_IN_USE',
    })
    await call('PATCH', `/v1/companies/${String(company.body['id'])}`, { aliasDomainId: null })
    expect((await call('DELETE', `/v1/alias-domains/${aliasDomainId}`)).status).toBe(204)
  })

  it("puts the company's alias domain into the Message-ID of its mail", async () => {
    const aliasDomainId = String(
      (await call('POST', '/v1/alias-domains', { name: 'shop.example' })).body['id'],
    )
    const companyId = String(
      (await call('POST', '/v1/companies', { name: 'Shop', aliasDomainId })).body['id'],
    )
    const sent = await call('POST', '/v1/emails', {
      from: 'ann@other.example',
      to: 'bob@example.com',
      subject: 'x',
      text: 'y',
      companyId,
    })
    expect(sent.status).toBe(202)
    const raw = await h.redis.hget(createKeys(h.prefix).message(String(sent.body['id'])), 'request')
    expect(raw).toContain(`@shop.example>`)
  })
})

describe('DKIM keys of an alias domain', () => {
  it('creates RSA and Ed25519 keys, answers the DNS records, never the private key, and removes them', async () => {
    const id = String(
      (await call('POST', '/v1/alias-domains', { name: 'shop.example' })).body['id'],
    )
    const rsa = await call('POST', `/v1/alias-domains/${id}/dkim`, {})
    expect(rsa.status).toBe(201)
    expect(rsa.body).toMatchObject({
      selector: 'outbound',
      algorithm: 'rsa',
      name: 'outbound._domainkey.shop.example',
    })
    expect(String(rsa.body['value'])).toMatch(/^v=DKIM1; k=rsa; p=MIIB[A-Za-z0-9+/=]{300,}$/)
    expect(String(rsa.body['zoneLine'])).toMatch(
      /^outbound\._domainkey\.shop\.example\. IN TXT "v=DKIM1; k=rsa; p=[^"]{200,}" "[^"]+"$/,
    )

    const ed = await call('POST', `/v1/alias-domains/${id}/dkim`, {
      selector: 'ed2026',
      algorithm: 'ed25519',
    })
    expect(String(ed.body['value'])).toMatch(/^v=DKIM1; k=ed25519; p=[A-Za-z0-9+/]{43}=$/)
    expect(
      (await call('POST', `/v1/alias-domains/${id}/dkim`, { selector: 'ed2026' })).body,
    ).toMatchObject({ code: 'DKIM_SELECTOR_EXISTS' })
    expect(
      (await call('POST', `/v1/alias-domains/${id}/dkim`, { selector: 'Bad_Selector' })).body,
    ).toMatchObject({ code: 'INVALID_SELECTOR' })

    const view = await call('GET', `/v1/alias-domains/${id}`)
    expect((view.body['dkim'] as { selector: string }[]).map((k) => k.selector)).toEqual([
      'outbound',
      'ed2026',
    ])
    const everything =
      JSON.stringify(view.body) + JSON.stringify((await call('GET', '/v1/alias-domains')).body)
    expect(everything).not.toMatch(/PRIVATE KEY|privateKey/)
    const stored = await h.redis.hget(`${h.prefix}:{config}:alias-domains`, id)
    expect(stored).not.toContain('PRIVATE KEY')

    expect((await call('DELETE', `/v1/alias-domains/${id}/dkim/outbound`)).status).toBe(204)
    expect((await call('DELETE', `/v1/alias-domains/${id}/dkim/outbound`)).body).toMatchObject({
      code: 'DKIM_KEY_NOT_FOUND',
    })
  })

  it('refuses to create a key without OUTBOUND_SECRET_KEY', async () => {
    app = await makeApp({ OUTBOUND_SECRET_KEY: '' })
    const id = String(
      (await call('POST', '/v1/alias-domains', { name: 'shop.example' })).body['id'],
    )
    expect((await call('POST', `/v1/alias-domains/${id}/dkim`, {})).body).toMatchObject({
      statusCode: 422,
      code: 'SECRET_KEY_MISSING',
    })
  })
})

describe('/v1/settings', () => {
  it('answers the defaults and changes only what is given', async () => {
    const defaults = await call('GET', '/v1/settings')
    expect(defaults.body).toMatchObject({
      defaultDailyLimit: 200,
      quotaTimezone: 'UTC',
      transactionalReservePercent: 10,
      bounceSuppressAfter: 1,
    })
    const changed = await call('PATCH', '/v1/settings', {
      defaultFromFilter: 'shop.example',
      forceSmtpFrom: 'relay@shop.example',
      quotaTimezone: 'Europe/Brussels',
      retrySchedule: { mass: [60, 600] },
    })
    expect(changed.body).toMatchObject({
      defaultFromFilter: 'shop.example',
      forceSmtpFrom: 'relay@shop.example',
      quotaTimezone: 'Europe/Brussels',
      defaultDailyLimit: 200,
      retrySchedule: {
        mass: [60, 600],
        transactional: defaults.body['retrySchedule'] && expect.any(Array),
      },
    })
  })

  it.each<[string, Json, string]>([
    ['a bad default filter', { defaultFromFilter: 'a b' }, 'INVALID_FROM_FILTER'],
    ['a forced From with a name', { forceSmtpFrom: '"X" <x@y.example>' }, 'INVALID_ADDRESS'],
    ['an unknown time zone', { quotaTimezone: 'Mars/Olympus' }, 'INVALID_TIMEZONE'],
    ['a reserve over 100 %', { transactionalReservePercent: 101 }, 'VALIDATION_FAILED'],
  ])('refuses %s with %s', async (_what, change, code) => {
    expect((await call('PATCH', '/v1/settings', change)).body).toMatchObject({ code })
  })
})

// Before, CR/LF, controls and bidi overrides were kept (or silently turned into "-") in names that
// reach a mail header: a company's name is the Reply-To display name of its mail.
describe('configuration names that can reach a mail header', () => {
  const unsafe: [string, string][] = [
    ['CR LF', 'Shop\r\nBcc: x@evil.example'],
    ['a NUL', 'Sh\u0000op'],
    ['a C1 control', 'Shop\u0085'],
    ['a right-to-left override', '\u202egnp.exe'],
    ['an isolate', 'Shop\u2067'],
    ['a left-to-right mark', 'Shop\u200e'],
    ['an Arabic letter mark', 'Shop\u061c'],
  ]

  it.each(unsafe)('refuses %s in every one of them, naming the field', async (_what, bad) => {
    const aliasDomainId = String(
      (await call('POST', '/v1/alias-domains', { name: 'shop.example' })).body['id'],
    )
    const companyId = String((await call('POST', '/v1/companies', { name: 'Shop' })).body['id'])
    const serverId = String((await call('POST', '/v1/servers', validServer)).body['id'])
    const refusals: [string, string, object, string, string][] = [
      ['POST', '/v1/companies', { name: bad }, 'VALIDATION_FAILED', 'name'],
      ['PATCH', `/v1/companies/${companyId}`, { name: bad }, 'VALIDATION_FAILED', 'name'],
      ['POST', '/v1/servers', { ...validServer, name: bad }, 'VALIDATION_FAILED', 'name'],
      ['PATCH', `/v1/servers/${serverId}`, { name: bad }, 'VALIDATION_FAILED', 'name'],
      ['POST', '/v1/alias-domains', { name: `${bad}.example` }, 'INVALID_DOMAIN', 'name'],
      ...['bounceAlias', 'catchallAlias', 'defaultFrom'].flatMap(
        (field): [string, string, object, string, string][] => [
          [
            'POST',
            '/v1/alias-domains',
            { name: 'b.example', [field]: bad },
            'INVALID_ALIAS',
            field,
          ],
          ['PATCH', `/v1/alias-domains/${aliasDomainId}`, { [field]: bad }, 'INVALID_ALIAS', field],
        ],
      ),
    ]
    for (const [method, url, payload, code, field] of refusals) {
      const answer = await call(method as 'POST' | 'PATCH', url, payload)
      expect({ method, url, payload, answer }).toMatchObject({
        answer: { status: 400, body: { code, details: { field } } },
      })
    }
    expect((await call('GET', `/v1/companies/${companyId}`)).body['name']).toBe('Shop')
    expect((await call('GET', '/v1/alias-domains')).body).toHaveLength(1)
  })

  it('keeps accepting names in any script', async () => {
    expect((await call('POST', '/v1/companies', { name: 'Société Générale' })).status).toBe(201)
    expect((await call('POST', '/v1/companies', { name: 'متجر الأزهار' })).status).toBe(201)
    expect((await call('POST', '/v1/servers', { ...validServer, name: '中继 A' })).status).toBe(201)
  })
})

describe('POST /v1/servers/:id/test', () => {
  const sinks: SmtpSink[] = []
  afterAll(async () => {
    await Promise.all(sinks.map((sink) => sink.close()))
  })
  async function sink(options: Parameters<typeof startSmtpSink>[0]) {
    const started = await startSmtpSink(options)
    sinks.push(started)
    return started
  }
  async function test(server: Json) {
    const id = String(
      (await call('POST', '/v1/servers', { name: 'T', host: '127.0.0.1', ...server })).body['id'],
    )
    return (await call('POST', `/v1/servers/${id}/test`)).body
  }

  it('reaches DATA 354 and sends nothing', async () => {
    const plain = await sink({})
    await call('POST', '/v1/alias-domains', { name: 'shop.example' })
    const result = await test({ port: plain.port, security: 'none', fromFilter: 'shop.example' })
    expect(result).toMatchObject({ ok: true, stage: 'done', sender: 'notifications@shop.example' })
    expect(plain.messages).toHaveLength(0)
  })

  it('passes over TLS with AUTH, and names the first full address of the filter as sender', async () => {
    const secure = await sink({
      tls: { ...certificate, mode: 'implicit' },
      auth: { username: 'u', password: 'right-password' },
    })
    const result = await test({
      port: secure.port,
      security: 'tls',
      username: 'u',
      password: 'right-password',
      fromFilter: 'a.example, me@b.example',
    })
    expect(result).toMatchObject({ ok: true, stage: 'done', sender: 'me@b.example' })
  })

  it.each<[string, () => Promise<Json>, string, RegExp]>([
    [
      'a refused connection',
      async () => ({ port: await freePort(), security: 'none' }),
      'connect',
      /ECONNREFUSED|connect/i,
    ],
    [
      'a certificate it cannot verify',
      async () => ({
        port: (await sink({ tls: { ...selfSignedCertificate(), mode: 'implicit' } })).port,
        security: 'tls',
      }),
      'tls',
      /certificate/i,
    ],
    [
      'STARTTLS required but not offered',
      async () => ({ port: (await sink({})).port, security: 'starttls' }),
      'tls',
      /STARTTLS/i,
    ],
    [
      'a wrong password',
      async () => ({
        port: (await sink({ auth: { username: 'u', password: 'right-password' } })).port,
        security: 'none',
        username: 'u',
        password: 'wrong',
      }),
      'auth',
      /535/,
    ],
    [
      'a refused sender',
      async () => ({
        port: (await sink({ mailFromReply: '553 5.7.1 sender not allowed' })).port,
        security: 'none',
      }),
      'mail',
      /553/,
    ],
    [
      'a refused recipient',
      async () => ({
        port: (await sink({ replies: { 'noreply@shop.example': '550 5.1.1 no such user' } })).port,
        security: 'none',
        fromFilter: 'shop.example',
      }),
      'rcpt',
      /550/,
    ],
  ])('reports %s at the %s stage', async (_what, settings, stage, detail) => {
    const result = await test(await settings())
    expect(result).toMatchObject({ ok: false, stage })
    expect(String(result['detail'])).toMatch(detail)
  })
})
