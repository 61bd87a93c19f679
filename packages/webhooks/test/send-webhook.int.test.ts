import { createServer, type IncomingHttpHeaders, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { Webhook } from 'standardwebhooks'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { newWebhookSecret, sendWebhook, type OutgoingEvent } from '../src/index.js'

type Received = { headers: IncomingHttpHeaders; body: string }

const event: OutgoingEvent = {
  id: 'evt_01TEST',
  type: 'email.sent',
  timestamp: '2026-01-02T03:04:05.000Z',
  data: { messageId: 'msg_1', status: 'sent' },
}

describe('sendWebhook', () => {
  let server: Server
  let received: Received[]
  let reply: (path: string) => { status: number; body: string; headers?: Record<string, string> }
  let base: string

  beforeEach(async () => {
    received = []
    reply = () => ({ status: 200, body: 'ok' })
    server = createServer((request, response) => {
      const chunks: Buffer[] = []
      request.on('data', (chunk: Buffer) => chunks.push(chunk))
      request.on('end', () => {
        received.push({ headers: request.headers, body: Buffer.concat(chunks).toString('utf8') })
        const answer = reply(request.url ?? '/')
        response.writeHead(answer.status, answer.headers ?? {}).end(answer.body)
      })
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  })
  afterEach(async () => {
    await new Promise((resolve) => server.close(resolve))
  })

  const options = (secrets: string[]) => ({
    secrets,
    at: new Date(),
    allowPrivate: true,
    timeoutMs: 10_000,
  })

  it('sends a body and headers that Webhook.verify accepts, and a tampered body it refuses', async () => {
    const secret = newWebhookSecret()
    const result = await sendWebhook(`${base}/hook?x=1`, event, options([secret]))
    expect(result).toMatchObject({ kind: 'replied', statusCode: 200, body: 'ok' })
    const [request] = received
    if (request === undefined) throw new Error('nothing received')
    expect(request.headers['content-type']).toBe('application/json')
    expect(request.headers['webhook-id']).toBe(event.id)
    expect(request.headers['webhook-signature']).toMatch(/^v1,[A-Za-z0-9+/=]+$/)
    const headers = {
      'webhook-id': String(request.headers['webhook-id']),
      'webhook-timestamp': String(request.headers['webhook-timestamp']),
      'webhook-signature': String(request.headers['webhook-signature']),
    }
    expect(new Webhook(secret).verify(request.body, headers)).toEqual({
      type: event.type,
      timestamp: event.timestamp,
      data: event.data,
    })
    expect(() =>
      new Webhook(secret).verify(request.body.replace('msg_1', 'msg_2'), headers),
    ).toThrow()
    expect(() => new Webhook(newWebhookSecret()).verify(request.body, headers)).toThrow()
  })

  it('signs with every secret given, each signature verifying with its own secret', async () => {
    const current = newWebhookSecret()
    const previous = newWebhookSecret()
    await sendWebhook(base, event, options([current, previous]))
    const [request] = received
    if (request === undefined) throw new Error('nothing received')
    const signatures = String(request.headers['webhook-signature']).split(' ')
    expect(signatures).toHaveLength(2)
    for (const [index, secret] of [current, previous].entries()) {
      const only = {
        'webhook-id': String(request.headers['webhook-id']),
        'webhook-timestamp': String(request.headers['webhook-timestamp']),
        'webhook-signature': signatures[index] ?? '',
      }
      expect(() => new Webhook(secret).verify(request.body, only)).not.toThrow()
    }
  })

  it('follows no redirect and keeps at most 1 KiB of the reply', async () => {
    reply = (path) =>
      path === '/moved'
        ? { status: 302, body: '', headers: { location: `${base}/elsewhere` } }
        : { status: 500, body: 'x'.repeat(5000) }
    expect(await sendWebhook(`${base}/moved`, event, options([newWebhookSecret()]))).toMatchObject({
      kind: 'replied',
      statusCode: 302,
    })
    expect(received).toHaveLength(1)
    const big = await sendWebhook(`${base}/big`, event, options([newWebhookSecret()]))
    expect(big.kind === 'replied' && big.body.length).toBe(1024)
  })

  it('refuses loopback, private and metadata hosts, and names resolving to them, without the opt-in', async () => {
    const strict = { ...options([newWebhookSecret()]), allowPrivate: false }
    for (const url of [
      base,
      'http://10.1.2.3/hook',
      'http://169.254.169.254/latest/meta-data',
      'http://[::1]:8080/',
      `http://localhost:${new URL(base).port}/`,
    ]) {
      expect(await sendWebhook(url, event, strict)).toMatchObject({ kind: 'refused' })
    }
    expect(received).toHaveLength(0)
  })

  it('answers an error, not a throw, when nothing listens', async () => {
    const port = new URL(base).port
    await new Promise((resolve) => server.close(resolve))
    server = createServer()
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    const result = await sendWebhook(
      `http://127.0.0.1:${port}/`,
      event,
      options([newWebhookSecret()]),
    )
    expect(result.kind).toBe('error')
  })
})
