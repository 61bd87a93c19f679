import { type ChildProcess, spawn } from 'node:child_process'
import { join, resolve } from 'node:path'
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

// Real processes (`pnpm build` first): one API and four workers racing for one daily limit.
const repo = resolve(import.meta.dirname, '../../..')
const start = (main: string, args: string[], env: Record<string, string>): ChildProcess =>
  spawn(process.execPath, [join(repo, main), ...args], {
    env: { PATH: process.env['PATH'], LOG_LEVEL: 'warn', ...env },
    stdio: 'ignore',
  })
const stop = async (child: ChildProcess) => {
  if (child.exitCode !== null) return
  const exited = new Promise((r) => child.once('exit', r))
  child.kill('SIGTERM')
  await exited
}

let redis: TestRedis
let sink: SmtpSink
const children: ChildProcess[] = []
let base = ''

async function api<T>(method: string, path: string, body?: object): Promise<T> {
  const response = await fetch(`${base}${path}`, {
    method,
    ...(body === undefined
      ? {}
      : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
  })
  return (await response.json()) as T
}

beforeAll(async () => {
  redis = await startTestRedis()
  sink = await startSmtpSink()
  const port = await freePort()
  base = `http://127.0.0.1:${port}`
  const env = { REDIS_URL: redis.url, PORT: String(port) }
  children.push(start('services/api/dist/main.js', [], env))
  for (let i = 0; i < 4; i++)
    children.push(start('services/worker/dist/main.js', ['--pool', 'all'], env))
  await waitFor(
    () =>
      fetch(`${base}/ready`).then(
        (r) => r.ok,
        () => false,
      ),
    { timeoutMs: 30_000, what: 'the API' },
  )
})
afterAll(async () => {
  await Promise.all(children.map(stop))
  await sink.close()
  await deleteKeysWithPrefix(redis.url, 'outbound:')
  await redis.stop()
})

describe('the daily quota with four worker processes', () => {
  it('delivers exactly 100 of 300 messages and defers 200 to the reset', async () => {
    const server = await api<{ id: string }>('POST', '/v1/servers', {
      name: 'limited',
      host: '127.0.0.1',
      port: sink.port,
      security: 'none',
      dailyLimit: 100,
    })
    const emails = Array.from({ length: 300 }, (_, i) => ({
      from: 'ann@shop.example',
      to: `r${i}@example.com`,
      subject: `${i}`,
      text: 'x',
    }))
    const { results } = await api<{ results: { id: string }[] }>('POST', '/v1/emails/batch', {
      emails,
    })
    const ids = results.map((r) => r.id)
    expect(ids).toHaveLength(300)

    const statuses = await waitFor(
      async () => {
        const all = await Promise.all(
          ids.map((id) =>
            api<{ status: string; deferredUntil: string | null }>('GET', `/v1/emails/${id}`),
          ),
        )
        const sent = all.filter((m) => m.status === 'sent').length
        const deferred = all.filter((m) => m.status === 'deferred').length
        return sent + deferred === 300 ? all : null
      },
      { timeoutMs: 30_000, what: 'all 300 messages to be sent or deferred' },
    )
    expect(statuses.filter((m) => m.status === 'sent')).toHaveLength(100)
    expect(sink.messages).toHaveLength(100)

    const [quota] = (
      await api<{ serverId: string; used: number; remaining: number; resetsAt: string }[]>(
        'GET',
        '/v1/quota',
      )
    ).filter((q) => q.serverId === server.id)
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
