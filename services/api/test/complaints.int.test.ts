import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { parseComplaint } from '@outbound/bounce'
import { createKeys, createMessageStore, MESSAGE_SHARDS } from '@outbound/store'
import { type App, ApiHarness } from './helpers/api-harness.js'

const h = new ApiHarness()
let app: App
const arf = join(import.meta.dirname, '../../../packages/bounce/test/fixtures/arf')
const manifest = JSON.parse(readFileSync(join(arf, 'manifest.json'), 'utf8')) as {
  reports: { file: string; provider: string; feedbackType: string; recipient: string | null }[]
}
const SERVER = 'srv_fbl'

beforeAll(() => h.beforeAll())
afterAll(() => h.afterAll())
beforeEach(async () => {
  await h.beforeEach()
  app = await h.makeApp()
})
afterEach(() => h.afterEach())

/** Accepts a message and records it sent through SERVER, as a worker does (none runs here). */
async function sendAndMarkSent(to: string[]): Promise<string> {
  const accepted = await app.inject({
    method: 'POST',
    url: '/v1/emails',
    payload: { from: 'ann@shop.example', subject: 'News', text: 'x', to },
  })
  const { id } = accepted.json<{ id: string }>()
  const store = createMessageStore(h.redis, h.prefix)
  const at = new Date()
  await store.claimMessage(id, 'token', at)
  await store.commitHandoff(id, 'token', at)
  const record = await store.getMessage(id)
  await store.recordOutcome(
    id,
    'token',
    {
      status: 'sent',
      serverId: SERVER,
      sentAt: at,
      recipients: (record?.recipients ?? []).map((r) => ({ ...r, status: 'sent', smtpCode: 250 })),
      event: { type: 'sent', detail: '250 ok' },
      counts: { sent: to.length },
    },
    at,
  )
  return id
}

/** A real report whose original is made to name message `id` by its Message-ID. */
async function reportAbout(file: string, id: string): Promise<string> {
  const raw = readFileSync(join(arf, file))
  const original = (await parseComplaint(raw))?.originalMessageIdHeader
  if (original == null) throw new Error(`${file} quotes no Message-ID`)
  return raw.toString('utf8').replaceAll(original, `<${id}@shop.example>`)
}

async function inbound(raw: string | Buffer) {
  return await app.inject({
    method: 'POST',
    url: '/v1/bounces/inbound',
    payload: raw,
    headers: { 'content-type': 'message/rfc822' },
  })
}

/** Every event of every shard's stream. */
async function streamEvents(): Promise<{ type: string; data: Record<string, unknown> }[]> {
  const keys = createKeys(h.prefix)
  const events = []
  for (let shard = 0; shard < MESSAGE_SHARDS; shard += 1) {
    for (const [, fields] of await h.redis.xrange(keys.events(shard), '-', '+'))
      events.push(
        JSON.parse(fields[fields.indexOf('e') + 1] ?? '{}') as {
          type: string
          data: Record<string, unknown>
        },
      )
  }
  return events
}

describe('POST /v1/bounces/inbound with a feedback report', () => {
  it.each(manifest.reports.map((report) => [report.file, report] as const))(
    'records %s as a complaint about our message and its recipient',
    async (file, report) => {
      // A report that names no recipient falls back to the only recipient of our message.
      const recipient = report.recipient ?? 'only@customer.example'
      const id = await sendAndMarkSent([recipient])
      const response = await inbound(await reportAbout(file, id))
      expect(response.statusCode).toBe(202)
      expect(response.json()).toEqual({
        bounces: [],
        complaints: [
          {
            id: expect.stringMatching(/^cmp_/),
            messageId: id,
            recipient,
            feedbackType: report.feedbackType,
            serverId: SERVER,
            at: expect.any(String),
          },
        ],
      })
    },
  )

  it('suppresses the recipient for every mail, emits email.complained once and lists the complaint once', async () => {
    const id = await sendAndMarkSent(['reader@customer.example'])
    const report = await reportAbout('netease-auth-failure.eml', id)
    const raw = report.replaceAll('kijitora@example.org', 'reader@customer.example')
    const first = await inbound(raw)
    const again = await inbound(raw)
    expect(again.statusCode).toBe(202)
    expect(again.json()).toEqual(first.json())

    // The next transactional mail to that address is not sent to it.
    const refused = await app.inject({
      method: 'POST',
      url: '/v1/emails',
      payload: {
        from: 'ann@shop.example',
        subject: 'Receipt',
        text: 'x',
        to: ['reader@customer.example'],
      },
    })
    expect(refused.statusCode).toBe(422)
    expect(refused.json()).toMatchObject({ code: 'RECIPIENT_SUPPRESSED' })
    const mixed = await app.inject({
      method: 'POST',
      url: '/v1/emails',
      payload: {
        from: 'ann@shop.example',
        subject: 'Receipt',
        text: 'x',
        to: ['reader@customer.example', 'other@customer.example'],
      },
    })
    expect(mixed.statusCode).toBe(202)
    const record = await app.inject({
      method: 'GET',
      url: `/v1/emails/${mixed.json<{ id: string }>().id}`,
    })
    expect(record.json<{ recipients: { address: string; status: string }[] }>().recipients).toEqual(
      [
        expect.objectContaining({ address: 'reader@customer.example', status: 'suppressed' }),
        expect.objectContaining({ address: 'other@customer.example', status: 'pending' }),
      ],
    )
    const suppressions = await app.inject({ method: 'GET', url: '/v1/suppressions' })
    expect(suppressions.json()).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          address: 'reader@customer.example',
          reason: 'complaint',
          source: 'complaint',
        }),
      ]),
    )

    const complained = (await streamEvents()).filter((e) => e.type === 'email.complained')
    expect(complained).toHaveLength(1)
    expect(complained[0]?.data).toMatchObject({
      messageId: id,
      serverId: SERVER,
      recipient: 'reader@customer.example',
      kind: 'auth-failure',
      reason: 'complaint',
      source: 'feedback-loop',
      status: 'sent',
      subject: 'News',
    })
    const listed = await app.inject({ method: 'GET', url: '/v1/complaints' })
    expect(listed.json()).toEqual([first.json<{ complaints: unknown[] }>().complaints[0]])
    const message = await app.inject({ method: 'GET', url: `/v1/emails/${id}` })
    expect(message.json<{ events: { type: string }[] }>().events.map((e) => e.type)).toContain(
      'complained',
    )
  })

  it('moves the complaint-rate metric and warns once per threshold crossed', async () => {
    const id = await sendAndMarkSent(['a@customer.example'])
    await sendAndMarkSent(['b@customer.example', 'c@customer.example', 'd@customer.example'])
    const before = await app.inject({ method: 'GET', url: '/metrics' })
    expect(before.body).toContain(`outbound_complaint_rate_24h{server="${SERVER}"} 0\n`)
    const report = (await reportAbout('rfc5965-example.eml', id)).replaceAll(
      'user@example.com',
      'a@customer.example',
    )
    expect((await inbound(report)).statusCode).toBe(202)
    await inbound(report)
    const after = await app.inject({ method: 'GET', url: '/metrics' })
    expect(after.body).toContain(`outbound_complaint_rate_24h{server="${SERVER}"} 0.25\n`)
    // 1 in 4 is over both 0.1 % and 0.3 %: one warning per threshold, however often it is seen.
    const warnings = (await streamEvents()).filter((e) => e.type === 'reputation.warning')
    expect(warnings.map((e) => e.data)).toEqual([
      {
        serverId: SERVER,
        threshold: 0.001,
        rate: 0.25,
        complained: 1,
        delivered: 4,
        window: '24h',
      },
      {
        serverId: SERVER,
        threshold: 0.003,
        rate: 0.25,
        complained: 1,
        delivered: 4,
        window: '24h',
      },
    ])
    expect(
      h.logged.filter((line) => line.includes('complaint rate crossed a threshold')),
    ).toHaveLength(2)
    const stats = await app.inject({ method: 'GET', url: '/v1/stats?interval=hour' })
    expect(stats.json<{ complaintRate24h: unknown[] }>().complaintRate24h).toEqual([
      { serverId: SERVER, complained: 1, delivered: 4, rate: 0.25 },
    ])
  })

  it('records a complaint about mail it did not send against the address alone, without an event', async () => {
    const response = await inbound(readFileSync(join(arf, 'rfc5965-example.eml')))
    expect(response.statusCode).toBe(202)
    expect(response.json()).toMatchObject({
      complaints: [{ messageId: null, recipient: 'user@example.com', serverId: null }],
    })
    const suppression = await app.inject({
      method: 'GET',
      url: '/v1/bounces/counts?recipient=user@example.com',
    })
    expect(suppression.json()).toMatchObject({ suppressed: true })
    expect(await streamEvents()).toEqual([])
  })

  it('refuses a report that names no recipient about mail that is not ours', async () => {
    const response = await inbound(readFileSync(join(arf, 'terra-returnpath.eml')))
    expect(response.statusCode).toBe(422)
    expect(response.json()).toMatchObject({
      code: 'COMPLAINT_WITHOUT_RECIPIENT',
      message: expect.stringContaining('names no recipient'),
    })
  })
})

describe('GET /v1/complaints and GET /v1/stats', () => {
  it('are described in the OpenAPI document with their errors and examples', async () => {
    type Operation = {
      description?: string
      responses: Record<string, { content?: Record<string, { example?: unknown }> }>
    }
    const spec = (await app.inject({ method: 'GET', url: '/docs/json' })).json<{
      paths: Record<string, { get?: Operation; post?: Operation }>
    }>()
    const stats = spec.paths['/v1/stats']?.get
    expect(stats?.description).toContain('STATS_RANGE_TOO_LARGE')
    expect(Object.keys(stats?.responses ?? {})).toEqual(
      expect.arrayContaining(['200', '400', '401', '403']),
    )
    // A single schema example becomes the media type's `example`.
    expect(stats?.responses['200']?.content?.['application/json']?.example).toMatchObject({
      interval: 'day',
    })
    expect(spec.paths['/v1/complaints']?.get?.responses['200']).toBeDefined()
    expect(spec.paths['/v1/bounces/inbound']?.post?.description).toContain(
      'COMPLAINT_WITHOUT_RECIPIENT',
    )
  })

  it('need the read scope', async () => {
    app = await h.makeApp({
      OUTBOUND_API_KEYS: 'app:send:send-secret-0123456789,ops:read:read-secret-0123456789',
    })
    for (const url of ['/v1/complaints', '/v1/stats']) {
      const sendOnly = await app.inject({
        method: 'GET',
        url,
        headers: { authorization: 'Bearer send-secret-0123456789' },
      })
      expect(sendOnly.statusCode).toBe(403)
      const reader = await app.inject({
        method: 'GET',
        url,
        headers: { authorization: 'Bearer read-secret-0123456789' },
      })
      expect(reader.statusCode).toBe(200)
    }
  })

  it('answers every bucket of the range, and refuses ranges that are too long or reversed', async () => {
    const day = await app.inject({
      method: 'GET',
      url: '/v1/stats?interval=day&since=2026-11-01T00:00:00Z&until=2026-11-04T00:00:00Z',
    })
    expect(day.statusCode).toBe(200)
    expect(day.json<{ buckets: { start: string }[] }>().buckets.map((b) => b.start)).toEqual([
      '2026-11-01T00:00:00.000Z',
      '2026-11-02T00:00:00.000Z',
      '2026-11-03T00:00:00.000Z',
    ])
    const tooLong = await app.inject({
      method: 'GET',
      url: '/v1/stats?interval=hour&since=2026-01-01T00:00:00Z&until=2026-03-01T00:00:00Z',
    })
    expect(tooLong.statusCode).toBe(400)
    expect(tooLong.json()).toMatchObject({
      code: 'STATS_RANGE_TOO_LARGE',
      message: expect.stringContaining('at most 744'),
    })
    // A full-length range that is not aligned to hours answers its partial first and last hour.
    const unaligned = await app.inject({
      method: 'GET',
      url: '/v1/stats?interval=hour&since=2026-01-01T00:30:00Z&until=2026-02-01T00:30:00Z',
    })
    expect(unaligned.statusCode).toBe(200)
    expect(unaligned.json<{ buckets: unknown[] }>().buckets).toHaveLength(745)
    const reversed = await app.inject({
      method: 'GET',
      url: '/v1/stats?since=2026-03-01T00:00:00Z&until=2026-01-01T00:00:00Z',
    })
    expect(reversed.statusCode).toBe(400)
    expect(reversed.json()).toMatchObject({ code: 'VALIDATION_FAILED' })
    const badInterval = await app.inject({ method: 'GET', url: '/v1/stats?interval=week' })
    expect(badInterval.statusCode).toBe(400)
  })
})
