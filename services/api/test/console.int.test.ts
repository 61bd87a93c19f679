import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { type App, ApiHarness } from './helpers/api-harness.js'

// The console's session: a key typed in once, held in an HttpOnly cookie that /v1 accepts with the
// key's scopes; changes only from the console's own page. And its pages: every deep link.
const h = new ApiHarness()
const ADMIN = 'admin-secret-0123456789'
const READER = 'reader-secret-0123456789'
const SENDER = 'sender-secret-0123456789'
const KEYS = `ops:read+send+admin:${ADMIN},viewer:read:${READER},app:send:${SENDER}`
const HOST = 'console.test:3000'
let dir = ''
let app: App

beforeAll(async () => {
  await h.beforeAll()
  dir = mkdtempSync(join(tmpdir(), 'outbound-console-'))
  mkdirSync(join(dir, 'assets'))
  writeFileSync(join(dir, 'index.html'), '<!doctype html><div id="app"></div>')
  writeFileSync(join(dir, 'assets', 'index-abc.js'), 'console.log(1)')
})
afterAll(async () => {
  rmSync(dir, { recursive: true, force: true })
  await h.afterAll()
})
beforeEach(async () => {
  await h.beforeEach()
  app = await h.makeApp({ OUTBOUND_API_KEYS: KEYS }, { consoleDir: dir })
})
afterEach(() => h.afterEach())

const consoleHeaders = { host: HOST, origin: `http://${HOST}`, 'x-outbound-console': '1' }

async function signIn(key: string): Promise<string> {
  const response = await app.inject({
    method: 'POST',
    url: '/console/session',
    headers: consoleHeaders,
    payload: { key },
  })
  expect(response.statusCode, response.body).toBe(200)
  const setCookie = String(response.headers['set-cookie'])
  expect(setCookie).toMatch(
    /^outbound_console=v1\.[^;]+; Path=\/; Max-Age=43200; HttpOnly; SameSite=Strict$/,
  )
  return setCookie.split(';')[0] ?? ''
}

describe('the console session', () => {
  it('holds a key in a cookie that /v1 accepts with the same scopes, and never shows the secret', async () => {
    const cookie = await signIn(ADMIN)
    expect(cookie).not.toContain(ADMIN)
    expect(cookie).not.toContain(Buffer.from(ADMIN).toString('base64url'))
    const session = await app.inject({
      method: 'GET',
      url: '/console/session',
      headers: { cookie },
    })
    expect(session.json()).toEqual({
      authRequired: true,
      signedIn: true,
      name: 'ops',
      scopes: ['read', 'send', 'admin'],
    })
    const quota = await app.inject({ method: 'GET', url: '/v1/quota', headers: { cookie } })
    expect(quota.statusCode).toBe(200)
    const added = await app.inject({
      method: 'POST',
      url: '/v1/suppressions',
      headers: { ...consoleHeaders, cookie },
      payload: { address: 'gone@example.com' },
    })
    expect(added.statusCode, added.body).toBe(201)
    expect(h.logged.join('\n')).not.toContain(ADMIN)
    expect(h.logged.join('\n')).not.toContain(cookie.split('=')[1] ?? 'none')
  })

  it('gives a read key a session that reads and changes nothing', async () => {
    const cookie = await signIn(READER)
    expect(
      (await app.inject({ method: 'GET', url: '/v1/suppressions', headers: { cookie } }))
        .statusCode,
    ).toBe(200)
    const refused = await app.inject({
      method: 'POST',
      url: '/v1/suppressions',
      headers: { ...consoleHeaders, cookie },
      payload: { address: 'gone@example.com' },
    })
    expect(refused.statusCode).toBe(403)
    expect(refused.json()).toMatchObject({
      code: 'FORBIDDEN',
      message: expect.stringContaining('"admin"'),
    })
    expect(
      (await app.inject({ method: 'GET', url: '/v1/servers', headers: { cookie } })).statusCode,
    ).toBe(403)
  })

  it('refuses a key without the read scope, and a wrong key', async () => {
    const sender = await app.inject({
      method: 'POST',
      url: '/console/session',
      headers: consoleHeaders,
      payload: { key: SENDER },
    })
    expect(sender.statusCode).toBe(403)
    expect(sender.json()).toMatchObject({
      code: 'FORBIDDEN',
      message: expect.stringContaining('"read"'),
    })
    expect(sender.headers['set-cookie']).toBeUndefined()
    const wrong = await app.inject({
      method: 'POST',
      url: '/console/session',
      headers: consoleHeaders,
      payload: { key: 'nope' },
    })
    expect(wrong.statusCode).toBe(401)
    expect(wrong.json()).toMatchObject({ code: 'UNAUTHORIZED' })
  })

  it('refuses changes on a session from another page (no console header, or another Origin)', async () => {
    const cookie = await signIn(ADMIN)
    const change = (headers: Record<string, string>) =>
      app.inject({
        method: 'POST',
        url: '/v1/suppressions',
        headers: { host: HOST, cookie, ...headers },
        payload: { address: 'csrf@example.com' },
      })
    const withoutHeader = await change({ origin: `http://${HOST}` })
    expect(withoutHeader.statusCode).toBe(403)
    expect(withoutHeader.json()).toMatchObject({
      code: 'FORBIDDEN',
      message: expect.stringContaining('x-outbound-console'),
    })
    expect(
      (await change({ origin: 'http://evil.example', 'x-outbound-console': '1' })).statusCode,
    ).toBe(403)
    expect((await change({ origin: 'null', 'x-outbound-console': '1' })).statusCode).toBe(403)
    // Behind a proxy that rewrites Host: the browser's host comes as X-Forwarded-Host.
    const proxied = await app.inject({
      method: 'POST',
      url: '/v1/suppressions',
      headers: {
        host: '127.0.0.1:3000',
        'x-forwarded-host': 'mail.example.com',
        origin: 'https://mail.example.com',
        'x-outbound-console': '1',
        cookie,
      },
      payload: { address: 'proxied@example.com' },
    })
    expect(proxied.statusCode, proxied.body).toBe(201)
    const signInElsewhere = await app.inject({
      method: 'POST',
      url: '/console/session',
      headers: { host: HOST, origin: 'http://evil.example', 'x-outbound-console': '1' },
      payload: { key: ADMIN },
    })
    expect(signInElsewhere.statusCode).toBe(403)
    const list = await app.inject({ method: 'GET', url: '/v1/suppressions', headers: { cookie } })
    expect(list.json<{ address: string }[]>().map((s) => s.address)).toEqual([
      'proxied@example.com',
    ])
  })

  it('refuses a forged, altered or expired cookie, and one of a key no longer configured', async () => {
    const cookie = await signIn(READER)
    const [name, value = ''] = cookie.split('=')
    const parts = value.split('.')
    const asAdmin = [parts[0], Buffer.from('ops').toString('base64url'), parts[2], parts[3]].join(
      '.',
    )
    const later = [parts[0], parts[1], String(Number(parts[2]) + 3600), parts[3]].join('.')
    for (const forged of [asAdmin, later, `${value}x`, 'v1.b3Bz.9999999999.' + 'A'.repeat(43)]) {
      const response = await app.inject({
        method: 'GET',
        url: '/v1/quota',
        headers: { cookie: `${name}=${forged}` },
      })
      expect(response.statusCode, forged).toBe(401)
    }
    // Past its 12 hours.
    const lateApp = await h.makeApp(
      { OUTBOUND_API_KEYS: KEYS },
      { now: () => new Date(Date.now() + 12 * 3600_000 + 1000) },
    )
    expect(
      (await lateApp.inject({ method: 'GET', url: '/v1/quota', headers: { cookie } })).statusCode,
    ).toBe(401)
    const rotated = await h.makeApp({ OUTBOUND_API_KEYS: `viewer:read:${READER}-rotated` })
    expect(
      (await rotated.inject({ method: 'GET', url: '/v1/quota', headers: { cookie } })).statusCode,
    ).toBe(401)
  })

  it('signs out: the cookie is cleared', async () => {
    const out = await app.inject({ method: 'DELETE', url: '/console/session' })
    expect(out.statusCode).toBe(204)
    expect(String(out.headers['set-cookie'])).toMatch(
      /^outbound_console=; Path=\/; Max-Age=0; HttpOnly; SameSite=Strict$/,
    )
  })
})

describe('the console pages', () => {
  it('answers the app for every deep link, with a policy that keeps every request on this host', async () => {
    for (const url of [
      '/console',
      '/console/messages?status=bounced&tag=x',
      '/console/messages/msg_1',
      '/console/servers',
      '/console/activity',
      '/console/suppressions',
      '/console/webhooks',
    ]) {
      const page = await app.inject({ method: 'GET', url })
      expect(page.statusCode, url).toBe(200)
      expect(page.headers['content-type'], url).toMatch(/^text\/html/)
      expect(page.body).toContain('<div id="app">')
      expect(page.headers['content-security-policy']).toContain("default-src 'self'")
      expect(page.headers['content-security-policy']).toContain("connect-src 'self'")
      expect(page.headers['cache-control']).toBe('no-cache')
    }
    const asset = await app.inject({ method: 'GET', url: '/console/assets/index-abc.js' })
    expect(asset.statusCode).toBe(200)
    expect(asset.headers['cache-control']).toMatch(/immutable/)
    const missing = await app.inject({ method: 'GET', url: '/console/assets/nope.js' })
    expect(missing.statusCode).toBe(404)
  })

  it('describes the session routes in the OpenAPI document, and not the pages', async () => {
    const spec = (await app.inject({ method: 'GET', url: '/docs/json' })).json<{
      paths: Record<string, Record<string, { security?: unknown[]; tags?: string[] }>>
    }>()
    const session = spec.paths['/console/session']
    expect(Object.keys(session ?? {}).sort()).toEqual(['delete', 'get', 'post'])
    expect(session?.['post']?.security).toEqual([])
    expect(session?.['post']?.tags).toEqual(['console'])
    expect(
      Object.keys(spec.paths).filter(
        (path) => path.startsWith('/console/') && path !== '/console/session',
      ),
    ).toEqual([])
  })

  it('says so when the console is not built', async () => {
    const bare = await h.makeApp({}, { consoleDir: join(dir, 'nothing-here') })
    const page = await bare.inject({ method: 'GET', url: '/console/messages' })
    expect(page.statusCode).toBe(404)
    expect(page.json()).toMatchObject({
      code: 'NOT_FOUND',
      message: expect.stringContaining('pnpm build'),
    })
  })

  it('is open without keys (loopback only): the session says so and needs no cookie', async () => {
    const open = await h.makeApp({}, { consoleDir: dir })
    const session = await open.inject({ method: 'GET', url: '/console/session' })
    expect(session.json()).toEqual({
      authRequired: false,
      signedIn: true,
      name: null,
      scopes: ['send', 'read', 'admin'],
    })
  })
})
