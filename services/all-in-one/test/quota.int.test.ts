import type { ChildProcess } from 'node:child_process'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createOutboundClient, type OutboundClient } from '@outbound/client'
import {
  deleteKeysWithPrefix,
  type SmtpSink,
  startSmtpSink,
  startTestRedis,
  type TestRedis,
  waitFor,
} from '@outbound/testing'
import { startApi, startService, stopService, WORKER_MAIN } from './helpers/processes.js'

// Real processes: one API and four workers racing for one daily limit.
let redis: TestRedis
let sink: SmtpSink
const children: ChildProcess[] = []
let base = ''
// The API as its users call it: the typed client.
let client: OutboundClient

/** A call's success body; a refusal fails the test with the API's error. */
async function ok<T>(call: Promise<{ data?: T; error?: unknown }>): Promise<T> {
  const { data, error } = await call
  if (data === undefined) throw new Error(`refused: ${JSON.stringify(error)}`)
  return data
}

beforeAll(async () => {
  redis = await startTestRedis()
  sink = await startSmtpSink()
  const env = { REDIS_URL: redis.url }
  for (let i = 0; i < 4; i++) children.push(startService(WORKER_MAIN, ['--pool', 'all'], env))
  const api = await startApi(env)
  children.push(api.child)
  base = api.base
  client = createOutboundClient({ baseUrl: base })
})
afterAll(async () => {
  await Promise.all(children.map((child) => stopService(child)))
  await sink.close()
  await deleteKeysWithPrefix(redis.url, 'outbound:')
  await redis.stop()
})

describe('the daily quota with four worker processes', () => {
  it('delivers exactly 100 of 300 messages and defers 200 to the reset', async () => {
    const server = await ok(
      client.POST('/v1/servers', {
        body: {
          name: 'limited',
          host: '127.0.0.1',
          port: sink.port,
          security: 'none',
          dailyLimit: 100,
        },
      }),
    )
    const emails = Array.from({ length: 300 }, (_, i) => ({
      from: 'ann@shop.example',
      to: `r${i}@example.com`,
      subject: `${i}`,
      text: 'x',
    }))
    const { results } = await ok(client.POST('/v1/emails/batch', { body: { emails } }))
    const ids = results.flatMap((r) => ('id' in r ? [r.id] : []))
    expect(ids).toHaveLength(300)

    const statuses = await waitFor(
      async () => {
        const all = await Promise.all(
          ids.map((id) => ok(client.GET('/v1/emails/{id}', { params: { path: { id } } }))),
        )
        const sent = all.filter((m) => m.status === 'sent').length
        const deferred = all.filter((m) => m.status === 'deferred').length
        return sent + deferred === 300 ? all : null
      },
      { timeoutMs: 30_000, what: 'all 300 messages to be sent or deferred' },
    )
    expect(statuses.filter((m) => m.status === 'sent')).toHaveLength(100)
    expect(sink.messages).toHaveLength(100)

    const [quota] = (await ok(client.GET('/v1/quota'))).filter((q) => q.serverId === server.id)
    expect(quota).toMatchObject({ used: 100, remaining: 0 })
    const resetsAt = Date.parse(quota?.resetsAt ?? '')
    const nextUtcMidnight = new Date().setUTCHours(24, 0, 0, 0)
    expect(resetsAt).toBe(nextUtcMidnight)
    for (const message of statuses.filter((m) => m.status === 'deferred')) {
      const until = Date.parse(message.deferredUntil ?? '')
      expect(until).toBeGreaterThanOrEqual(resetsAt)
      expect(until).toBeLessThan(resetsAt + 30_000)
    }

    const metrics = await (await fetch(`${base}/metrics`)).text()
    expect(metrics).toContain(`outbound_quota_used{server="${server.id}"} 100`)
    expect(metrics).toContain(`outbound_quota_used_ratio{server="${server.id}"} 1`)
  })
})
