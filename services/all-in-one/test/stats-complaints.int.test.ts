import { randomBytes } from 'node:crypto'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  deleteKeysWithPrefix,
  freePort,
  type SmtpSink,
  startSmtpSink,
  startTestRedis,
  type TestRedis,
  waitFor,
} from '@outbound/testing'
import { startApi, startService, stopService, WORKER_MAIN } from './helpers/processes.js'

type Bucket = {
  accepted: number
  sent: number
  deferred: number
  bounced: { hard: number; soft: number }
  failed: number
  suppressed: number
  canceled: number
  complained: number
  unsubscribed: number
}

function sum(buckets: readonly Bucket[]): Bucket {
  const total: Bucket = {
    accepted: 0,
    sent: 0,
    deferred: 0,
    bounced: { hard: 0, soft: 0 },
    failed: 0,
    suppressed: 0,
    canceled: 0,
    complained: 0,
    unsubscribed: 0,
  }
  for (const b of buckets) {
    total.accepted += b.accepted
    total.sent += b.sent
    total.deferred += b.deferred
    total.bounced.hard += b.bounced.hard
    total.bounced.soft += b.bounced.soft
    total.failed += b.failed
    total.suppressed += b.suppressed
    total.canceled += b.canceled
    total.complained += b.complained
    total.unsubscribed += b.unsubscribed
  }
  return total
}

/** A Yahoo-shaped feedback report: the original's header block as text/rfc822-headers. */
function feedbackReport(original: Buffer, recipient: string): string {
  const text = original.toString('utf8')
  const headers = text.slice(0, text.search(/\r?\n\r?\n/))
  return [
    'From: feedback@arf.mail.yahoo.example',
    'To: fbl@shop.example',
    'Subject: FW: complaint',
    'MIME-Version: 1.0',
    'Content-Type: multipart/report; report-type=feedback-report; boundary="arf"',
    '',
    '--arf',
    'Content-Type: text/plain',
    '',
    'This is an email abuse report for an email message.',
    '',
    '--arf',
    'Content-Type: message/feedback-report',
    '',
    'Feedback-Type: abuse',
    'User-Agent: Yahoo!-Mail-Feedback/2.0',
    'Version: 1',
    `Original-Rcpt-To: ${recipient}`,
    'Source-IP: 127.0.0.1',
    '',
    '--arf',
    'Content-Type: text/rfc822-headers',
    '',
    headers,
    '',
    '--arf--',
    '',
  ].join('\r\n')
}

describe('stats and complaints through the api and worker processes', () => {
  let redis: TestRedis
  let sink: SmtpSink
  let receiver: Server
  const received: { id: string; type: string; data: Record<string, unknown> }[] = []

  beforeAll(async () => {
    redis = await startTestRedis()
    sink = await startSmtpSink({
      replies: {
        'later@x.test': ['451 4.2.0 mailbox busy, come back later', '250 ok'],
        'gone@x.test': '550 5.1.1 user unknown',
        'full@x.test': '552 5.2.2 mailbox full',
      },
    })
    receiver = createServer((request, response) => {
      let body = ''
      request.on('data', (chunk: Buffer) => (body += chunk.toString()))
      request.on('end', () => {
        const event = JSON.parse(body) as { type: string; data: Record<string, unknown> }
        received.push({ id: String(request.headers['webhook-id']), ...event })
        response.writeHead(204).end()
      })
    })
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r))
  })
  afterAll(async () => {
    await new Promise((r) => receiver.close(r))
    await sink.close()
    await deleteKeysWithPrefix(redis.url, 'outbound:')
    await redis.stop()
  })

  it('count what happened — a deferral then success, hard and soft bounces, a suppression, a cancellation, a complaint — and report the complaint', async () => {
    const env = {
      REDIS_URL: redis.url,
      SMTP_URL: sink.url,
      WEBHOOK_ALLOW_PRIVATE_URLS: 'true',
      // Webhook secrets are stored sealed.
      OUTBOUND_SECRET_KEY: randomBytes(32).toString('base64'),
    }
    const worker = startService(WORKER_MAIN, ['--pool', 'all'], {
      ...env,
      METRICS_PORT: String(await freePort()),
    })
    const { child: api, base } = await startApi(env)
    const call = async (
      method: string,
      path: string,
      body?: unknown,
      type = 'application/json',
    ) => {
      const response = await fetch(`${base}${path}`, {
        method,
        ...(body === undefined
          ? {}
          : {
              headers: { 'content-type': type },
              body: typeof body === 'string' ? body : JSON.stringify(body),
            }),
      })
      const text = await response.text()
      const json = (response.headers.get('content-type') ?? '').includes('json')
      return { status: response.status, body: (json ? JSON.parse(text) : null) as unknown, text }
    }
    const send = async (to: string[], extra: object = {}) => {
      const answer = await call('POST', '/v1/emails', {
        from: 'ann@shop.example',
        subject: 'Stats',
        text: 'x',
        to,
        ...extra,
      })
      return answer as { status: number; body: { id: string; code?: string } }
    }
    const status = async (id: string) =>
      ((await call('GET', `/v1/emails/${id}`)).body as { status: string }).status
    try {
      const { port: hookPort } = receiver.address() as AddressInfo
      expect(
        (
          await call('POST', '/v1/webhooks', {
            url: `http://127.0.0.1:${hookPort}/hook`,
            events: ['email.complained', 'reputation.warning'],
          })
        ).status,
      ).toBe(201)
      expect(
        (await call('PATCH', '/v1/settings', { retrySchedule: { transactional: [1] } })).status,
      ).toBe(200)

      const plain = await send(['ok@x.test'])
      const deferred = await send(['later@x.test'])
      const bounced = await send(['gone@x.test', 'full@x.test', 'ok3@x.test'])
      for (const id of [plain.body.id, deferred.body.id, bounced.body.id])
        await waitFor(async () => (await status(id)) === 'sent', { timeoutMs: 20_000, what: id })
      // gone@ bounced hard: suppressed at the door from now on.
      const partly = await send(['gone@x.test', 'ok2@x.test'])
      expect(partly.status).toBe(202)
      await waitFor(async () => (await status(partly.body.id)) === 'sent', { timeoutMs: 20_000 })
      const later = await send(['someone@x.test'], {
        scheduledAt: new Date(Date.now() + 3_600_000).toISOString(),
      })
      expect((await call('DELETE', `/v1/emails/${later.body.id}`)).status).toBe(200)

      // ok@ complains about the message it got, as its provider reports it.
      const original = sink.messages.find((m) => m.rcptTo.includes('ok@x.test'))
      if (original === undefined) throw new Error('the sink has no message to ok@x.test')
      const complaint = await call(
        'POST',
        '/v1/bounces/inbound',
        feedbackReport(original.raw, 'ok@x.test'),
        'message/rfc822',
      )
      expect(complaint.status).toBe(202)
      expect(complaint.body).toMatchObject({
        complaints: [{ messageId: plain.body.id, recipient: 'ok@x.test', serverId: 'default' }],
      })
      expect((await send(['ok@x.test'])).body).toMatchObject({ code: 'RECIPIENT_SUPPRESSED' })

      const now = Date.now()
      const range = `since=${new Date(now - 3_600_000).toISOString()}&until=${new Date(now + 60_000).toISOString()}`
      const expected: Bucket = {
        accepted: 5,
        sent: 4,
        deferred: 1,
        bounced: { hard: 1, soft: 1 },
        failed: 0,
        suppressed: 1,
        canceled: 1,
        complained: 1,
        unsubscribed: 0,
      }
      const hourly = (await call('GET', `/v1/stats?interval=hour&${range}`)).body as {
        buckets: Bucket[]
        complaintRate24h: unknown[]
      }
      const daily = (await call('GET', `/v1/stats?interval=day&${range}`)).body as {
        buckets: Bucket[]
      }
      expect(sum(hourly.buckets)).toEqual(expected)
      expect(sum(daily.buckets)).toEqual(expected)
      const mass = (await call('GET', `/v1/stats?interval=day&${range}&stream=mass`)).body as {
        buckets: Bucket[]
      }
      expect(sum(mass.buckets).accepted).toBe(0)
      const byServer = (await call('GET', `/v1/stats?interval=day&${range}&serverId=default`))
        .body as { buckets: Bucket[] }
      expect(sum(byServer.buckets)).toMatchObject({ accepted: 0, sent: 4, complained: 1 })
      expect(hourly.complaintRate24h).toEqual([
        { serverId: 'default', complained: 1, delivered: 4, rate: 0.25 },
      ])
      const metrics = (await call('GET', '/metrics')).text
      expect(metrics).toContain('outbound_complaint_rate_24h{server="default"} 0.25')

      // The worker's dispatcher delivers the complaint and one warning per threshold crossed.
      await waitFor(() => received.length >= 3, { timeoutMs: 20_000, what: 'three webhooks' })
      const byType = (type: string) => [
        ...new Map(received.filter((e) => e.type === type).map((e) => [e.id, e])).values(),
      ]
      expect(byType('email.complained').map((e) => e.data)).toEqual([
        expect.objectContaining({
          messageId: plain.body.id,
          recipient: 'ok@x.test',
          kind: 'abuse',
        }),
      ])
      expect(
        byType('reputation.warning')
          .map((e) => e.data['threshold'])
          .sort(),
      ).toEqual([0.001, 0.003])
    } finally {
      await Promise.all([stopService(worker), stopService(api)])
    }
  }, 90_000)
})
