import { randomBytes } from 'node:crypto'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { type SmtpSink, startSmtpSink } from '@outbound/testing'
import { ApiHarness } from './helpers/api-harness.js'

const h = new ApiHarness()

const SENDER = 'sender-secret-0123456789'
const OTHER = 'other-secret-0123456789'
const ADMIN = 'admin-secret-0123456789'
const KEYS = `sender:send+read:${SENDER},other:send:${OTHER},ops:admin+read:${ADMIN}`

async function makeApp(env: Record<string, string> = {}) {
  return await h.makeApp({ OUTBOUND_API_KEYS: KEYS, ...env })
}

const valid = { from: 'ann@shop.example', to: 'bob@example.com', subject: 'Hi', text: 'x' }
const bearer = (secret: string) => ({ authorization: `Bearer ${secret}` })

beforeAll(() => h.beforeAll())
afterAll(() => h.afterAll())
beforeEach(() => h.beforeEach())
afterEach(() => h.afterEach())

describe('rate limits on the send routes', () => {
  it('answers 429 RATE_LIMITED past the limit of a key, across API instances, with RateLimit headers', async () => {
    const first = await makeApp({ RATE_LIMIT_SEND_PER_MINUTE: '3' })
    const second = await makeApp({ RATE_LIMIT_SEND_PER_MINUTE: '3' })
    const send = (app: typeof first, secret: string) =>
      app.inject({ method: 'POST', url: '/v1/emails', payload: valid, headers: bearer(secret) })

    const answers = [
      await send(first, SENDER),
      await send(second, SENDER),
      await send(first, SENDER),
    ]
    expect(answers.map((a) => a.statusCode)).toEqual([202, 202, 202])
    expect(answers[2]?.headers['ratelimit-limit']).toBe('3')
    expect(answers[2]?.headers['ratelimit-remaining']).toBe('0')

    const refused = await send(second, SENDER)
    expect(refused.statusCode).toBe(429)
    expect(refused.json()).toMatchObject({
      statusCode: 429,
      code: 'RATE_LIMITED',
      error: 'Too Many Requests',
    })
    expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0)
    expect(Number(refused.headers['ratelimit-reset'])).toBeGreaterThan(0)

    // Another key has its own budget; reading is not limited.
    expect((await send(first, OTHER)).statusCode).toBe(202)
    const { id } = answers[0]?.json<{ id: string }>() ?? { id: '' }
    expect(
      (await first.inject({ method: 'GET', url: `/v1/emails/${id}`, headers: bearer(SENDER) }))
        .statusCode,
    ).toBe(200)
  })
})

describe('scopes on the configuration routes', () => {
  const adminRoutes: [string, string][] = [
    ['GET', '/v1/servers'],
    ['POST', '/v1/servers'],
    ['GET', '/v1/servers/srv_1'],
    ['PATCH', '/v1/servers/srv_1'],
    ['DELETE', '/v1/servers/srv_1'],
    ['POST', '/v1/servers/srv_1/test'],
    ['POST', '/v1/servers/reseal'],
    ['GET', '/v1/alias-domains'],
    ['POST', '/v1/alias-domains'],
    ['GET', '/v1/alias-domains/ad_1'],
    ['PATCH', '/v1/alias-domains/ad_1'],
    ['DELETE', '/v1/alias-domains/ad_1'],
    ['GET', '/v1/companies'],
    ['POST', '/v1/companies'],
    ['GET', '/v1/companies/co_1'],
    ['PATCH', '/v1/companies/co_1'],
    ['DELETE', '/v1/companies/co_1'],
    ['GET', '/v1/settings'],
    ['PATCH', '/v1/settings'],
    ['GET', '/admin/queues'],
  ]

  it.each(adminRoutes)(
    '%s %s refuses no key (401) and a send-only key (403)',
    async (method, url) => {
      const app = await makeApp()
      const inject = (headers: Record<string, string>) =>
        app.inject({
          method: method as 'GET',
          url,
          headers,
          ...(method === 'GET' || method === 'DELETE' ? {} : { payload: {} }),
        })
      expect((await inject({})).statusCode).toBe(401)
      expect((await inject(bearer(SENDER))).json()).toMatchObject({
        statusCode: 403,
        code: 'FORBIDDEN',
      })
      expect((await inject(bearer(ADMIN))).statusCode).not.toBe(403)
    },
  )

  it('lets the read scope read quota but not send', async () => {
    const app = await makeApp({ OUTBOUND_API_KEYS: `reader:read:${OTHER}` })
    expect(
      (await app.inject({ method: 'GET', url: '/v1/quota', headers: bearer(OTHER) })).statusCode,
    ).toBe(200)
    expect(
      (
        await app.inject({
          method: 'POST',
          url: '/v1/emails',
          payload: valid,
          headers: bearer(OTHER),
        })
      ).statusCode,
    ).toBe(403)
  })
})

describe('without API keys (loopback only)', () => {
  it("refuses a change that another site's page sends through the browser", async () => {
    const app = await h.makeApp({})
    const post = (headers: Record<string, string>) =>
      app.inject({
        method: 'POST',
        url: '/v1/emails',
        headers: { 'content-type': 'application/json', ...headers },
        payload: JSON.stringify(valid),
      })
    const crossSite = await post({ origin: 'https://evil.example', host: '127.0.0.1:3000' })
    expect([crossSite.statusCode, crossSite.json().code]).toEqual([403, 'FORBIDDEN'])
    // A program (no Origin) and the console's own page (this host) still may.
    expect((await post({ host: '127.0.0.1:3000' })).statusCode).toBe(202)
    const sameSite = await post({ origin: 'http://127.0.0.1:3000', host: '127.0.0.1:3000' })
    expect(sameSite.statusCode).toBe(202)
    // Reading is not a change.
    const read = await app.inject({
      method: 'GET',
      url: '/v1/quota',
      headers: { origin: 'https://evil.example' },
    })
    expect(read.statusCode).toBe(200)
  })
})

describe('hostile input', () => {
  const send = async (body: unknown, raw = false) => {
    const app = await makeApp()
    return await app.inject({
      method: 'POST',
      url: '/v1/emails',
      headers: { ...bearer(SENDER), 'content-type': 'application/json' },
      payload: raw ? String(body) : JSON.stringify(body),
    })
  }

  it('refuses deeply nested JSON with a 400, not a crash', async () => {
    const deep = `{"from":"a@b.example","to":"c@d.example","subject":"x","text":"y","metadata":{"k":${'['.repeat(20_000)}${']'.repeat(20_000)}}}`
    const response = await send(deep, true)
    expect(response.statusCode).toBe(400)
    expect(response.json()).toMatchObject({ code: 'VALIDATION_FAILED' })
  })

  it('refuses a body over the request limit with 413 before reading it all', async () => {
    const response = await send({ ...valid, text: 'x'.repeat(40 * 1024 * 1024) })
    expect(response.json()).toMatchObject({ statusCode: 413, code: 'PAYLOAD_TOO_LARGE' })
  })

  it.each([
    ['a zero-width space in the address', { to: 'bob\u200b@example.com' }, 'INVALID_ADDRESS'],
    [
      'a right-to-left override in a display name',
      { from: '"\u202egnp.exe" <ann@shop.example>' },
      'INVALID_ADDRESS',
    ],
    [
      'CR/LF in a display name',
      { from: '"Ann\r\nBcc: x@y.example" <ann@shop.example>' },
      'INVALID_ADDRESS',
    ],
    [
      'a 300-character address',
      { to: `${'a'.repeat(60)}@${'b'.repeat(230)}.example` },
      'INVALID_ADDRESS',
    ],
    ['a NUL in the subject', { subject: 'a\u0000b' }, 'INVALID_HEADER'],
    ['CR/LF in the reply-to', { replyTo: 'x@y.example\r\nBcc: z@w.example' }, 'INVALID_ADDRESS'],
    [
      'CR/LF in an attachment name',
      { attachments: [{ filename: 'a\r\nContent-Type: text/html', content: '' }] },
      'INVALID_ATTACHMENT',
    ],
    [
      'invalid base64',
      { attachments: [{ filename: 'a.bin', content: '@@@@' }] },
      'INVALID_ATTACHMENT',
    ],
  ])('refuses %s', async (_what, change, code) => {
    const app = await makeApp()
    const response = await app.inject({
      method: 'POST',
      url: '/v1/emails',
      headers: bearer(SENDER),
      payload: { ...valid, ...change },
    })
    expect(response.json()).toMatchObject({ statusCode: 400, code })
  })

  it('keeps an IDN homograph as data: accepted, stored as written', async () => {
    const response = await send({ ...valid, to: 'admin@аpple.example' })
    expect(response.statusCode).toBe(202)
    const { id } = response.json<{ id: string }>()
    const record = await (
      await makeApp()
    ).inject({
      method: 'GET',
      url: `/v1/emails/${id}`,
      headers: bearer(SENDER),
    })
    expect(record.json<{ to: string[] }>().to).toEqual(['admin@аpple.example'])
  })
})

describe('secrets', () => {
  let authSink: SmtpSink
  beforeAll(async () => {
    authSink = await startSmtpSink({ auth: { username: 'u', password: 'the-smtp-password' } })
  })
  afterAll(async () => {
    await authSink.close()
  })
  const serverWithPassword = () => ({
    name: 'S',
    host: '127.0.0.1',
    port: authSink.port,
    security: 'none',
    username: 'u',
    password: 'the-smtp-password',
  })

  it('never logs API keys or SMTP passwords', async () => {
    const key = randomBytes(32).toString('base64')
    const app = await makeApp({ OUTBOUND_SECRET_KEY: key })
    await app.inject({ method: 'POST', url: '/v1/emails', payload: valid, headers: bearer(SENDER) })
    await app.inject({
      method: 'POST',
      url: '/v1/servers',
      headers: bearer(ADMIN),
      payload: serverWithPassword(),
    })
    await app.inject({
      method: 'GET',
      url: '/v1/servers',
      headers: bearer('wrong-secret-0123456789'),
    })
    const everything = h.logged.join('\n')
    expect(h.logged.length).toBeGreaterThan(3)
    for (const secret of [SENDER, ADMIN, 'wrong-secret-0123456789', 'the-smtp-password', key]) {
      expect(everything).not.toContain(secret)
    }
  })

  it('rotates OUTBOUND_SECRET_KEY: old passwords still work, then are resealed under the new key', async () => {
    const oldKey = randomBytes(32).toString('base64')
    const newKey = randomBytes(32).toString('base64')
    const before = await makeApp({ OUTBOUND_SECRET_KEY: oldKey })
    const created = await before.inject({
      method: 'POST',
      url: '/v1/servers',
      headers: bearer(ADMIN),
      payload: serverWithPassword(),
    })
    const { id } = created.json<{ id: string }>()
    const test = async (app: typeof before) =>
      (
        await app.inject({ method: 'POST', url: `/v1/servers/${id}/test`, headers: bearer(ADMIN) })
      ).json<{ ok: boolean; stage: string }>()

    const newOnly = await makeApp({ OUTBOUND_SECRET_KEY: newKey })
    expect(await test(newOnly)).toMatchObject({ ok: false, stage: 'auth' })

    const rotating = await makeApp({
      OUTBOUND_SECRET_KEY: newKey,
      OUTBOUND_SECRET_KEY_PREVIOUS: oldKey,
    })
    expect(await test(rotating)).toMatchObject({ ok: true })
    const resealed = await rotating.inject({
      method: 'POST',
      url: '/v1/servers/reseal',
      headers: bearer(ADMIN),
    })
    expect(resealed.json()).toEqual({ resealed: 1, unreadable: [] })
    expect(await test(newOnly)).toMatchObject({ ok: true })
  })
})
