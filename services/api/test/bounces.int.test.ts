import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { createMessageStore } from '@outbound/store'
import { type App, ApiHarness } from './helpers/api-harness.js'

const h = new ApiHarness()
let app: App
const fixtures = join(import.meta.dirname, '../../../packages/bounce/test/fixtures')

beforeAll(() => h.beforeAll())
afterAll(() => h.afterAll())
beforeEach(async () => {
  await h.beforeEach()
  app = await h.makeApp()
})
afterEach(() => h.afterEach())

const valid = { from: 'ann@shop.example', subject: 'Your order', text: 'x' }

async function sendAndMarkSent(to: string[]): Promise<string> {
  const accepted = await app.inject({
    method: 'POST',
    url: '/v1/emails',
    payload: { ...valid, to },
  })
  const { id } = accepted.json<{ id: string }>()
  // What a worker does when the server accepted the message (no worker runs in these tests).
  const store = createMessageStore(h.redis, h.prefix)
  await store.claimMessage(id, 'token', new Date())
  await store.commitHandoff(id, 'token', new Date())
  const record = await store.getMessage(id)
  await store.recordOutcome(
    id,
    'token',
    {
      status: 'sent',
      sentAt: new Date(),
      smtpResponse: '250 ok',
      recipients: (record?.recipients ?? []).map((r) => ({ ...r, status: 'sent', smtpCode: 250 })),
      event: { type: 'sent', detail: '250 ok' },
    },
    new Date(),
  )
  return id
}

/** A Postfix DSN for `address` about message `id`. */
function postfixBounce(address: string, id: string): string {
  return readFileSync(join(fixtures, 'postfix.eml'), 'utf8')
    .replaceAll('nobody@customer.example', address)
    .replaceAll('msg_01POSTFIXFIXTURE000000000', id)
}

async function inbound(raw: string) {
  return await app.inject({
    method: 'POST',
    url: '/v1/bounces/inbound',
    payload: raw,
    headers: { 'content-type': 'message/rfc822' },
  })
}

describe('POST /v1/bounces/inbound', () => {
  it('turns a sent recipient into bounced on a late DSN, records a hard bounce and suppresses the address', async () => {
    const id = await sendAndMarkSent(['nobody@customer.example'])
    const response = await inbound(postfixBounce('nobody@customer.example', id))
    expect(response.statusCode).toBe(202)
    expect(response.json()).toMatchObject({
      bounces: [
        {
          messageId: id,
          recipient: 'nobody@customer.example',
          kind: 'hard',
          source: 'dsn',
          reason: 'user_unknown',
          enhancedCode: '5.1.1',
        },
      ],
    })
    const message = (await app.inject({ method: 'GET', url: `/v1/emails/${id}` })).json<{
      status: string
      recipients: { status: string; enhancedCode: string }[]
      events: { type: string }[]
    }>()
    expect(message.status).toBe('bounced')
    expect(message.recipients[0]).toMatchObject({ status: 'bounced', enhancedCode: '5.1.1' })
    expect(message.events.at(-1)?.type).toBe('bounced')
    const suppressions = (await app.inject({ method: 'GET', url: '/v1/suppressions' })).json<
      { address: string; reason: string }[]
    >()
    expect(suppressions).toMatchObject([
      { address: 'nobody@customer.example', reason: 'hard bounce' },
    ])
  })

  it('keeps a message sent when only one of its recipients bounces', async () => {
    const id = await sendAndMarkSent(['ok@customer.example', 'nobody@customer.example'])
    await inbound(postfixBounce('nobody@customer.example', id))
    const message = (await app.inject({ method: 'GET', url: `/v1/emails/${id}` })).json<{
      status: string
      recipients: { status: string }[]
    }>()
    expect(message.status).toBe('sent')
    expect(message.recipients.map((r) => r.status)).toEqual(['sent', 'bounced'])
  })

  it('records a bounce for mail it did not send against the address alone', async () => {
    const response = await inbound(readFileSync(join(fixtures, 'gmail.eml'), 'utf8'))
    expect(response.json()).toMatchObject({
      bounces: [{ messageId: null, recipient: 'no.such.person@gmail.com', kind: 'hard' }],
    })
  })

  it('records a delay notification as soft, without touching the message', async () => {
    const raw = readFileSync(join(fixtures, 'postfix-delayed.eml'), 'utf8')
    const response = await inbound(raw)
    expect(response.json()).toMatchObject({
      bounces: [{ kind: 'soft', permanent: false, recipient: 'slow@busy.example' }],
    })
    expect((await app.inject({ method: 'GET', url: '/v1/suppressions' })).json()).toEqual([])
  })

  it('answers 422 NOT_A_BOUNCE for an automatic reply, and keeps it for inspection', async () => {
    const response = await inbound(readFileSync(join(fixtures, 'out-of-office.eml'), 'utf8'))
    expect(response.json()).toMatchObject({ statusCode: 422, code: 'NOT_A_BOUNCE' })
    expect(await h.redis.llen(`${h.prefix}:{bounces}:not-bounces`)).toBe(1)
  })
})

describe('GET /v1/bounces', () => {
  it('filters by recipient, message and kind', async () => {
    const id = await sendAndMarkSent(['nobody@customer.example'])
    await inbound(postfixBounce('nobody@customer.example', id))
    await inbound(readFileSync(join(fixtures, 'postfix-delayed.eml'), 'utf8'))
    const all = (await app.inject({ method: 'GET', url: '/v1/bounces' })).json<unknown[]>()
    expect(all).toHaveLength(2)
    expect(
      (await app.inject({ method: 'GET', url: '/v1/bounces?kind=soft' })).json(),
    ).toMatchObject([{ recipient: 'slow@busy.example' }])
    expect(
      (await app.inject({ method: 'GET', url: `/v1/bounces?messageId=${id}` })).json(),
    ).toMatchObject([{ recipient: 'nobody@customer.example' }])
    expect(
      (
        await app.inject({ method: 'GET', url: '/v1/bounces?recipient=NOBODY@customer.example' })
      ).json(),
    ).toHaveLength(1)
    const counts = await app.inject({
      method: 'GET',
      url: '/v1/bounces/counts?recipient=nobody@customer.example',
    })
    expect(counts.json()).toMatchObject({
      recipient: 'nobody@customer.example',
      hard: 1,
      soft: 0,
      total: 1,
      suppressed: true,
    })
    expect(
      (
        await app.inject({
          method: 'GET',
          url: `/v1/bounces?since=${new Date(Date.now() + 60_000).toISOString()}`,
        })
      ).json(),
    ).toEqual([])
  })
})

describe('/v1/suppressions and sending', () => {
  it('refuses a request whose recipients are all suppressed, naming them, and marks partly suppressed ones', async () => {
    const added = await app.inject({
      method: 'POST',
      url: '/v1/suppressions',
      payload: { address: 'Blocked@Example.com', reason: 'asked to stop' },
    })
    expect(added.statusCode).toBe(201)
    expect(added.json()).toMatchObject({
      address: 'blocked@example.com',
      reason: 'asked to stop',
      source: 'manual',
    })

    const refused = await app.inject({
      method: 'POST',
      url: '/v1/emails',
      payload: { ...valid, to: ['blocked@example.com'] },
    })
    expect(refused.json()).toMatchObject({
      statusCode: 422,
      code: 'RECIPIENT_SUPPRESSED',
      details: { recipients: ['blocked@example.com'] },
    })

    const partly = await app.inject({
      method: 'POST',
      url: '/v1/emails',
      payload: { ...valid, to: ['blocked@example.com', 'ok@example.com'] },
    })
    expect(partly.statusCode).toBe(202)
    const { id } = partly.json<{ id: string }>()
    const message = (await app.inject({ method: 'GET', url: `/v1/emails/${id}` })).json<{
      recipients: { address: string; status: string }[]
    }>()
    expect(message.recipients.map((r) => r.status)).toEqual(['suppressed', 'pending'])

    // Listed a page at a time (newest first) until it is removed.
    await app.inject({ method: 'POST', url: '/v1/suppressions', payload: { address: 'x@y.test' } })
    const listed = async (query: string) =>
      (await app.inject({ method: 'GET', url: `/v1/suppressions?${query}` }))
        .json<{ address: string }[]>()
        .map((s) => s.address)
    const pages = [...(await listed('limit=1')), ...(await listed('limit=1&offset=1'))]
    expect(pages.sort()).toEqual(['blocked@example.com', 'x@y.test'])
    expect(await listed('limit=1&offset=2')).toEqual([])

    expect(
      (await app.inject({ method: 'DELETE', url: '/v1/suppressions/blocked%40example.com' }))
        .statusCode,
    ).toBe(204)
    expect(await listed('limit=10')).toEqual(['x@y.test'])
    expect(
      (
        await app.inject({ method: 'DELETE', url: '/v1/suppressions/blocked%40example.com' })
      ).json(),
    ).toMatchObject({ code: 'SUPPRESSION_NOT_FOUND' })
    expect(
      (
        await app.inject({
          method: 'POST',
          url: '/v1/emails',
          payload: { ...valid, to: ['blocked@example.com'] },
        })
      ).statusCode,
    ).toBe(202)
  })
})
