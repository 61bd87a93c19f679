import { connect, type Socket } from 'node:net'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { type App, ApiHarness } from './helpers/api-harness.js'

const h = new ApiHarness()
beforeAll(() => h.beforeAll())
afterAll(() => h.afterAll())
beforeEach(() => h.beforeEach())
afterEach(() => h.afterEach())

const valid = JSON.stringify({
  from: 'ann@shop.example',
  to: 'bob@example.com',
  subject: 'Hi',
  text: 'x',
})
const SHORT = {
  requestMs: 1_000,
  headersMs: 1_000,
  idleMs: 10_000,
  keepAliveMs: 1_000,
  checkIntervalMs: 100,
}

async function listening(app: App): Promise<number> {
  await app.listen({ host: '127.0.0.1', port: 0 })
  const address = app.server.address()
  if (address === null || typeof address === 'string') throw new Error('no port')
  return address.port
}

type Exchange = { socket: Socket; closed: Promise<{ answer: string; afterMs: number }> }

/** A raw connection that sends `head` (latin1) and collects what the server answers until it closes. */
function rawRequest(port: number, head: string): Exchange {
  const socket = connect(port, '127.0.0.1')
  const started = Date.now()
  socket.write(Buffer.from(head, 'latin1'))
  const closed = new Promise<{ answer: string; afterMs: number }>((resolve, reject) => {
    let answer = ''
    socket.setEncoding('utf8')
    socket.on('data', (chunk: string) => (answer += chunk))
    socket.on('error', reject)
    socket.on('close', () => resolve({ answer, afterMs: Date.now() - started }))
  })
  return { socket, closed }
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: nothing after ${ms} ms`)), ms)
  })
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer))
}

/** The longest gap between ticks of a 10 ms timer until stop(): how long the event loop was blocked. */
function watchEventLoop(): { stop: () => number } {
  let last = performance.now()
  let worstMs = 0
  const timer = setInterval(() => {
    const at = performance.now()
    worstMs = Math.max(worstMs, at - last)
    last = at
  }, 10)
  return {
    stop: () => {
      clearInterval(timer)
      return Math.max(worstMs, performance.now() - last)
    },
  }
}

function errorBody(answer: string): unknown {
  return JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4))
}

function post(path: string, headers: string, body: string): string {
  return (
    `POST ${path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n` +
    `Content-Length: ${Buffer.byteLength(body)}\r\n${headers}\r\n${body}`
  )
}

describe('slow and stalled requests', () => {
  // Fastify's requestTimeout defaults to 0: 2,000 stalled POSTs stayed open indefinitely.
  it.each([
    ['drips its body a byte at a time', 50],
    ['stalls after its headers', 0],
  ])(
    'closes a request that %s with 408 REQUEST_TIMEOUT, and still answers /health',
    async (_what, dripEveryMs) => {
      const app = await h.makeApp({}, { timeouts: SHORT })
      const port = await listening(app)
      const head = `POST /v1/emails HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n`
      const { socket, closed } = rawRequest(port, head)
      const drip = dripEveryMs === 0 ? undefined : setInterval(() => socket.write(' '), dripEveryMs)
      try {
        const health = await fetch(`http://127.0.0.1:${port}/health`)
        expect(health.status).toBe(200)
        const { answer, afterMs } = await withTimeout(closed, 15_000, 'the server kept it open')
        expect(answer).toMatch(/^HTTP\/1\.1 408 /)
        expect(errorBody(answer)).toMatchObject({ statusCode: 408, code: 'REQUEST_TIMEOUT' })
        expect(afterMs).toBeGreaterThanOrEqual(SHORT.requestMs - 50)
        expect(afterMs).toBeLessThan(SHORT.requestMs + 5_000)
      } finally {
        clearInterval(drip)
        socket.destroy()
      }
      expect((await fetch(`http://127.0.0.1:${port}/health`)).status).toBe(200)
    },
  )
})

describe('the Idempotency-Key header', () => {
  it.each([
    ['a TAB', 'a\tb'],
    ['a Latin-1 byte', 'caf\xe9'],
    ['257 characters', 'k'.repeat(257)],
  ])('refuses a key with %s with 400 INVALID_IDEMPOTENCY_KEY', async (_what, key) => {
    const port = await listening(await h.makeApp())
    const { closed } = rawRequest(
      port,
      post('/v1/emails', `Idempotency-Key: ${key}\r\nConnection: close\r\n`, valid),
    )
    const { answer } = await withTimeout(closed, 15_000, 'no answer')
    expect(answer).toMatch(/^HTTP\/1\.1 400 /)
    expect(errorBody(answer)).toMatchObject({
      statusCode: 400,
      code: 'INVALID_IDEMPOTENCY_KEY',
      error: 'Bad Request',
      message: expect.stringContaining('visible ASCII'),
    })
  })

  it('accepts visible ASCII with spaces inside', async () => {
    const port = await listening(await h.makeApp())
    const { closed } = rawRequest(
      port,
      post('/v1/emails', `Idempotency-Key: order 42/#~!\r\nConnection: close\r\n`, valid),
    )
    const { answer } = await withTimeout(closed, 15_000, 'no answer')
    expect(answer).toMatch(/^HTTP\/1\.1 202 /)
  })

  // Node's parser refused these before the API saw them, with Fastify's own body, not the contract's.
  it.each([
    ['a control character', 'a\x01b'],
    ['a NUL', 'a\x00b'],
    ['a bare CR', 'a\rb'],
  ])('answers a header value with %s with the contract body and closes', async (_what, key) => {
    const port = await listening(await h.makeApp())
    const { closed } = rawRequest(port, post('/v1/emails', `Idempotency-Key: ${key}\r\n`, valid))
    const { answer } = await withTimeout(closed, 15_000, 'the connection stayed open')
    expect(answer).toMatch(/^HTTP\/1\.1 400 /)
    expect(errorBody(answer)).toEqual({
      statusCode: 400,
      code: 'INVALID_HEADER',
      error: 'Bad Request',
      message: expect.stringContaining('control character'),
    })
  })
})

describe('requests Node refuses', () => {
  it('answers headers over 16 KiB with 431 HEADERS_TOO_LARGE and closes', async () => {
    const port = await listening(await h.makeApp())
    const { closed } = rawRequest(
      port,
      post('/v1/emails', `X-Big: ${'b'.repeat(20_000)}\r\n`, valid),
    )
    const { answer } = await withTimeout(closed, 15_000, 'the connection stayed open')
    expect(answer).toMatch(/^HTTP\/1\.1 431 /)
    expect(errorBody(answer)).toMatchObject({ statusCode: 431, code: 'HEADERS_TOO_LARGE' })
  })
})

describe('JSON bodies', () => {
  let app: App
  beforeEach(async () => {
    app = await h.makeApp()
  })

  const postJson = (url: string, payload: string, contentType = 'application/json') =>
    app.inject({ method: 'POST', url, payload, headers: { 'content-type': contentType } })
  const nested = (depth: number) => '['.repeat(depth) + ']'.repeat(depth)

  it('refuses JSON nested deeper than 32 levels, and parses 32', async () => {
    const deep = await postJson('/v1/emails/batch', `{"emails":[${nested(32)}]}`)
    expect(deep.statusCode).toBe(400)
    expect(deep.json()).toMatchObject({
      code: 'VALIDATION_FAILED',
      message: 'JSON nested deeper than 32 levels',
    })
    const fits = await postJson('/v1/emails/batch', `{"emails":[${nested(30)}]}`)
    expect(fits.statusCode).toBe(202)
    expect(fits.json()).toMatchObject({ results: [{ error: { code: 'VALIDATION_FAILED' } }] })
  })

  it('parses application/json with a charset, and still refuses prototype poisoning', async () => {
    const withCharset = await postJson('/v1/emails', valid, 'application/json; charset=utf-8')
    expect(withCharset.statusCode).toBe(202)
    const poisoned = await postJson(
      '/v1/emails',
      `{"__proto__":{"admin":true},"from":"a@b.example"}`,
    )
    expect(poisoned.statusCode).toBe(400)
    expect(poisoned.json()).toMatchObject({ code: 'INVALID_JSON' })
    const constructor = await postJson(
      '/v1/emails',
      `{"constructor":{"prototype":{"admin":true}},"from":"a@b.example"}`,
    )
    expect(constructor.json()).toMatchObject({ code: 'INVALID_JSON' })
  })

  // 38 MiB of nested arrays blocked the event loop for 20 s (JSON.parse, ~1 µs per array).
  it.each([
    ['deeply nested arrays', `{"emails":[${nested(25 * 1024 * 1024 - 64)}]}`],
    [
      'small nested arrays',
      `{"emails":[${Array(6 * 1024 * 1024)
        .fill('[[[]]]')
        .join(',')}]}`,
    ],
  ])('refuses 50 MiB of %s without blocking the event loop for long', async (_what, body) => {
    const stall = watchEventLoop()
    const response = await postJson('/v1/emails/batch', body)
    const worstMs = stall.stop()
    expect(response.statusCode).toBeGreaterThanOrEqual(400)
    expect(response.statusCode).toBeLessThan(500)
    // Generous for a shared machine: the scan takes well under a second, JSON.parse took 10 s+.
    expect(worstMs).toBeLessThan(3_000)
  })
})
