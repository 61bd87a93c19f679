import { randomBytes } from 'node:crypto'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { type App, ApiHarness } from './helpers/api-harness.js'

// What a client reads when its request does not match a route's schema.
const h = new ApiHarness()
let app: App

const email = { from: 'ann@shop.example', to: 'bob@example.com', subject: 'Hi', text: 'x' }
const server = { name: 'A', host: 'smtp.shop.example', port: 587, security: 'starttls' }

async function post(url: string, payload: object) {
  const response = await app.inject({ method: 'POST', url, payload })
  return { status: response.statusCode, body: response.json<Record<string, unknown>>() }
}

beforeAll(() => h.beforeAll())
afterAll(() => h.afterAll())
beforeEach(async () => {
  await h.beforeEach()
  app = await h.makeApp({ OUTBOUND_SECRET_KEY: randomBytes(32).toString('base64') })
})
afterEach(() => h.afterEach())

describe('schema refusals name the field and what it allows', () => {
  it.each<[string, string, object, string, string, string]>([
    [
      'an unknown field',
      '/v1/emails',
      { ...email, htm: '<p>' },
      'VALIDATION_FAILED',
      'body.htm',
      'unknown field "htm"',
    ],
    [
      'a wrong stream',
      '/v1/emails',
      { ...email, stream: 'bulk' },
      'INVALID_STREAM',
      'body.stream',
      'stream must be one of transactional, mass',
    ],
    [
      'a recipient number',
      '/v1/emails',
      { ...email, to: 7 },
      'VALIDATION_FAILED',
      'body.to',
      'to must be a string or a list of strings',
    ],
    [
      'a missing subject',
      '/v1/emails',
      { from: email.from, to: email.to },
      'VALIDATION_FAILED',
      'body.subject',
      'subject is required',
    ],
    [
      'a port out of range',
      '/v1/servers',
      { ...server, port: 70_000 },
      'INVALID_PORT',
      'body.port',
      'port must be a whole number from 1 to 65535',
    ],
  ])('%s', async (_what, url, payload, code, field, message) => {
    const response = await post(url, payload)
    expect(response).toEqual({
      status: 400,
      body: { statusCode: 400, code, error: 'Bad Request', message, details: { field } },
    })
  })

  it('reports a batch item mistake in that item result', async () => {
    const response = await post('/v1/emails/batch', {
      emails: [email, { ...email, stream: 'bulk' }],
    })
    expect(response.status).toBe(202)
    expect(response.body['results']).toMatchObject([
      { id: expect.any(String) },
      {
        error: {
          code: 'INVALID_STREAM',
          message: 'emails[1].stream must be one of transactional, mass',
          details: { field: 'emails[1].stream' },
        },
      },
    ])
  })
})
