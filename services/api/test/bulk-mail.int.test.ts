import { randomBytes } from 'node:crypto'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { makeUnsubscribeToken, unsubscribeKey } from '@outbound/secrets'
import { createBounceStore, createMessageStore } from '@outbound/store'
import { type App, ApiHarness } from './helpers/api-harness.js'

// The API half of bulk mail (CONTRACT.md, Bulk mail): the `list` field, one-click unsubscribe
// pages and their suppression and event, list and domain suppressions at the door, CSV.
const h = new ApiHarness()
let app: App
const secretKey = randomBytes(32)
const SEND_KEY = 'sender:send+read:sender-secret-0123456789'
const ADMIN_KEY = 'ops:admin+read:admin-secret-0123456789'
const env = {
  OUTBOUND_SECRET_KEY: secretKey.toString('base64'),
  PUBLIC_URL: 'https://mail.shop.example',
  // With keys configured: the unsubscribe routes must still need none.
  OUTBOUND_API_KEYS: `${SEND_KEY},${ADMIN_KEY}`,
}
const send = { authorization: 'Bearer sender-secret-0123456789' }
const admin = { authorization: 'Bearer admin-secret-0123456789' }

const email = {
  from: 'news@shop.example',
  to: 'bob@example.com',
  subject: 'This week',
  text: 'Hello',
}

beforeAll(() => h.beforeAll())
afterAll(() => h.afterAll())
beforeEach(async () => {
  await h.beforeEach()
  app = await h.makeApp(env)
})
afterEach(() => h.afterEach())

async function post(url: string, payload: object, headers = send) {
  return await app.inject({ method: 'POST', url, payload, headers })
}

async function read(id: string) {
  const response = await app.inject({ method: 'GET', url: `/v1/emails/${id}`, headers: send })
  return response.json<{
    list: string | null
    status: string
    recipients: { address: string; status: string; diagnostic: string | null }[]
  }>()
}

/** A token as the worker makes it for a message's one recipient. */
function tokenFor(messageId: string, address: string, list: string, key = secretKey) {
  return makeUnsubscribeToken(
    { messageId, recipientIndex: 0, list, domain: 'shop.example', address },
    unsubscribeKey(key),
  )
}

/** Every webhook event written under this test's prefix, from every shard's stream. */
async function events(type: string) {
  const keys = await h.redis.keys(`${h.prefix}:{m*}:events`)
  const entries = (await Promise.all(keys.map((key) => h.redis.xrange(key, '-', '+')))).flat()
  return entries
    .map(
      ([, fields]) =>
        JSON.parse(fields[1] ?? '{}') as { type: string; data: Record<string, unknown> },
    )
    .filter((event) => event.type === type)
}

const suppressionCount = async () => await h.redis.hlen(`${h.prefix}:{bounces}:suppressions`)

describe('the list field', () => {
  it('defaults to `default` on mass mail, is null on transactional, and is refused when malformed', async () => {
    const mass = await post('/v1/emails', { ...email, stream: 'mass' })
    expect(mass.statusCode).toBe(202)
    expect((await read(mass.json<{ id: string }>().id)).list).toBe('default')
    const named = await post('/v1/emails', { ...email, stream: 'mass', list: 'weekly.news_2-x' })
    expect((await read(named.json<{ id: string }>().id)).list).toBe('weekly.news_2-x')
    const transactional = await post('/v1/emails', { ...email, list: 'weekly' })
    expect((await read(transactional.json<{ id: string }>().id)).list).toBeNull()

    for (const list of ['', 'has space', 'ü', 'x'.repeat(101), 'a/b']) {
      const refused = await post('/v1/emails', { ...email, stream: 'mass', list })
      expect(refused.statusCode).toBe(400)
      expect(refused.json()).toMatchObject({ code: 'INVALID_LIST', details: { field: 'list' } })
    }
    const batch = await post('/v1/emails/batch', {
      emails: [
        { ...email, stream: 'mass', list: 'a' },
        { ...email, stream: 'mass', list: 'b c' },
      ],
    })
    const [first, second] = batch.json<{
      results: ({ id: string } | { error: { code: string } })[]
    }>().results
    expect(second).toMatchObject({ error: { code: 'INVALID_LIST' } })
    expect((await read((first as { id: string }).id)).list).toBe('a')
  })

  it('sends mass mail to one recipient, unless the caller gives its own List-Unsubscribe', async () => {
    const several = await post('/v1/emails', { ...email, stream: 'mass', cc: 'carol@example.com' })
    expect(several.statusCode).toBe(400)
    expect(several.json()).toMatchObject({ code: 'TOO_MANY_MASS_RECIPIENTS' })
    const own = await post('/v1/emails', {
      ...email,
      stream: 'mass',
      cc: 'carol@example.com',
      headers: {
        'List-Unsubscribe': '<mailto:leave@shop.example>, <https://shop.example/leave?u=1>',
        'List-Unsubscribe-Post': 'List-Unsubscribe=One-Click',
      },
    })
    expect(own.statusCode).toBe(202)
    expect((await post('/v1/emails', { ...email, cc: 'carol@example.com' })).statusCode).toBe(202)
  })
})

describe('one-click unsubscribe', () => {
  it('GET shows a page and never unsubscribes; POST unsubscribes once, with one event; no key needed', async () => {
    const accepted = await post('/v1/emails', { ...email, stream: 'mass', list: 'weekly' })
    const id = accepted.json<{ id: string }>().id
    const token = tokenFor(id, 'bob@example.com', 'weekly')
    expect(token).not.toMatch(/bob|example/)

    for (let i = 0; i < 3; i++) {
      const page = await app.inject({ method: 'GET', url: `/unsubscribe/${token}` })
      expect(page.statusCode).toBe(200)
      expect(page.headers['content-type']).toBe('text/html; charset=utf-8')
      expect(page.headers['content-security-policy']).toContain("default-src 'none'")
      expect(page.body).toContain('<form method="post">')
      expect(page.body).toContain('weekly')
      expect(page.body).toContain('shop.example')
      expect(page.body).not.toContain('bob')
      expect(page.body).not.toContain('<script')
    }
    expect(await suppressionCount()).toBe(0)
    expect(await events('email.unsubscribed')).toEqual([])

    // RFC 8058 §3.1: what a mailbox provider posts.
    const oneClick = {
      method: 'POST' as const,
      url: `/unsubscribe/${token}`,
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: 'List-Unsubscribe=One-Click',
    }
    const first = await app.inject(oneClick)
    expect(first.statusCode).toBe(200)
    expect(first.body).toContain('You are unsubscribed')
    const stored = await createBounceStore(h.redis, h.prefix).getSuppression(
      'bob@example.com',
      'weekly',
    )
    expect(stored).toMatchObject({ list: 'weekly', reason: 'unsubscribed', source: 'unsubscribe' })
    const [event, ...more] = await events('email.unsubscribed')
    expect(more).toEqual([])
    expect(event?.data).toMatchObject({
      messageId: id,
      recipient: 'bob@example.com',
      reason: 'unsubscribed from the list weekly',
      source: 'one-click',
      list: 'weekly',
      subject: 'This week',
    })

    const again = await app.inject(oneClick)
    expect(again.statusCode).toBe(200)
    // The page's form, and a bare POST: the same answer, nothing more written.
    const bare = await app.inject({ method: 'POST', url: `/unsubscribe/${token}` })
    expect(bare.statusCode).toBe(200)
    expect(await events('email.unsubscribed')).toHaveLength(1)
    expect(await suppressionCount()).toBe(1)
    const timeline = await createMessageStore(h.redis, h.prefix).getMessage(id)
    expect(timeline?.events.filter((e) => e.type === 'unsubscribed')).toHaveLength(1)
  })

  it('answers 404 for forged, truncated, foreign and unknown tokens, and changes nothing', async () => {
    const token = tokenFor('msg_x', 'bob@example.com', 'weekly')
    const raw = Buffer.from(token, 'base64url')
    raw[raw.length - 20] = (raw[raw.length - 20] ?? 0) ^ 0x40
    const bad = [
      token.slice(0, -1),
      token.slice(0, 30),
      raw.toString('base64url'),
      tokenFor('msg_x', 'bob@example.com', 'weekly', randomBytes(32)),
      'bob@example.com',
      'x'.repeat(2000),
    ]
    for (const candidate of bad) {
      for (const method of ['GET', 'POST'] as const) {
        const answer = await app.inject({
          method,
          url: `/unsubscribe/${encodeURIComponent(candidate)}`,
          ...(method === 'POST'
            ? {
                headers: { 'content-type': 'application/x-www-form-urlencoded' },
                payload: 'List-Unsubscribe=One-Click',
              }
            : {}),
        })
        expect(answer.statusCode).toBe(404)
        expect(answer.body).toContain('This link is not valid')
        expect(answer.body).not.toContain('weekly')
      }
    }
    expect(await suppressionCount()).toBe(0)
    expect(await events('email.unsubscribed')).toEqual([])
  })

  it('are rate-limited per client address', async () => {
    const token = tokenFor('msg_x', 'bob@example.com', 'weekly')
    const statuses: number[] = []
    // The page: 120 a minute per client address.
    for (let i = 0; i < 122; i++) {
      statuses.push((await app.inject({ method: 'GET', url: `/unsubscribe/${token}` })).statusCode)
    }
    expect(statuses.slice(0, 120).every((status) => status === 200)).toBe(true)
    expect(statuses.slice(120)).toEqual([429, 429])
    const limited = await app.inject({ method: 'GET', url: `/unsubscribe/${token}` })
    expect(limited.json()).toMatchObject({
      code: 'RATE_LIMITED',
      message: expect.stringContaining('from this address'),
    })
    expect(limited.headers['retry-after']).toBeDefined()
  })

  it('stops the next mail of that list only: another list and transactional mail still go', async () => {
    const first = await post('/v1/emails', { ...email, stream: 'mass', list: 'weekly' })
    await app.inject({
      method: 'POST',
      url: `/unsubscribe/${tokenFor(first.json<{ id: string }>().id, 'bob@example.com', 'weekly')}`,
    })
    const next = await post('/v1/emails', {
      ...email,
      stream: 'mass',
      list: 'weekly',
      to: 'Bob@Example.com',
    })
    // Accepted, not refused: the worker records it `suppressed` (DOMAIN.md §9).
    expect(next.statusCode).toBe(202)
    expect((await read(next.json<{ id: string }>().id)).recipients).toEqual([
      expect.objectContaining({
        status: 'suppressed',
        diagnostic: 'unsubscribed from the list weekly',
      }),
    ])
    for (const other of [{ stream: 'mass', list: 'offers' }, { stream: 'mass' }, {}]) {
      const sent = await post('/v1/emails', { ...email, ...other })
      expect(sent.statusCode).toBe(202)
      expect((await read(sent.json<{ id: string }>().id)).recipients[0]?.status).toBe('pending')
    }
  })
})

describe('suppressions with lists and domains', () => {
  it('takes list and *@domain entries; a domain entry stops every address at it', async () => {
    const domain = await post('/v1/suppressions', { address: '*@Gone.Example' }, admin)
    expect(domain.statusCode).toBe(201)
    expect(domain.json()).toMatchObject({ address: '*@gone.example', list: null })
    const listed = await post(
      '/v1/suppressions',
      { address: 'ann@example.com', list: 'weekly' },
      admin,
    )
    expect(listed.json()).toMatchObject({ address: 'ann@example.com', list: 'weekly' })
    expect(
      (await post('/v1/suppressions', { address: 'ann@example.com', list: 'weekly' }, admin))
        .statusCode,
    ).toBe(200)
    expect(
      (await post('/v1/suppressions', { address: 'a@b.example', list: 'no way' }, admin)).json(),
    ).toMatchObject({
      code: 'INVALID_LIST',
    })
    expect(
      (await post('/v1/suppressions', { address: '*@', list: null }, admin)).json(),
    ).toMatchObject({
      code: 'INVALID_ADDRESS',
    })

    const refused = await post('/v1/emails', { ...email, to: 'anyone@gone.example' })
    expect(refused.statusCode).toBe(422)
    expect(refused.json()).toMatchObject({ code: 'RECIPIENT_SUPPRESSED' })
    const partly = await post('/v1/emails', { ...email, to: ['x@gone.example', 'ann@example.com'] })
    expect((await read(partly.json<{ id: string }>().id)).recipients.map((r) => r.status)).toEqual([
      'suppressed',
      'pending',
    ])

    const removed = await app.inject({
      method: 'DELETE',
      url: '/v1/suppressions/ann@example.com?list=weekly',
      headers: admin,
    })
    expect(removed.statusCode).toBe(204)
    const gone = await app.inject({
      method: 'DELETE',
      url: '/v1/suppressions/ann@example.com',
      headers: admin,
    })
    expect(gone.statusCode).toBe(404)
  })

  it('imports CSV rows, refusing bad ones by line, and exports what it holds', async () => {
    const csv = [
      'address,reason,list',
      'one@example.com,asked by phone,',
      '"Two@Example.com","left, politely",weekly',
      'not an address,x,',
      '*@spam.example,,',
      'one@example.com,again,',
      'three@example.com,,bad list',
    ].join('\r\n')
    const imported = await app.inject({
      method: 'POST',
      url: '/v1/suppressions/import',
      headers: { ...admin, 'content-type': 'text/csv' },
      payload: csv,
    })
    expect(imported.statusCode).toBe(200)
    expect(imported.json()).toEqual({
      added: 3,
      existing: 1,
      refused: 2,
      errors: [
        { line: 4, message: expect.stringContaining('address') },
        { line: 7, message: expect.stringContaining('list') },
      ],
    })
    const exported = await app.inject({
      method: 'GET',
      url: '/v1/suppressions?format=csv',
      headers: admin,
    })
    expect(exported.headers['content-type']).toBe('text/csv; charset=utf-8')
    const lines = exported.body.trim().split('\n')
    expect(lines[0]).toBe('address,reason,list,source,createdAt')
    expect(lines.slice(1).sort()).toEqual([
      expect.stringMatching(/^\*@spam\.example,imported,,import,/),
      expect.stringMatching(/^one@example\.com,asked by phone,,import,/),
      expect.stringMatching(/^two@example\.com,"left, politely",weekly,import,/),
    ])

    const broken = await app.inject({
      method: 'POST',
      url: '/v1/suppressions/import',
      headers: { ...admin, 'content-type': 'text/csv' },
      payload: 'a@example.com,"unclosed\n',
    })
    expect(broken.statusCode).toBe(400)
    expect(broken.json()).toMatchObject({ code: 'INVALID_CSV' })
    const json = await app.inject({
      method: 'POST',
      url: '/v1/suppressions/import',
      headers: admin,
      payload: { address: 'a@example.com' },
    })
    expect(json.statusCode).toBe(415)
    const reader = await app.inject({
      method: 'POST',
      url: '/v1/suppressions/import',
      headers: { ...send, 'content-type': 'text/csv' },
      payload: 'a@example.com',
    })
    expect(reader.statusCode).toBe(403)
  })
})

describe('the OpenAPI document', () => {
  it('describes the unsubscribe pages, the import and the list field', async () => {
    const doc = (await app.inject({ method: 'GET', url: '/docs/json' })).json<{
      paths: Record<string, Record<string, { responses: Record<string, unknown> }>>
    }>()
    expect(Object.keys(doc.paths['/unsubscribe/{token}'] ?? {}).sort()).toEqual(['get', 'post'])
    expect(Object.keys(doc.paths['/unsubscribe/{token}']?.['post']?.responses ?? {})).toEqual(
      expect.arrayContaining(['200', '404', '429']),
    )
    expect(Object.keys(doc.paths['/v1/suppressions/import']?.['post']?.responses ?? {})).toEqual(
      expect.arrayContaining(['200', '400', '413', '415']),
    )
    expect(JSON.stringify(doc.paths['/v1/emails'])).toContain('"list"')
  })
})

describe('/ready', () => {
  it('says when PUBLIC_URL or OUTBOUND_SECRET_KEY is missing, and stays ready', async () => {
    expect((await app.inject({ method: 'GET', url: '/ready' })).json()).toEqual({ status: 'ready' })
    const bare = await h.makeApp({})
    const answer = (await bare.inject({ method: 'GET', url: '/ready' })).json<{
      status: string
      warnings: string[]
    }>()
    expect(answer.status).toBe('ready')
    expect(answer.warnings).toEqual([
      expect.stringContaining('PUBLIC_URL is not set'),
      expect.stringContaining('OUTBOUND_SECRET_KEY is not set'),
    ])
  })
})
