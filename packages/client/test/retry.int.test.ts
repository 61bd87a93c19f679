import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { createOutboundClient } from '@outbound/client'

// A real tiny HTTP server that answers from a script: the client's retry layer as a server sees it.
type Seen = { at: number; headers: IncomingHttpHeaders; body: string }
const closers: (() => Promise<void>)[] = []

afterEach(async () => {
  for (const close of closers.splice(0)) await close()
})

async function scriptedServer(
  answers: ((response: ServerResponse) => void)[],
): Promise<{ base: string; seen: Seen[] }> {
  const seen: Seen[] = []
  const server = createServer((request, response) => {
    const chunks: Buffer[] = []
    request.on('data', (chunk: Buffer) => chunks.push(chunk))
    request.on('end', () => {
      seen.push({
        at: Date.now(),
        headers: request.headers,
        body: Buffer.concat(chunks).toString(),
      })
      const answer = answers[Math.min(seen.length, answers.length) - 1]
      answer?.(response)
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  closers.push(() => new Promise((resolve) => server.close(() => resolve())))
  return { base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen }
}

const busy =
  (status: number, retryAfter?: string) =>
  (response: ServerResponse): void => {
    response
      .writeHead(status, {
        'content-type': 'application/json',
        ...(retryAfter === undefined ? {} : { 'retry-after': retryAfter }),
      })
      .end(
        JSON.stringify({ statusCode: status, code: 'RATE_LIMITED', error: 'x', message: 'slow' }),
      )
  }
const accepted = (response: ServerResponse): void => {
  response
    .writeHead(202, { 'content-type': 'application/json' })
    .end(JSON.stringify({ id: 'msg_1', status: 'queued', stream: 'transactional' }))
}
const body = { from: 'a@shop.example', to: ['b@example.com'], subject: 's', text: 't' }

describe('retries of 429 and 503', () => {
  it('waits the Retry-After seconds of a 429, then sends the same request with the same key', async () => {
    const { base, seen } = await scriptedServer([busy(429, '1'), accepted])
    const client = createOutboundClient({ baseUrl: base, apiKey: 'k'.repeat(20) })
    const sent = await client.POST('/v1/emails', { body })
    expect(sent.data).toEqual({ id: 'msg_1', status: 'queued', stream: 'transactional' })
    expect(seen).toHaveLength(2)
    const [first, second] = seen
    expect((second?.at ?? 0) - (first?.at ?? 0)).toBeGreaterThanOrEqual(950)
    expect(first?.headers['idempotency-key']).toMatch(/^[0-9a-f-]{36}$/)
    expect(second?.headers['idempotency-key']).toBe(first?.headers['idempotency-key'])
    expect(second?.headers['authorization']).toBe(`Bearer ${'k'.repeat(20)}`)
    expect(JSON.parse(second?.body ?? '')).toEqual(body)
  })

  it('reads a Retry-After given as an HTTP date on a 503', async () => {
    const date = new Date(Date.now() + 2000).toUTCString()
    const { base, seen } = await scriptedServer([busy(503, date), accepted])
    const client = createOutboundClient({ baseUrl: base })
    const sent = await client.POST('/v1/emails', { body })
    expect(sent.response.status).toBe(202)
    expect(seen).toHaveLength(2)
    // The date has whole seconds: the wait is between 1 and 2 s.
    expect((seen[1]?.at ?? 0) - (seen[0]?.at ?? 0)).toBeGreaterThanOrEqual(900)
  })

  it('gives up after the set number of retries and returns the last answer', async () => {
    const { base, seen } = await scriptedServer([busy(429, '0')])
    const client = createOutboundClient({ baseUrl: base, retry: { retries: 3 } })
    const answer = await client.GET('/v1/quota')
    expect(seen).toHaveLength(4)
    expect(answer.response.status).toBe(429)
    expect(answer.error).toMatchObject({ code: 'RATE_LIMITED' })
  })

  it('does not wait longer than maxDelayMs: a longer Retry-After is returned at once', async () => {
    const { base, seen } = await scriptedServer([busy(503, '120'), accepted])
    const client = createOutboundClient({ baseUrl: base, retry: { maxDelayMs: 5000 } })
    const started = Date.now()
    const answer = await client.POST('/v1/emails', { body })
    expect(answer.response.status).toBe(503)
    expect(seen).toHaveLength(1)
    expect(Date.now() - started).toBeLessThan(2000)
  })

  it('does not retry other answers, nor at all when retry is false', async () => {
    const failing = await scriptedServer([busy(500), accepted])
    const client = createOutboundClient({ baseUrl: failing.base })
    expect((await client.GET('/v1/quota')).response.status).toBe(500)
    expect(failing.seen).toHaveLength(1)

    const limited = await scriptedServer([busy(429, '0'), accepted])
    const once = createOutboundClient({ baseUrl: limited.base, retry: false })
    expect((await once.GET('/v1/quota')).response.status).toBe(429)
    expect(limited.seen).toHaveLength(1)
  })

  it('keeps a key the caller gave, and gives none to reads', async () => {
    const { base, seen } = await scriptedServer([accepted])
    const client = createOutboundClient({ baseUrl: base })
    await client.POST('/v1/emails', { body, params: { header: { 'idempotency-key': 'order-42' } } })
    await client.GET('/v1/quota')
    expect(seen[0]?.headers['idempotency-key']).toBe('order-42')
    expect(seen[1]?.headers['idempotency-key']).toBeUndefined()
  })
})
