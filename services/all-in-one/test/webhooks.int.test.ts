import type { ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { createServer, type IncomingHttpHeaders } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Webhook } from 'standardwebhooks'
import { afterEach, describe, expect, it } from 'vitest'
import { startLocalRedis } from '@outbound/local-redis'
import { startSmtpSink, waitFor } from '@outbound/testing'
import { startApi, startService, stopService, WORKER_MAIN } from './helpers/processes.js'

// Real processes: every final outcome's event reaches the endpoint, whatever process dies.
const running: ChildProcess[] = []
const cleanups: (() => Promise<void>)[] = []

afterEach(async () => {
  await Promise.all(running.splice(0).map((child) => stopService(child)))
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

type Delivered = { headers: IncomingHttpHeaders; body: string }

async function call<T>(url: string, body?: object, method = 'POST'): Promise<T> {
  const response = await fetch(url, {
    method,
    ...(body === undefined
      ? {}
      : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
  })
  if (!response.ok) throw new Error(`${url}: ${response.status} ${await response.text()}`)
  return (await response.json()) as T
}

describe('webhook events across a worker crash', () => {
  it('delivers the event of every final outcome when a worker is killed with SIGKILL mid-batch', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'outbound-webhooks-'))
    const redis = await startLocalRedis({
      dataDir,
      appendOnly: true,
      searchPath: process.env['PATH'] ?? '',
    })
    // A slow end of DATA keeps sends (and their outcomes' events) in flight when the worker dies.
    const sink = await startSmtpSink({ dataReplyDelayMs: 20 })
    const delivered: Delivered[] = []
    const receiver = createServer((request, response) => {
      const chunks: Buffer[] = []
      request.on('data', (chunk: Buffer) => chunks.push(chunk))
      request.on('end', () => {
        delivered.push({ headers: request.headers, body: Buffer.concat(chunks).toString('utf8') })
        response.writeHead(204).end()
      })
    })
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve))
    cleanups.push(async () => {
      await new Promise((resolve) => receiver.close(resolve))
      await sink.close()
      await redis.stop()
      rmSync(dataDir, { recursive: true, force: true })
    })
    const env = {
      REDIS_URL: redis.url,
      OUTBOUND_SECRET_KEY: randomBytes(32).toString('base64'),
      WEBHOOK_ALLOW_PRIVATE_URLS: 'true',
    }
    const { child: api, base } = await startApi(env)
    running.push(api)
    await call(`${base}/v1/settings`, { defaultDailyLimit: 100_000_000 }, 'PATCH')
    const { secret } = await call<{ secret: string }>(`${base}/v1/webhooks`, {
      url: `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/events`,
      events: ['email.sent', 'email.failed', 'email.bounced'],
    })
    const workerEnv = { ...env, SMTP_URL: sink.url }
    const victim = startService(WORKER_MAIN, ['--pool', 'all'], workerEnv)
    running.push(victim, startService(WORKER_MAIN, ['--pool', 'all'], workerEnv))

    const emails = Array.from({ length: 1000 }, (_, i) => ({
      from: 'ann@shop.example',
      to: `r${i}@example.com`,
      subject: `crash ${i}`,
      text: 'x',
    }))
    const { results } = await call<{ results: { id: string }[] }>(`${base}/v1/emails/batch`, {
      emails,
    })
    const ids = results.map((r) => r.id)
    const acceptedAt = Date.now()
    await waitFor(() => delivered.length >= 150 && sink.messages.length >= 300, {
      timeoutMs: 60_000,
      what: 'deliveries under way',
    })
    await stopService(victim, 'SIGKILL')
    const killedAfter = { ms: Date.now() - acceptedAt, events: delivered.length }

    // Final records, read through the API once every message has one.
    const finals = await waitFor(
      async () => {
        const records = await Promise.all(
          ids.map((id) =>
            call<{ id: string; status: string }>(`${base}/v1/emails/${id}`, undefined, 'GET'),
          ),
        )
        const final = records.filter((r) => ['sent', 'failed', 'bounced'].includes(r.status))
        return final.length === ids.length ? final : null
      },
      { timeoutMs: 150_000, what: 'every message to reach a final status' },
    )
    // The killed dispatcher's unacknowledged events are claimed after 60 s, its webhook jobs
    // after their 30 s lock: every final outcome's event arrives, each under one webhook-id.
    const idsByMessage = () => {
      const map = new Map<string, Set<string>>()
      for (const { headers, body } of delivered) {
        const { type, data } = JSON.parse(body) as { type: string; data: { messageId: string } }
        if (type !== 'email.sent' && type !== 'email.failed') continue
        const set = map.get(data.messageId) ?? new Set<string>()
        set.add(String(headers['webhook-id']))
        map.set(data.messageId, set)
      }
      return map
    }
    await waitFor(() => finals.every((r) => idsByMessage().has(r.id)), {
      timeoutMs: 150_000,
      what: 'the event of every final outcome',
    })
    process.stdout.write(
      `kill -9 after ${killedAfter.ms} ms (${killedAfter.events} events delivered); every final ` +
        `outcome's event in ${Date.now() - acceptedAt} ms; ${delivered.length} requests in all\n`,
    )
    const perMessage = idsByMessage()
    expect(finals.map((r) => perMessage.get(r.id)?.size)).toEqual(finals.map(() => 1))
    const [sample] = delivered
    if (sample === undefined) throw new Error('nothing delivered')
    expect(() =>
      new Webhook(secret).verify(sample.body, {
        'webhook-id': String(sample.headers['webhook-id']),
        'webhook-timestamp': String(sample.headers['webhook-timestamp']),
        'webhook-signature': String(sample.headers['webhook-signature']),
      }),
    ).not.toThrow()
  }, 360_000)

  it('keeps mail delivery at its pace while the endpoint hangs', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'outbound-webhooks-'))
    const redis = await startLocalRedis({
      dataDir,
      appendOnly: true,
      searchPath: process.env['PATH'] ?? '',
    })
    const sink = await startSmtpSink()
    // A receiver that reads each request and never answers: every attempt waits its 10 s out.
    let hanging = 0
    const receiver = createServer(() => {
      hanging += 1
    })
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve))
    cleanups.push(async () => {
      receiver.closeAllConnections()
      await new Promise((resolve) => receiver.close(resolve))
      await sink.close()
      await redis.stop()
      rmSync(dataDir, { recursive: true, force: true })
    })
    const env = {
      REDIS_URL: redis.url,
      OUTBOUND_SECRET_KEY: randomBytes(32).toString('base64'),
      WEBHOOK_ALLOW_PRIVATE_URLS: 'true',
    }
    const { child: api, base } = await startApi(env)
    running.push(api)
    await call(`${base}/v1/settings`, { defaultDailyLimit: 100_000_000 }, 'PATCH')
    running.push(startService(WORKER_MAIN, ['--pool', 'all'], { ...env, SMTP_URL: sink.url }))

    const batch = async (label: string) => {
      const emails = Array.from({ length: 500 }, (_, i) => ({
        from: 'ann@shop.example',
        to: `r${i}@example.com`,
        subject: `${label} ${i}`,
        text: 'x',
      }))
      const before = sink.messages.length
      const started = Date.now()
      await call(`${base}/v1/emails/batch`, { emails })
      await sink.waitForMessages(before + 500, 120_000)
      return Date.now() - started
    }
    const withoutEndpoint = await batch('baseline')
    await call(`${base}/v1/webhooks`, {
      url: `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hangs`,
      events: ['*'],
    })
    const withHangingEndpoint = await batch('hanging')
    // The receiver was being tried meanwhile (up to WORKER_CONCURRENCY_WEBHOOKS at once).
    expect(hanging).toBeGreaterThan(0)
    process.stdout.write(
      `500 messages: ${withoutEndpoint} ms without an endpoint, ${withHangingEndpoint} ms with a hanging one\n`,
    )
    // Generous: the machine is shared; a blocked mail path would take minutes, not seconds.
    expect(withHangingEndpoint).toBeLessThan(withoutEndpoint * 2 + 5000)
  }, 300_000)
})
