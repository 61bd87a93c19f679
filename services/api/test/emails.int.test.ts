import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { createMessageStore } from '@outbound/store'
import { type App, ApiHarness } from './helpers/api-harness.js'

const h = new ApiHarness()
let app: App
const makeApp = (env: Record<string, string> = {}) => h.makeApp(env)

const valid = {
  from: '"Ann" <ann@shop.example>',
  to: ['bob@example.com'],
  subject: 'Your order',
  text: 'Thanks!',
}

async function send(body: unknown, headers: Record<string, string> = {}) {
  return await app.inject({ method: 'POST', url: '/v1/emails', payload: body as object, headers })
}

async function jobCount(): Promise<number> {
  const counts = await Promise.all(
    Object.values(h.queues).map((q) => q.getJobCountByTypes('waiting', 'delayed', 'prioritized')),
  )
  return counts.reduce((a, b) => a + b, 0)
}

async function messageKeyCount(): Promise<number> {
  return (await h.redis.keys(`${h.prefix}:{m*}:msg:*`)).length
}

beforeAll(() => h.beforeAll())
afterAll(() => h.afterAll())
beforeEach(async () => {
  await h.beforeEach()
  app = await makeApp()
})
afterEach(() => h.afterEach())

describe('POST /v1/emails', () => {
  it('answers 202 once the message and its job are in Redis', async () => {
    const response = await send({ ...valid, stream: 'mass' })
    expect(response.statusCode).toBe(202)
    const { id, status, stream } = response.json<{ id: string; status: string; stream: string }>()
    expect({ status, stream }).toEqual({ status: 'queued', stream: 'mass' })
    const job = await h.queues.mass.getJob(id)
    // The recipients' addresses travel with the job (the worker reads their suppressions with
    // its claim), in comparison form, with the list of the mass message.
    expect(job?.data).toEqual({ messageId: id, addresses: ['bob@example.com'], list: 'default' })
    expect(await h.queues.transactional.getJob(id)).toBeUndefined()

    const read = await app.inject({ method: 'GET', url: `/v1/emails/${id}` })
    expect(read.statusCode).toBe(200)
    expect(read.json()).toMatchObject({
      id,
      status: 'queued',
      stream: 'mass',
      from: '"Ann" <ann@shop.example>',
      to: ['bob@example.com'],
      subject: 'Your order',
      attempts: 0,
      sentAt: null,
      recipients: [{ address: 'bob@example.com', status: 'pending', smtpCode: null }],
      events: [{ type: 'queued' }],
    })
  })

  it.each([
    [
      'a from that is not one address',
      400,
      'INVALID_ADDRESS',
      { from: 'a@b.example, c@d.example' },
    ],
    ['a bad recipient', 400, 'INVALID_ADDRESS', { to: ['bob@example.com', 'not an address'] }],
    ['no recipients', 400, 'NO_RECIPIENTS', { to: [] }],
    [
      '51 recipients',
      400,
      'TOO_MANY_RECIPIENTS',
      { to: Array.from({ length: 51 }, (_, i) => `r${i}@example.com`) },
    ],
    ['CR/LF in the subject', 400, 'INVALID_HEADER', { subject: 'Hi\r\nBcc: victim@example.com' }],
    [
      'CR/LF in a header value',
      400,
      'INVALID_HEADER',
      { headers: { 'X-Tag': 'a\r\nBcc: victim@example.com' } },
    ],
    ['a header name that is not a token', 400, 'INVALID_HEADER', { headers: { 'X Tag': 'a' } }],
    ['an owned header', 400, 'HEADER_NOT_ALLOWED', { headers: { 'Message-ID': '<x@y>' } }],
    [
      'an owned Content- header',
      400,
      'HEADER_NOT_ALLOWED',
      { headers: { 'content-type': 'text/plain' } },
    ],
    ['no body', 400, 'MISSING_BODY', { text: undefined }],
    ['a 999-character subject', 400, 'SUBJECT_TOO_LONG', { subject: 'x'.repeat(999) }],
    [
      'invalid base64',
      400,
      'INVALID_ATTACHMENT',
      { attachments: [{ filename: 'a.txt', content: 'not*base64' }] },
    ],
    [
      'a filename with a newline',
      400,
      'INVALID_ATTACHMENT',
      { attachments: [{ filename: 'a\n.txt', content: 'aGk=' }] },
    ],
    [
      'a filename with a right-to-left override',
      400,
      'INVALID_ATTACHMENT',
      { attachments: [{ filename: 'invoice\u202egpj.exe', content: 'aGk=' }] },
    ],
    ['a bad scheduledAt', 400, 'INVALID_SCHEDULED_AT', { scheduledAt: 'tomorrow' }],
    [
      'a scheduledAt without a zone',
      400,
      'INVALID_SCHEDULED_AT',
      { scheduledAt: '2030-01-01T10:00:00' },
    ],
    [
      'a scheduledAt 31 days ahead',
      400,
      'INVALID_SCHEDULED_AT',
      { scheduledAt: new Date(Date.now() + 31 * 86_400_000).toISOString() },
    ],
    ['an unknown stream', 400, 'INVALID_STREAM', { stream: 'bulk' }],
    ['an unknown field', 400, 'VALIDATION_FAILED', { priority: 'high' }],
    ['an unknown server', 422, 'UNKNOWN_SERVER', { serverId: 'srv_1' }],
    ['an unknown company', 422, 'UNKNOWN_COMPANY', { companyId: 'co_1' }],
  ])('refuses %s with %i %s and enqueues nothing', async (_what, statusCode, code, change) => {
    const response = await send({ ...valid, ...change })
    expect(response.statusCode).toBe(statusCode)
    expect(response.json()).toMatchObject({
      statusCode,
      code,
      error: expect.any(String),
      message: expect.any(String),
    })
    expect(await jobCount()).toBe(0)
    expect(await messageKeyCount()).toBe(0)
  })

  it('refuses attachments over the size limit with 413 PAYLOAD_TOO_LARGE', async () => {
    app = await makeApp({ MAX_ATTACHMENT_BYTES: '1000' })
    const content = Buffer.alloc(1001, 1).toString('base64')
    const response = await send({ ...valid, attachments: [{ filename: 'big.bin', content }] })
    expect(response.statusCode).toBe(413)
    expect(response.json()).toMatchObject({ code: 'PAYLOAD_TOO_LARGE' })
  })

  // The base64 check was a regex over the whole payload: above ~3.1 MiB it overflowed the stack (500).
  it('accepts and stores a 9.5 MiB attachment, and refuses an 11 MiB one with 413', async () => {
    const bytes = Buffer.alloc(9.5 * 1024 * 1024)
    for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 7919) % 251
    const attachment = { filename: 'scan.pdf', contentType: 'application/pdf' }
    const response = await send({
      ...valid,
      attachments: [{ ...attachment, content: bytes.toString('base64') }],
    })
    expect(response.statusCode).toBe(202)
    const { id } = response.json<{ id: string }>()
    expect((await h.queues.transactional.getJob(id))?.data).toEqual({
      messageId: id,
      addresses: ['bob@example.com'],
    })
    const stored = await createMessageStore(h.redis, h.prefix).getMessageContent(id)
    const [first] = stored?.attachments ?? []
    expect(first?.filename).toBe('scan.pdf')
    expect(Buffer.from(first?.content ?? '', 'base64').equals(bytes)).toBe(true)

    const tooBig = await send({
      ...valid,
      attachments: [{ ...attachment, content: Buffer.alloc(11 * 1024 * 1024).toString('base64') }],
    })
    expect(tooBig.statusCode).toBe(413)
    expect(tooBig.json()).toMatchObject({
      code: 'PAYLOAD_TOO_LARGE',
      details: { field: 'attachments', limitBytes: 10 * 1024 * 1024 },
    })
  })

  it('refuses a body that is not JSON', async () => {
    const response = await app.inject({
      method: 'POST',
      url: '/v1/emails',
      payload: '{"from":',
      headers: { 'content-type': 'application/json' },
    })
    expect(response.statusCode).toBe(400)
    expect(response.json()).toMatchObject({ code: 'INVALID_JSON' })
  })
})

describe('Idempotency-Key', () => {
  it('answers a repeat with the first answer and enqueues one job', async () => {
    const first = await send(valid, { 'idempotency-key': 'order-42' })
    const second = await send(valid, { 'idempotency-key': 'order-42' })
    expect(second.statusCode).toBe(202)
    expect(second.json()).toEqual(first.json())
    expect(await jobCount()).toBe(1)
  })

  it('answers 409 IDEMPOTENCY_CONFLICT for the same key with another body', async () => {
    await send(valid, { 'idempotency-key': 'order-43' })
    const response = await send({ ...valid, subject: 'Changed' }, { 'idempotency-key': 'order-43' })
    expect(response.statusCode).toBe(409)
    expect(response.json()).toMatchObject({ code: 'IDEMPOTENCY_CONFLICT' })
    expect(await jobCount()).toBe(1)
  })

  it('makes one message and one job of 20 concurrent identical requests', async () => {
    const responses = await Promise.all(
      Array.from({ length: 20 }, () => send(valid, { 'idempotency-key': 'burst-1' })),
    )
    expect(responses.map((r) => r.statusCode)).toEqual(Array(20).fill(202))
    expect(new Set(responses.map((r) => r.json<{ id: string }>().id)).size).toBe(1)
    expect(await jobCount()).toBe(1)
    expect(await h.redis.keys(`${h.prefix}:{m*}:msg:*:events`)).toHaveLength(1)
  })

  it('refuses a key longer than 256 characters', async () => {
    const response = await send(valid, { 'idempotency-key': 'k'.repeat(257) })
    expect(response.statusCode).toBe(400)
    expect(response.json()).toMatchObject({ code: 'INVALID_IDEMPOTENCY_KEY' })
  })
})

describe('scheduled messages and DELETE /v1/emails/:id', () => {
  it('schedules a delayed job and cancels it', async () => {
    const at = new Date(Date.now() + 3_600_000)
    const response = await send({ ...valid, scheduledAt: at.toISOString() })
    expect(response.json()).toMatchObject({ status: 'scheduled' })
    const { id } = response.json<{ id: string }>()
    const job = await h.queues.transactional.getJob(id)
    expect(await job?.getState()).toBe('delayed')
    expect(job?.opts.delay).toBeGreaterThan(3_500_000)

    const canceled = await app.inject({ method: 'DELETE', url: `/v1/emails/${id}` })
    expect(canceled.statusCode).toBe(200)
    expect(canceled.json()).toEqual({ id, status: 'canceled' })
    expect(await h.queues.transactional.getJob(id)).toBeUndefined()
    const read = await app.inject({ method: 'GET', url: `/v1/emails/${id}` })
    expect(read.json()).toMatchObject({ status: 'canceled', scheduledAt: at.toISOString() })
    expect(read.json<{ events: { type: string }[] }>().events.map((e) => e.type)).toEqual([
      'scheduled',
      'canceled',
    ])

    const again = await app.inject({ method: 'DELETE', url: `/v1/emails/${id}` })
    expect(again.statusCode).toBe(409)
    expect(again.json()).toMatchObject({ code: 'NOT_CANCELLABLE', details: { status: 'canceled' } })
  })

  it('answers 404 MESSAGE_NOT_FOUND for an unknown id', async () => {
    for (const method of ['GET', 'DELETE'] as const) {
      const response = await app.inject({ method, url: '/v1/emails/msg_nope' })
      expect(response.statusCode).toBe(404)
      expect(response.json()).toMatchObject({ code: 'MESSAGE_NOT_FOUND' })
    }
  })
})

describe('POST /v1/emails/batch', () => {
  it('accepts the valid items, answers in input order, and enqueues only those', async () => {
    const response = await app.inject({
      method: 'POST',
      url: '/v1/emails/batch',
      payload: {
        emails: [valid, { ...valid, from: 'nope' }, { ...valid, stream: 'mass' }, { subject: 1 }],
      },
    })
    expect(response.statusCode).toBe(202)
    const { results } = response.json<{ results: Record<string, unknown>[] }>()
    expect(results).toMatchObject([
      { status: 'queued', stream: 'transactional' },
      { error: { code: 'INVALID_ADDRESS', statusCode: 400 } },
      { status: 'queued', stream: 'mass' },
      { error: { code: 'VALIDATION_FAILED' } },
    ])
    expect(await jobCount()).toBe(2)
  })

  it('refuses an empty batch and one over 1000', async () => {
    for (const emails of [[], Array(1001).fill(valid)]) {
      const response = await app.inject({
        method: 'POST',
        url: '/v1/emails/batch',
        payload: { emails },
      })
      expect(response.json()).toMatchObject({ statusCode: 400, code: 'BATCH_TOO_LARGE' })
    }
    expect(await jobCount()).toBe(0)
  })
})

describe('API keys', () => {
  const keys = 'sender:send:sender-secret-0123456789,reader:read:reader-secret-0123456789'

  it('answers 401 without a key, 403 without the scope, and serves a key with it', async () => {
    app = await makeApp({ OUTBOUND_API_KEYS: keys })
    expect((await send(valid)).json()).toMatchObject({ statusCode: 401, code: 'UNAUTHORIZED' })
    expect(
      (await send(valid, { authorization: 'Bearer wrong-secret-0123456789' })).statusCode,
    ).toBe(401)
    const forbidden = await send(valid, { authorization: 'Bearer reader-secret-0123456789' })
    expect(forbidden.json()).toMatchObject({ statusCode: 403, code: 'FORBIDDEN' })
    const ok = await send(valid, { authorization: 'Bearer sender-secret-0123456789' })
    expect(ok.statusCode).toBe(202)
    const { id } = ok.json<{ id: string }>()
    const read = await app.inject({
      method: 'GET',
      url: `/v1/emails/${id}`,
      headers: { authorization: 'Bearer reader-secret-0123456789' },
    })
    expect(read.statusCode).toBe(200)
    expect((await app.inject({ method: 'GET', url: '/health' })).statusCode).toBe(200)
  })

  it('scopes idempotency keys to the API key', async () => {
    app = await makeApp({ OUTBOUND_API_KEYS: `${keys},other:send:other-secret-0123456789` })
    const a = await send(valid, {
      authorization: 'Bearer sender-secret-0123456789',
      'idempotency-key': 'k1',
    })
    const b = await send(valid, {
      authorization: 'Bearer other-secret-0123456789',
      'idempotency-key': 'k1',
    })
    expect(a.json<{ id: string }>().id).not.toBe(b.json<{ id: string }>().id)
  })
})

describe('the dashboard at /admin/queues', () => {
  const keys = 'sender:send:sender-secret-0123456789,ops:admin+read:admin-secret-0123456789'
  const basic = (secret: string) => `Basic ${Buffer.from(`any-user:${secret}`).toString('base64')}`

  it('asks a browser for the admin key, refuses a send-only key, and serves the UI with it', async () => {
    app = await makeApp({ OUTBOUND_API_KEYS: keys })
    const anonymous = await app.inject({ method: 'GET', url: '/admin/queues' })
    expect(anonymous.statusCode).toBe(401)
    expect(anonymous.headers['www-authenticate']).toMatch(/^Basic realm="Outbound"/)
    for (const authorization of [
      basic('sender-secret-0123456789'),
      'Bearer sender-secret-0123456789',
    ]) {
      const forbidden = await app.inject({
        method: 'GET',
        url: '/admin/queues',
        headers: { authorization },
      })
      expect(forbidden.json()).toMatchObject({ statusCode: 403, code: 'FORBIDDEN' })
    }
    const ui = await app.inject({
      method: 'GET',
      url: '/admin/queues',
      headers: { authorization: basic('admin-secret-0123456789') },
    })
    expect(ui.statusCode).toBe(200)
    expect(ui.headers['content-type']).toContain('text/html')
  })

  it('lists the mail queues and the webhooks queue, with job ids equal to message ids, read-only by default', async () => {
    app = await makeApp({ OUTBOUND_API_KEYS: keys })
    const sent = await send(valid, { authorization: 'Bearer sender-secret-0123456789' })
    const { id } = sent.json<{ id: string }>()
    const response = await app.inject({
      method: 'GET',
      url: '/admin/queues/api/queues?activeQueue=transactional&status=latest&page=1',
      headers: { authorization: 'Bearer admin-secret-0123456789' },
    })
    expect(response.statusCode).toBe(200)
    const body = response.json<{
      queues: { name: string; readOnlyMode: boolean; jobs: { id: string }[] }[]
    }>()
    expect(body.queues.map((q) => q.name).sort()).toEqual(['mass', 'transactional', 'webhooks'])
    const transactional = body.queues.find((q) => q.name === 'transactional')
    expect(transactional?.readOnlyMode).toBe(true)
    expect(transactional?.jobs.map((job) => job.id)).toContain(id)
  })
})

describe('operations', () => {
  it('serves /health, /ready, the OpenAPI document and Swagger UI', async () => {
    expect((await app.inject({ method: 'GET', url: '/health' })).json()).toEqual({ status: 'ok' })
    expect((await app.inject({ method: 'GET', url: '/ready' })).json()).toMatchObject({
      status: 'ready',
    })
    const spec = (await app.inject({ method: 'GET', url: '/docs/json' })).json<{
      paths: Record<string, object>
    }>()
    expect(Object.keys(spec.paths)).toEqual(
      expect.arrayContaining([
        '/v1/emails',
        '/v1/emails/batch',
        '/v1/emails/{id}',
        '/v1/emails/{id}/raw',
        '/v1/emails/{id}/retry',
        '/v1/servers',
        '/v1/servers/{id}',
        '/v1/servers/{id}/test',
        '/v1/alias-domains',
        '/v1/alias-domains/{id}',
        '/v1/alias-domains/{id}/dkim',
        '/v1/alias-domains/{id}/dkim/{selector}',
        '/v1/alias-domains/{id}/dns',
        '/v1/companies',
        '/v1/companies/{id}',
        '/v1/settings',
        '/v1/quota',
        '/v1/bounces',
        '/v1/bounces/inbound',
        '/v1/suppressions',
        '/v1/suppressions/{address}',
        '/v1/webhooks',
        '/v1/webhooks/{id}',
        '/v1/webhooks/{id}/rotate-secret',
        '/v1/webhooks/{id}/test',
        '/v1/webhooks/{id}/deliveries',
        '/v1/webhooks/{id}/deliveries/{eventId}/retry',
        '/metrics',
        '/health',
        '/ready',
      ]),
    )
    const servers = spec.paths['/v1/servers'] as { post?: { requestBody?: unknown } }
    expect(JSON.stringify(servers.post?.requestBody)).toContain('fromFilter')
    const ui = await app.inject({ method: 'GET', url: '/docs/' })
    expect(ui.statusCode).toBe(200)
    expect(ui.headers['content-type']).toContain('text/html')
  })

  it('reports queue depth and the oldest waiting job in /metrics', async () => {
    await send(valid)
    await send({ ...valid, stream: 'mass' })
    await send({ ...valid, scheduledAt: new Date(Date.now() + 3_600_000).toISOString() })
    const text = (await app.inject({ method: 'GET', url: '/metrics' })).body
    expect(text).toContain('outbound_queue_jobs{queue="transactional",state="waiting"} 1')
    expect(text).toContain('outbound_queue_jobs{queue="transactional",state="delayed"} 1')
    expect(text).toContain('outbound_queue_jobs{queue="mass",state="waiting"} 1')
    expect(text).toMatch(/outbound_queue_oldest_waiting_seconds\{queue="transactional"\} \d/)
    expect(text).toContain('outbound_quota_used{server="default"} 0')
  })

  it('answers 404 NOT_FOUND for an unknown route', async () => {
    const response = await app.inject({ method: 'GET', url: '/v2/nothing' })
    expect(response.json()).toMatchObject({ statusCode: 404, code: 'NOT_FOUND' })
  })
})
