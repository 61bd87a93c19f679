import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { createServerStateStore } from '@outbound/store'
import { type App, ApiHarness } from './helpers/api-harness.js'

// The API side of shaping (CONTRACT.md, Outgoing servers: shaping, health, failover).
const h = new ApiHarness()
let app: App

type Json = Record<string, unknown>
async function call(method: 'GET' | 'POST' | 'PATCH', url: string, payload?: object) {
  const response = await app.inject({ method, url, ...(payload === undefined ? {} : { payload }) })
  return { status: response.statusCode, body: response.json<Json>() }
}

beforeAll(() => h.beforeAll())
afterAll(() => h.afterAll())
beforeEach(async () => {
  await h.beforeEach()
  app = await h.makeApp()
})
afterEach(() => h.afterEach())

const base = { name: 'S', host: 'smtp.example.com', port: 587 }

describe('server shaping fields', () => {
  it('takes a rate limit, a warm-up schedule and failover, and shows the state', async () => {
    const created = await call('POST', '/v1/servers', {
      ...base,
      rateLimit: '600/min',
      warmupSchedule: [50, 100],
      failover: false,
    })
    expect(created).toMatchObject({
      status: 201,
      body: {
        rateLimit: '600/min',
        warmupSchedule: [50, 100],
        warmupStartedAt: expect.any(String),
        failover: false,
        maxConnections: 5,
        state: { status: 'ok', until: null, reason: null, consecutiveFailures: 0 },
      },
    })
    // GET /v1/quota shows the warm-up's limit for today, not dailyLimit.
    const quota = await call('GET', '/v1/quota')
    expect(quota.body).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ serverId: created.body['id'], limit: 50 }),
      ]),
    )
  })

  it.each([
    ['rateLimit', '40/sec', 'INVALID_RATE_LIMIT'],
    ['rateLimit', '0/s', 'INVALID_RATE_LIMIT'],
    ['rateLimit', 40, 'INVALID_RATE_LIMIT'],
    ['warmupSchedule', [], 'INVALID_WARMUP_SCHEDULE'],
    ['warmupSchedule', [50, -1], 'INVALID_WARMUP_SCHEDULE'],
  ])('refuses %s %j with %s', async (field, value, code) => {
    const response = await call('POST', '/v1/servers', { ...base, [field]: value })
    expect(response).toMatchObject({
      status: 400,
      body: { code, details: { field: expect.stringMatching(new RegExp(`${field}$`)) } },
    })
  })

  it('shows a down server as such, and reset-state makes it ok at once', async () => {
    const created = await call('POST', '/v1/servers', base)
    const id = String(created.body['id'])
    const states = createServerStateStore(h.redis, h.prefix)
    await states.updateServerState(id, () => ({
      status: 'down',
      since: new Date().toISOString(),
      until: new Date(Date.now() + 30_000).toISOString(),
      reason: 'connect ECONNREFUSED',
      consecutiveFailures: 3,
      backoffMs: 30_000,
      lastThrottledAt: null,
    }))
    expect((await call('GET', `/v1/servers/${id}`)).body['state']).toMatchObject({
      status: 'down',
      reason: 'connect ECONNREFUSED',
      consecutiveFailures: 3,
    })
    const reset = await call('POST', `/v1/servers/${id}/reset-state`)
    expect(reset).toMatchObject({ status: 200, body: { state: { status: 'ok' } } })
    expect((await call('GET', '/v1/servers')).body).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ id, state: expect.objectContaining({ status: 'ok' }) }),
      ]),
    )
  })

  it('takes maxQueueHours in the settings', async () => {
    expect((await call('GET', '/v1/settings')).body['maxQueueHours']).toBe(72)
    expect(await call('PATCH', '/v1/settings', { maxQueueHours: 24 })).toMatchObject({
      status: 200,
      body: { maxQueueHours: 24 },
    })
  })
})
