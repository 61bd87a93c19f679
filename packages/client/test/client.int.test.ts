import type { ChildProcess } from 'node:child_process'
import { execFile } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { createServer, type IncomingMessage, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createOutboundClient } from '@outbound/client'
import { startApi, startTestRedis, stopService, type TestRedis } from '@outbound/testing'

// Round trips of the client against the real API process (built), on a Redis of its own.
const adminKey = `adm-${randomBytes(12).toString('hex')}`
const readKey = `rd-${randomBytes(12).toString('hex')}`
let redis: TestRedis
let api: ChildProcess
let base: string

beforeAll(async () => {
  redis = await startTestRedis()
  ;({ child: api, base } = await startApi({
    REDIS_URL: redis.url,
    OUTBOUND_API_KEYS: `ci:send+read+admin:${adminKey},viewer:read:${readKey}`,
    WEBHOOK_ALLOW_PRIVATE_URLS: 'true',
    OUTBOUND_SECRET_KEY: randomBytes(32).toString('base64'),
  }))
})

afterAll(async () => {
  await stopService(api)
  await redis.stop()
})

const later = () => new Date(Date.now() + 86_400_000).toISOString()
const email = (subject: string) => ({
  from: 'ann@shop.example',
  to: ['bob@example.com'],
  subject,
  text: 'Hello',
  scheduledAt: later(),
})

describe('the client from TypeScript', () => {
  it('sends, reads and cancels a message', async () => {
    const client = createOutboundClient({ baseUrl: base, apiKey: adminKey })
    const sent = await client.POST('/v1/emails', { body: email('Round trip') })
    expect(sent.response.status).toBe(202)
    const id = sent.data?.id ?? ''
    expect(sent.data).toEqual({ id, status: 'scheduled', stream: 'transactional' })

    const read = await client.GET('/v1/emails/{id}', { params: { path: { id } } })
    expect(read.data).toMatchObject({ id, status: 'scheduled', subject: 'Round trip' })
    expect(read.data?.sandbox).toBe(false)
    expect(read.data?.to).toEqual(['bob@example.com'])

    const canceled = await client.DELETE('/v1/emails/{id}', { params: { path: { id } } })
    expect(canceled.data).toEqual({ id, status: 'canceled' })
    const again = await client.DELETE('/v1/emails/{id}', { params: { path: { id } } })
    expect(again.response.status).toBe(409)

    const missing = await client.GET('/v1/emails/{id}', { params: { path: { id: 'msg_nope' } } })
    expect(missing.response.status).toBe(404)
    expect(missing.error).toMatchObject({ statusCode: 404, code: expect.any(String) })
  })

  it('answers a refusal with the API error body, typed', async () => {
    const viewer = createOutboundClient({ baseUrl: base, apiKey: readKey })
    const refused = await viewer.POST('/v1/emails', { body: email('Not allowed') })
    expect(refused.response.status).toBe(403)
    expect(refused.error).toMatchObject({ code: 'FORBIDDEN' })

    const client = createOutboundClient({ baseUrl: base, apiKey: adminKey })
    const invalid = await client.POST('/v1/emails', {
      body: { ...email('Bad'), to: ['not an address'] },
    })
    expect(invalid.response.status).toBe(400)
    expect(invalid.error?.message).toContain('to[0]')
  })

  it('keeps an explicit Idempotency-Key: the same body answers the same id, another body 409', async () => {
    const client = createOutboundClient({ baseUrl: base, apiKey: adminKey })
    const key = `order-${randomBytes(4).toString('hex')}`
    const header = { 'idempotency-key': key }
    const body = email('Once')
    const first = await client.POST('/v1/emails', { body, params: { header } })
    const second = await client.POST('/v1/emails', { body, params: { header } })
    expect(second.data?.id).toBe(first.data?.id)
    const other = await client.POST('/v1/emails', {
      body: { ...body, subject: 'Other' },
      params: { header },
    })
    expect(other.response.status).toBe(409)
    expect(other.error).toMatchObject({ code: 'IDEMPOTENCY_CONFLICT' })
    // Without a key each call is a send of its own (the client gives each its own key).
    const a = await client.POST('/v1/emails', { body })
    const b = await client.POST('/v1/emails', { body })
    expect(a.data?.id).not.toBe(b.data?.id)
  })

  it('sends once when the answer to a send is lost and the client retries it', async () => {
    // A real proxy in front of the API that forwards the first send, then answers 503 instead of
    // the API's 202 (the answer lost on the way): the retry carries the same Idempotency-Key.
    const seen: { key: string | undefined; answer: unknown }[] = []
    const proxy = createServer((request, response) => {
      void (async () => {
        const body = await readBody(request)
        const forwarded = await fetch(`${base}${request.url ?? ''}`, {
          method: request.method ?? 'GET',
          headers: headersOf(request),
          ...(body.length > 0 ? { body } : {}),
        })
        const text = await forwarded.text()
        if (request.method === 'POST') {
          seen.push({ key: request.headers['idempotency-key'] as string, answer: JSON.parse(text) })
          if (seen.length === 1) {
            response.writeHead(503, { 'retry-after': '0' }).end()
            return
          }
        }
        response.writeHead(forwarded.status, { 'content-type': 'application/json' }).end(text)
      })()
    })
    const proxyBase = await listen(proxy)
    try {
      const client = createOutboundClient({ baseUrl: proxyBase, apiKey: adminKey })
      const sent = await client.POST('/v1/emails', { body: email('Lost answer') })
      expect(sent.response.status).toBe(202)
      expect(seen).toHaveLength(2)
      expect(seen[0]?.key).toMatch(/^[0-9a-f-]{36}$/)
      expect(seen[1]?.key).toBe(seen[0]?.key)
      expect(seen[1]?.answer).toEqual(seen[0]?.answer)
      expect(sent.data?.id).toBe((seen[0]?.answer as { id: string }).id)
    } finally {
      await new Promise((r) => proxy.close(r))
    }
  })

  it('creates, reads, changes, rotates and deletes a webhook endpoint', async () => {
    const client = createOutboundClient({ baseUrl: base, apiKey: adminKey })
    const created = await client.POST('/v1/webhooks', {
      body: { url: 'http://127.0.0.1:9/events', events: ['email.sent', 'email.bounced'] },
    })
    expect(created.error).toBeUndefined()
    expect(created.response.status).toBe(201)
    const id = created.data?.id ?? ''
    expect(created.data?.secret).toMatch(/^whsec_/)

    const listed = await client.GET('/v1/webhooks')
    expect(JSON.stringify(listed.data)).toContain(id)
    expect(JSON.stringify(listed.data)).not.toContain(created.data?.secret ?? 'x')

    const patched = await client.PATCH('/v1/webhooks/{id}', {
      params: { path: { id } },
      body: { active: false, description: 'paused' },
    })
    expect(patched.data).toMatchObject({ id, active: false, description: 'paused' })
    const read = await client.GET('/v1/webhooks/{id}', { params: { path: { id } } })
    expect(read.data).toMatchObject({ id, active: false, events: ['email.sent', 'email.bounced'] })

    const rotated = await client.POST('/v1/webhooks/{id}/rotate-secret', {
      params: { path: { id } },
    })
    expect(rotated.data?.secret).toMatch(/^whsec_/)
    expect(rotated.data?.secret).not.toBe(created.data?.secret)

    const deleted = await client.DELETE('/v1/webhooks/{id}', { params: { path: { id } } })
    expect(deleted.response.status).toBe(204)
    const gone = await client.GET('/v1/webhooks/{id}', { params: { path: { id } } })
    expect(gone.response.status).toBe(404)
  })

  it('adds, lists and removes a suppression, and a send to it is refused', async () => {
    const client = createOutboundClient({ baseUrl: base, apiKey: adminKey })
    const address = `gone-${randomBytes(3).toString('hex')}@example.com`
    const added = await client.POST('/v1/suppressions', {
      body: { address, reason: 'asked to stop' },
    })
    expect(added.response.ok).toBe(true)
    const listed = await client.GET('/v1/suppressions')
    expect(JSON.stringify(listed.data)).toContain(address)

    const refused = await client.POST('/v1/emails', { body: { ...email('No'), to: [address] } })
    expect(refused.response.status).toBe(422)
    expect(refused.error).toMatchObject({ code: 'RECIPIENT_SUPPRESSED' })

    const removed = await client.DELETE('/v1/suppressions/{address}', {
      params: { path: { address } },
    })
    expect(removed.response.ok).toBe(true)
    const after = await client.GET('/v1/suppressions')
    expect(JSON.stringify(after.data)).not.toContain(address)
  })
})

describe('the client from plain JavaScript', () => {
  it('runs an ESM script against the built client', async () => {
    const { stdout } = await promisify(execFile)(
      process.execPath,
      [join(import.meta.dirname, 'round-trip.mjs')],
      { env: { PATH: process.env['PATH'], OUTBOUND_URL: base, OUTBOUND_API_KEY: adminKey } },
    )
    const seen = JSON.parse(stdout) as Record<string, Record<string, unknown>>
    const id = seen['sent']?.['id']
    expect(id).toMatch(/^msg_/)
    expect(seen['sentStatus']).toBe(202)
    expect(seen['read']).toEqual({ id, status: 'scheduled', subject: 'From plain JavaScript' })
    expect(seen['canceled']).toEqual({ id, status: 'canceled' })
    expect(seen['missing']).toMatchObject({ status: 404 })
  })
})

function readBody(request: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    request.on('data', (chunk: Buffer) => chunks.push(chunk))
    request.on('end', () => resolve(Buffer.concat(chunks)))
    request.on('error', reject)
  })
}

function headersOf(request: IncomingMessage): Record<string, string> {
  const headers: Record<string, string> = {}
  for (const [name, value] of Object.entries(request.headers)) {
    if (typeof value === 'string' && name !== 'host' && name !== 'content-length')
      headers[name] = value
  }
  return headers
}

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`
}
