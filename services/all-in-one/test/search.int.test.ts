import type { ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { setTimeout } from 'node:timers/promises'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  type SmtpSink,
  startSmtpSink,
  startTestRedis,
  type TestRedis,
  waitFor,
} from '@outbound/testing'
import { startApi, startService, stopService, WORKER_MAIN } from './helpers/processes.js'

// Real API and worker processes, a real Redis and SMTP sink: search, raw source and retry as a
// client sees them.

type Row = {
  id: string
  status: string
  stream: string
  from: string
  to: string[]
  tags: string[]
  reference: string | null
  createdAt: string
  serverId: string | null
  serverName: string | null
  events?: unknown
}
type Page = { data: Row[]; nextCursor: string | null }
type Sent = { index: number; id: string; expected: string; spec: Spec }
type Spec = {
  stream: 'transactional' | 'mass'
  to: string
  from: string
  tags: string[]
  reference: string
  scheduled: boolean
  cancel: boolean
  list: string | undefined
}

const COUNT = 1000
const SCHEDULED_AT = new Date(Date.now() + 86_400_000).toISOString()

function specOf(i: number): Spec {
  return {
    stream: i % 3 === 0 ? 'mass' : 'transactional',
    // Every tenth recipient is refused for good by the sink (a unique address: no suppression).
    to: i % 10 === 3 ? `hard${i}@bounce.test` : `r${i % 50}@example.com`,
    from: i % 4 === 0 ? 'Billing <billing@shop.example>' : 'news@shop.example',
    tags: [`t${i % 5}`, ...(i % 2 === 0 ? ['even'] : [])],
    reference: `ref-${i % 7}`,
    scheduled: i % 25 === 1,
    cancel: i % 50 === 1,
    // Half the mass mail names its list; the rest is on the default one.
    list: i % 2 === 0 ? 'weekly' : undefined,
  }
}

function emailOf(i: number, spec: Spec, subject = `Message ${i}`) {
  return {
    from: spec.from,
    to: spec.to,
    subject,
    text: `Body of message ${i}\n`,
    stream: spec.stream,
    tags: spec.tags,
    reference: spec.reference,
    ...(spec.scheduled ? { scheduledAt: SCHEDULED_AT } : {}),
    ...(spec.list === undefined ? {} : { list: spec.list }),
  }
}

let redis: TestRedis
let sink: SmtpSink
let base = ''
const running: ChildProcess[] = []

async function call(path: string, method = 'GET', body?: object) {
  const response = await fetch(`${base}${path}`, {
    method,
    ...(body === undefined
      ? {}
      : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
  })
  const type = response.headers.get('content-type') ?? ''
  const payload: unknown = type.startsWith('application/json')
    ? await response.json()
    : Buffer.from(await response.arrayBuffer())
  return { status: response.status, type, body: payload }
}

async function json<T>(path: string, method = 'GET', body?: object): Promise<T> {
  const answer = await call(path, method, body)
  if (answer.status >= 300)
    throw new Error(`${method} ${path}: ${answer.status} ${JSON.stringify(answer.body)}`)
  return answer.body as T
}

/** Every row of a search, following nextCursor; fails on a repeated id. */
async function searchAll(query: string, limit = 100): Promise<Row[]> {
  const rows: Row[] = []
  let cursor: string | null = null
  for (let page = 0; page < 200; page++) {
    const params = new URLSearchParams(query)
    params.set('limit', String(limit))
    if (cursor !== null) params.set('cursor', cursor)
    const result: Page = await json<Page>(`/v1/emails?${params.toString()}`)
    rows.push(...result.data)
    if (result.nextCursor === null) {
      expect(new Set(rows.map((row) => row.id)).size).toBe(rows.length)
      return rows
    }
    cursor = result.nextCursor
  }
  throw new Error('the search did not end')
}

const idsOf = (sent: readonly Sent[]) => sent.map((s) => s.id).sort()

describe('message search, raw source and retry', () => {
  const sent: Sent[] = []

  beforeAll(async () => {
    redis = await startTestRedis()
    const replies: Record<string, string | string[]> = {
      'later@defer.test': ['451 4.7.1 try again later', '250 2.0.0 ok'],
      'soft@fail.test': ['451 4.7.1 try again later', '250 2.0.0 ok'],
      'gone@bounce.test': '550 5.1.1 no such user',
    }
    for (let i = 3; i < COUNT; i += 10) replies[`hard${i}@bounce.test`] = '550 5.1.1 no such user'
    sink = await startSmtpSink({ replies })
    const env = { REDIS_URL: redis.url, OUTBOUND_SECRET_KEY: randomBytes(32).toString('base64') }
    const api = await startApi(env)
    running.push(api.child)
    base = api.base
    // Mass mail fails at its first soft failure: a failed message to retry.
    await json('/v1/settings', 'PATCH', {
      defaultDailyLimit: 100_000_000,
      retrySchedule: { mass: [] },
    })
    // The sender's domain signs: the raw source must carry the signature that went out.
    const { id: aliasDomainId } = await json<{ id: string }>('/v1/alias-domains', 'POST', {
      name: 'shop.example',
    })
    await json(`/v1/alias-domains/${aliasDomainId}/dkim`, 'POST', {})
    running.push(startService(WORKER_MAIN, ['--pool', 'all'], { ...env, SMTP_URL: sink.url }))

    const specs = Array.from({ length: COUNT }, (_, i) => specOf(i))
    const accepted = await json<{ results: { id?: string }[] }>('/v1/emails/batch', 'POST', {
      emails: specs.map((spec, i) => emailOf(i, spec)),
    })
    accepted.results.forEach((result, index) => {
      const spec = specs[index]
      if (spec === undefined || result.id === undefined) throw new Error(`item ${index} refused`)
      const expected = spec.cancel
        ? 'canceled'
        : spec.scheduled
          ? 'scheduled'
          : spec.to.startsWith('hard')
            ? 'bounced'
            : 'sent'
      sent.push({ index, id: result.id, expected, spec })
    })
    await Promise.all(
      sent.filter((s) => s.spec.cancel).map((s) => json(`/v1/emails/${s.id}`, 'DELETE')),
    )
    const delivered = sent.filter((s) => s.expected === 'sent').length
    await sink.waitForMessages(delivered, 240_000)
    // The last outcomes are recorded just after the sink has the bytes.
    await waitFor(
      async () => {
        await setTimeout(250)
        const [a, b] = await Promise.all([
          json<Page>('/v1/emails?status=sent&limit=1'),
          json<Page>('/v1/emails?status=bounced&limit=1'),
        ])
        if (a.data.length === 0 || b.data.length === 0) return false
        const [sentRows, bouncedRows] = await Promise.all([
          searchAll('status=sent'),
          searchAll('status=bounced'),
        ])
        return (
          sentRows.length === delivered &&
          bouncedRows.length === sent.filter((s) => s.expected === 'bounced').length
        )
      },
      { timeoutMs: 60_000, what: 'every outcome recorded' },
    )
  }, 360_000)

  afterAll(async () => {
    await Promise.all(running.map((child) => stopService(child)))
    await sink.close()
    await redis.stop()
  })

  it('answers every filter with exactly the matching messages, newest first', async () => {
    const all = await searchAll('')
    expect(all.map((row) => row.id).sort()).toEqual(idsOf(sent))
    for (let i = 1; i < all.length; i++) {
      const [a, b] = [all[i - 1], all[i]]
      if (a === undefined || b === undefined) continue
      const order = a.createdAt === b.createdAt ? a.id > b.id : a.createdAt > b.createdAt
      expect(order).toBe(true)
    }
    // Rows are records without events, with the server's name beside its id.
    const row = all.find((r) => r.status === 'sent')
    expect(row?.events).toBeUndefined()
    expect(row).toMatchObject({ serverId: 'default', serverName: 'built-in default server' })

    const cases: [string, (s: Sent) => boolean][] = [
      ['status=sent', (s) => s.expected === 'sent'],
      ['status=bounced', (s) => s.expected === 'bounced'],
      ['status=canceled', (s) => s.expected === 'canceled'],
      ['status=scheduled', (s) => s.expected === 'scheduled'],
      ['status=failed', () => false],
      ['stream=mass', (s) => s.spec.stream === 'mass'],
      ['stream=transactional', (s) => s.spec.stream === 'transactional'],
      ['to=r7@example.com', (s) => s.spec.to === 'r7@example.com'],
      ['to=R7@EXAMPLE.com', (s) => s.spec.to === 'r7@example.com'],
      ['to=hard13@bounce.test', (s) => s.spec.to === 'hard13@bounce.test'],
      ['from=billing@shop.example', (s) => s.spec.from.includes('billing@')],
      ['from="News" <news@shop.example>', (s) => s.spec.from === 'news@shop.example'],
      ['tag=t3', (s) => s.spec.tags.includes('t3')],
      ['tag=even', (s) => s.spec.tags.includes('even')],
      ['tag=nope', () => false],
      ['reference=ref-2', (s) => s.spec.reference === 'ref-2'],
      ['list=newsletter', () => false],
      ['list=weekly', (s) => s.spec.stream === 'mass' && s.spec.list === 'weekly'],
      ['list=default', (s) => s.spec.stream === 'mass' && s.spec.list === undefined],
      [
        'list=weekly&tag=t1',
        (s) => s.spec.stream === 'mass' && s.spec.list === 'weekly' && s.spec.tags.includes('t1'),
      ],
      ['stream=mass&tag=t1', (s) => s.spec.stream === 'mass' && s.spec.tags.includes('t1')],
      [
        'status=sent&from=billing@shop.example&tag=even',
        (s) => s.expected === 'sent' && s.spec.from.includes('billing@'),
      ],
      [
        'status=bounced&stream=transactional&reference=ref-3',
        (s) =>
          s.expected === 'bounced' &&
          s.spec.stream === 'transactional' &&
          s.spec.reference === 'ref-3',
      ],
      [
        'to=r7@example.com&tag=t2',
        (s) => s.spec.to === 'r7@example.com' && s.spec.tags.includes('t2'),
      ],
      ['status=canceled&stream=mass', (s) => s.expected === 'canceled' && s.spec.stream === 'mass'],
    ]
    for (const [query, matches] of cases) {
      const rows = await searchAll(query, 37)
      expect(rows.map((r) => r.id).sort(), query).toEqual(idsOf(sent.filter(matches)))
    }
    // Time bounds: the batch was accepted at one instant.
    const at = Date.parse(all[0]?.createdAt ?? '')
    const after = new Date(at + 1).toISOString()
    expect(await searchAll(`until=${after}`)).toHaveLength(COUNT)
    expect(await searchAll(`since=${after}`)).toHaveLength(0)
    expect(await searchAll(`since=${new Date(at).toISOString()}&tag=t4`)).toHaveLength(
      sent.filter((s) => s.spec.tags.includes('t4')).length,
    )
  })

  it('pages without repeating or skipping while messages are accepted between pages', async () => {
    const expected = idsOf(sent.filter((s) => s.spec.tags.includes('t3')))
    const seen: string[] = []
    let cursor: string | null = null
    let page = 0
    do {
      const query: string = `/v1/emails?tag=t3&limit=30${cursor === null ? '' : `&cursor=${cursor}`}`
      const result: Page = await json<Page>(query)
      seen.push(...result.data.map((row) => row.id))
      cursor = result.nextCursor
      // New messages with the same tag arrive between pages: newer than every cursor.
      const late = await json<{ results: { id?: string }[] }>('/v1/emails/batch', 'POST', {
        emails: Array.from({ length: 15 }, (_, i) =>
          emailOf(i, { ...specOf(8), scheduled: true }, `Late ${page}-${i}`),
        ),
      })
      expect(late.results.every((result) => result.id !== undefined)).toBe(true)
      page += 1
    } while (cursor !== null)
    expect(seen).toHaveLength(new Set(seen).size)
    expect([...seen].sort()).toEqual(expected)
    // A new first page shows them.
    const first = await json<Page>('/v1/emails?tag=t3&limit=15')
    expect(first.data).toHaveLength(15)
    expect(first.data.every((row) => !expected.includes(row.id))).toBe(true)
  })

  it('refuses bad filters with a code naming the field', async () => {
    const cases: [string, string, string][] = [
      ['status=lost', 'INVALID_STATUS', 'status'],
      ['stream=bulk', 'INVALID_STREAM', 'stream'],
      ['to=not-an-address', 'INVALID_ADDRESS', 'to'],
      ['from=a@', 'INVALID_ADDRESS', 'from'],
      ['since=yesterday', 'INVALID_TIME_RANGE', 'since'],
      ['until=2026-01-01T00:00:00', 'INVALID_TIME_RANGE', 'until'],
      ['since=2026-02-01T00:00:00Z&until=2026-01-01T00:00:00Z', 'INVALID_TIME_RANGE', 'since'],
      ['limit=0', 'INVALID_LIMIT', 'limit'],
      ['limit=101', 'INVALID_LIMIT', 'limit'],
      ['limit=ten', 'INVALID_LIMIT', 'limit'],
      ['cursor=garbage!', 'INVALID_CURSOR', 'cursor'],
      [`cursor=${Buffer.from('12:a b').toString('base64url')}`, 'INVALID_CURSOR', 'cursor'],
    ]
    for (const [query, code, field] of cases) {
      const answer = await call(`/v1/emails?${query}`)
      expect([answer.status, answer.body], query).toMatchObject([400, { code, details: { field } }])
    }
    const unknown = await call('/v1/emails?colour=red')
    expect([unknown.status, unknown.body]).toMatchObject([400, { code: 'VALIDATION_FAILED' }])
  })

  it('gives the exact bytes the server received, and 404s where there are none', async () => {
    const picks = sent.filter((s) => s.expected === 'sent').slice(0, 5)
    for (const pick of picks) {
      const answer = await call(`/v1/emails/${pick.id}/raw`)
      expect(answer.status).toBe(200)
      expect(answer.type).toBe('message/rfc822')
      const raw = answer.body as Buffer
      const received = sink.messages.find((m) =>
        m.raw.includes(`\r\nSubject: Message ${pick.index}\r\n`),
      )
      expect(received).toBeDefined()
      expect(raw.equals(received?.raw ?? Buffer.alloc(0))).toBe(true)
      expect(raw.toString()).toMatch(/^DKIM-Signature: .*d=shop\.example/m)
    }
    const scheduled = sent.find((s) => s.expected === 'scheduled')
    const none = await call(`/v1/emails/${scheduled?.id ?? ''}/raw`)
    expect([none.status, none.body]).toMatchObject([404, { code: 'RAW_NOT_AVAILABLE' }])
    const missing = await call('/v1/emails/msg_nope/raw')
    expect([missing.status, missing.body]).toMatchObject([404, { code: 'MESSAGE_NOT_FOUND' }])
  })

  it('tries a deferred message now', async () => {
    const { id } = await json<{ id: string }>('/v1/emails', 'POST', {
      from: 'news@shop.example',
      to: 'later@defer.test',
      subject: 'Deferred once',
      text: 'hello',
    })
    type Message = { status: string; deferredUntil: string | null; events: { type: string }[] }
    const deferred = await waitFor(
      async () => {
        const message = await json<Message>(`/v1/emails/${id}`)
        return message.status === 'deferred' ? message : undefined
      },
      { timeoutMs: 30_000, what: 'the deferral' },
    )
    // The schedule's first retry is a minute away: without the retry the test would time out.
    expect(Date.parse(deferred.deferredUntil ?? '')).toBeGreaterThan(Date.now() + 30_000)
    const before = sink.messages.length
    const answer = await call(`/v1/emails/${id}/retry`, 'POST')
    expect([answer.status, answer.body]).toEqual([200, { id, status: 'deferred', recipients: 0 }])
    const final = await waitFor(
      async () => {
        const message = await json<Message>(`/v1/emails/${id}`)
        return message.status === 'sent' ? message : undefined
      },
      { timeoutMs: 20_000, what: 'the retried message sent' },
    )
    expect(final.events.map((e) => e.type)).toContain('retry')
    const received = sink.messages.slice(before).find((m) => m.rcptTo.includes('later@defer.test'))
    const raw = (await call(`/v1/emails/${id}/raw`)).body as Buffer
    expect(raw.equals(received?.raw ?? Buffer.alloc(0))).toBe(true)
    const again = await call(`/v1/emails/${id}/retry`, 'POST')
    expect([again.status, again.body]).toMatchObject([
      409,
      { code: 'NOT_RETRYABLE', details: { status: 'sent' } },
    ])
  })

  it('gives a failed message a new round for its softly failed recipients only', async () => {
    const { id } = await json<{ id: string }>('/v1/emails', 'POST', {
      from: 'news@shop.example',
      to: ['soft@fail.test', 'ok@example.com', 'gone@bounce.test'],
      subject: 'Failed once',
      text: 'hello',
      stream: 'mass',
      // Several recipients on one mass message: only with the caller's own unsubscribe header.
      headers: { 'List-Unsubscribe': '<mailto:unsubscribe@shop.example>' },
    })
    type Message = {
      status: string
      recipients: { address: string; status: string }[]
      events: { type: string }[]
    }
    const failed = await waitFor(
      async () => {
        const message = await json<Message>(`/v1/emails/${id}`)
        return message.status === 'failed' ? message : undefined
      },
      { timeoutMs: 30_000, what: 'the failure' },
    )
    expect(failed.recipients.map((r) => [r.address, r.status])).toEqual([
      ['soft@fail.test', 'failed'],
      ['ok@example.com', 'sent'],
      ['gone@bounce.test', 'bounced'],
    ])
    expect((await searchAll('status=failed')).map((r) => r.id)).toEqual([id])
    const before = sink.messages.length
    // Two retries at once: one starts the new round, the other finds it started.
    const answers = await Promise.all([
      call(`/v1/emails/${id}/retry`, 'POST'),
      call(`/v1/emails/${id}/retry`, 'POST'),
    ])
    expect(answers.map((a) => a.status).sort()).toEqual([200, 409])
    expect(answers.find((a) => a.status === 200)?.body).toEqual({
      id,
      status: 'queued',
      recipients: 1,
    })
    const final = await waitFor(
      async () => {
        const message = await json<Message>(`/v1/emails/${id}`)
        return message.status === 'sent' ? message : undefined
      },
      { timeoutMs: 20_000, what: 'the retried message sent' },
    )
    expect(final.recipients.map((r) => r.status)).toEqual(['sent', 'sent', 'bounced'])
    expect(final.events.map((e) => e.type)).toContain('retry')
    // Only the recipient that failed softly was mailed again, once.
    const again = sink.messages.slice(before)
    expect(again.map((m) => m.rcptTo)).toEqual([['soft@fail.test']])
    expect((await searchAll('status=failed')).map((r) => r.id)).toEqual([])
  })

  it('refuses to retry a message that is neither deferred nor failed', async () => {
    for (const status of ['sent', 'bounced', 'canceled', 'scheduled']) {
      const pick = sent.find((s) => s.expected === status)
      const answer = await call(`/v1/emails/${pick?.id ?? ''}/retry`, 'POST')
      expect([answer.status, answer.body]).toMatchObject([
        409,
        { code: 'NOT_RETRYABLE', details: { status } },
      ])
    }
    const missing = await call('/v1/emails/msg_nope/retry', 'POST')
    expect([missing.status, missing.body]).toMatchObject([404, { code: 'MESSAGE_NOT_FOUND' }])
  })

  it('names the server in quota entries', async () => {
    const quota = await json<{ serverId: string; serverName: string }[]>('/v1/quota')
    expect(quota).toContainEqual(
      expect.objectContaining({ serverId: 'default', serverName: 'built-in default server' }),
    )
  })
})
