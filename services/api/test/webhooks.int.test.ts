import { randomBytes } from 'node:crypto'
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { Webhook } from 'standardwebhooks'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { createKeys } from '@outbound/store'
import { type App, ApiHarness } from './helpers/api-harness.js'

const h = new ApiHarness()
let app: App
const secretKey = randomBytes(32).toString('base64')

type Json = Record<string, unknown>
async function call(method: 'GET' | 'POST' | 'PATCH' | 'DELETE', url: string, payload?: object) {
  const response = await app.inject({ method, url, ...(payload === undefined ? {} : { payload }) })
  return { status: response.statusCode, body: response.body === '' ? {} : response.json<Json>() }
}

type Received = { headers: IncomingHttpHeaders; body: string }
let receiver: Server
let received: Received[]
let replyStatus: number
let receiverUrl: string

beforeAll(() => h.beforeAll())
afterAll(() => h.afterAll())
beforeEach(async () => {
  await h.beforeEach()
  app = await h.makeApp({ OUTBOUND_SECRET_KEY: secretKey, WEBHOOK_ALLOW_PRIVATE_URLS: 'true' })
  received = []
  replyStatus = 200
  receiver = createServer((request, response) => {
    const chunks: Buffer[] = []
    request.on('data', (chunk: Buffer) => chunks.push(chunk))
    request.on('end', () => {
      received.push({ headers: request.headers, body: Buffer.concat(chunks).toString('utf8') })
      response.writeHead(replyStatus).end(`reply ${replyStatus}`)
    })
  })
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve))
  receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`
})
afterEach(async () => {
  await new Promise((resolve) => receiver.close(resolve))
  await h.afterEach()
})

function verify(secret: string, request: Received, signature?: string): unknown {
  return new Webhook(secret).verify(request.body, {
    'webhook-id': String(request.headers['webhook-id']),
    'webhook-timestamp': String(request.headers['webhook-timestamp']),
    'webhook-signature': signature ?? String(request.headers['webhook-signature']),
  })
}

describe('/v1/webhooks', () => {
  it('creates an endpoint and shows its secret in that answer only', async () => {
    const created = await call('POST', '/v1/webhooks', {
      url: receiverUrl,
      events: ['email.sent', 'email.bounced'],
      description: 'CRM',
    })
    expect(created.status).toBe(201)
    expect(created.body).toMatchObject({
      url: receiverUrl,
      events: ['email.sent', 'email.bounced'],
      description: 'CRM',
      active: true,
      disabledReason: null,
    })
    expect(created.body['secret']).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/)
    const id = String(created.body['id'])
    const read = await call('GET', `/v1/webhooks/${id}`)
    expect(read.status).toBe(200)
    expect(read.body).not.toHaveProperty('secret')
    expect(read.body).not.toHaveProperty('secrets')
    expect((await call('GET', '/v1/webhooks')).body).toEqual([read.body])
    // At rest the secret is sealed: its text appears nowhere in Redis.
    const stored = await h.redis.hget(createKeys(h.prefix).config('webhooks'), id)
    expect(stored).not.toContain(String(created.body['secret']).slice(6))
    expect(h.logged.join('\n')).not.toContain(String(created.body['secret']).slice(6))

    const patched = await call('PATCH', `/v1/webhooks/${id}`, { events: ['*'], active: false })
    expect(patched.body).toMatchObject({ events: ['*'], active: false })
    expect((await call('DELETE', `/v1/webhooks/${id}`)).status).toBe(204)
    expect((await call('GET', `/v1/webhooks/${id}`)).body).toMatchObject({
      code: 'WEBHOOK_NOT_FOUND',
    })
  })

  it('refuses unknown event types, a bad URL, and unsafe hosts with stable codes', async () => {
    expect(
      (await call('POST', '/v1/webhooks', { url: receiverUrl, events: ['email.opened'] })).body,
    ).toMatchObject({ statusCode: 400, code: 'INVALID_EVENT_TYPE' })
    expect(
      (await call('POST', '/v1/webhooks', { url: receiverUrl, events: ['*', 'email.sent'] })).body,
    ).toMatchObject({ statusCode: 400, code: 'INVALID_EVENT_TYPE' })
    expect(
      (await call('POST', '/v1/webhooks', { url: 'ftp://example.com/', events: ['*'] })).body,
    ).toMatchObject({ statusCode: 400, code: 'INVALID_URL' })
    expect(
      (
        await call('POST', '/v1/webhooks', {
          url: `https://example.com/${'a'.repeat(2100)}`,
          events: ['*'],
        })
      ).status,
    ).toBe(400)

    app = await h.makeApp({ OUTBOUND_SECRET_KEY: secretKey })
    for (const url of [
      'http://127.0.0.1/hook',
      'http://10.0.0.8/hook',
      'http://169.254.169.254/latest/meta-data/',
      'http://[::1]/hook',
      'http://localhost:8080/hook',
      'http://[::ffff:192.168.0.1]/hook',
    ]) {
      expect((await call('POST', '/v1/webhooks', { url, events: ['*'] })).body).toMatchObject({
        statusCode: 422,
        code: 'WEBHOOK_URL_NOT_ALLOWED',
      })
    }
    expect((await call('GET', '/v1/webhooks')).body).toEqual([])
  })

  it('needs the admin scope', async () => {
    app = await h.makeApp({
      OUTBOUND_SECRET_KEY: secretKey,
      OUTBOUND_API_KEYS: 'app:send+read:send-secret-0123456789,ops:admin:admin-secret-0123456789',
    })
    const list = (secret: string) =>
      app.inject({
        method: 'GET',
        url: '/v1/webhooks',
        headers: { authorization: `Bearer ${secret}` },
      })
    expect((await list('send-secret-0123456789')).statusCode).toBe(403)
    expect((await list('admin-secret-0123456789')).statusCode).toBe(200)
  })

  it('sends a signed webhook.test event and logs the attempt', async () => {
    const created = await call('POST', '/v1/webhooks', { url: receiverUrl, events: ['*'] })
    const id = String(created.body['id'])
    const secret = String(created.body['secret'])
    const tested = await call('POST', `/v1/webhooks/${id}/test`)
    expect(tested.body).toMatchObject({ ok: true, statusCode: 200, response: 'reply 200' })
    const [request] = received
    if (request === undefined) throw new Error('nothing received')
    expect(verify(secret, request)).toMatchObject({ type: 'webhook.test', data: { webhookId: id } })
    expect(request.headers['webhook-id']).toBe(tested.body['eventId'])

    replyStatus = 503
    expect((await call('POST', `/v1/webhooks/${id}/test`)).body).toMatchObject({
      ok: false,
      statusCode: 503,
    })
    const log = await call('GET', `/v1/webhooks/${id}/deliveries`)
    expect(log.body).toMatchObject([
      { type: 'webhook.test', status: 'failed', statusCode: 503, response: 'reply 503' },
      { type: 'webhook.test', status: 'succeeded', statusCode: 200, attempt: 1 },
    ])
    expect(
      (await call('GET', `/v1/webhooks/${id}/deliveries?status=succeeded&limit=5`)).body,
    ).toHaveLength(1)

    // A replay of a kept event goes to the queue of deliveries.
    const replay = await call(
      'POST',
      `/v1/webhooks/${id}/deliveries/${String(tested.body['eventId'])}/retry`,
    )
    expect(replay.status).toBe(202)
    expect(await h.webhookQueue.getJobCounts('wait')).toEqual({ wait: 1 })
    expect(
      (await call('POST', `/v1/webhooks/${id}/deliveries/evt_unknown/retry`)).body,
    ).toMatchObject({ code: 'WEBHOOK_EVENT_NOT_FOUND' })
  })

  it('rotates the secret: both sign for 24 h, each signature verifying with its own secret', async () => {
    const created = await call('POST', '/v1/webhooks', { url: receiverUrl, events: ['*'] })
    const id = String(created.body['id'])
    const oldSecret = String(created.body['secret'])
    const rotated = await call('POST', `/v1/webhooks/${id}/rotate-secret`)
    expect(rotated.status).toBe(200)
    const newSecret = String(rotated.body['secret'])
    expect(newSecret).not.toBe(oldSecret)
    const expiresAt = Date.parse(String(rotated.body['previousSecretExpiresAt']))
    expect(expiresAt - Date.now()).toBeGreaterThan(23.9 * 3600 * 1000)
    await call('POST', `/v1/webhooks/${id}/test`)
    const [request] = received
    if (request === undefined) throw new Error('nothing received')
    const [first = '', second = ''] = String(request.headers['webhook-signature']).split(' ')
    expect(() => verify(newSecret, request, first)).not.toThrow()
    expect(() => verify(oldSecret, request, second)).not.toThrow()
    expect(() => verify(oldSecret, request, first)).toThrow()
    // Verifiers given the whole header accept either secret.
    expect(() => verify(newSecret, request)).not.toThrow()
    expect(() => verify(oldSecret, request)).not.toThrow()
  })
})
