import { randomBytes } from 'node:crypto'
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { Queue, type Worker } from 'bullmq'
import { Redis } from 'ioredis'
import { Webhook } from 'standardwebhooks'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import {
  DELIVER_JOB,
  type DeliverJobData,
  deliverJobOptions,
  messageEvent,
  queuePrefix,
  type WebhookJobData,
  webhookJobOptions,
  WEBHOOKS_QUEUE,
} from '@outbound/jobs'
import { sealSecret } from '@outbound/secrets'
import {
  type BounceStore,
  type ConfigCache,
  type ConfigStore,
  createBounceStore,
  createConfigCache,
  createConfigStore,
  createEventStream,
  createMessageStore,
  createWebhookStore,
  DEFAULT_SETTINGS,
  type MessageStore,
  messageSummary,
  type WebhookStore,
} from '@outbound/store'
import {
  deleteKeysWithPrefix,
  type SmtpSink,
  type SmtpSinkOptions,
  startSmtpSink,
  startTestRedis,
  testPrefix,
  type TestRedis,
  waitFor,
} from '@outbound/testing'
import { newWebhookSecret } from '@outbound/webhooks'
import { startWebhookPool } from '../src/pools.js'
import { createSmtpTransport, smtpSettingsFromUrl } from '../src/transports/smtp-transport.js'
import {
  createTransportRegistry,
  type TransportRegistry,
} from '../src/transports/transport-registry.js'
import { startDispatcher } from '../src/webhooks/dispatcher.js'
import {
  outgoingServer,
  queuedMessage,
  silentLog,
  startTestPools,
} from './helpers/worker-fixtures.js'

type Received = { headers: IncomingHttpHeaders; body: string; at: number }
type Body = { type: string; timestamp: string; data: Record<string, unknown> }

const secretKey = randomBytes(32)
let server: TestRedis
let redis: Redis
let prefix: string
let store: MessageStore
let bounces: BounceStore
let configStore: ConfigStore
let configCache: ConfigCache
let webhookStore: WebhookStore
let subscriber: Redis
let queue: Queue<DeliverJobData>
let webhookQueue: Queue<WebhookJobData>
let workers: Worker[] = []
let stopDispatcher: (() => Promise<void>) | undefined
let transports: TransportRegistry | undefined
let sink: SmtpSink | undefined
let receiver: Server
let receiverUrl: string
let received: Received[]
/** The status the receiver answers a request with (by its webhook-id and how often it came). */
let answer: (eventId: string, seen: number) => number

beforeAll(async () => {
  server = await startTestRedis()
  redis = new Redis(server.url, { maxRetriesPerRequest: null })
})
afterAll(async () => {
  redis.disconnect()
  await server.stop()
})
beforeEach(async () => {
  prefix = testPrefix()
  store = createMessageStore(redis, prefix)
  bounces = createBounceStore(redis, prefix)
  configStore = createConfigStore(redis, prefix)
  webhookStore = createWebhookStore(redis, prefix)
  subscriber = new Redis(server.url)
  configCache = await createConfigCache(configStore, subscriber)
  queue = new Queue('transactional', { connection: redis, prefix: queuePrefix(prefix) })
  webhookQueue = new Queue(WEBHOOKS_QUEUE, { connection: redis, prefix: queuePrefix(prefix) })
  received = []
  answer = () => 200
  receiver = createServer((request, response) => {
    const chunks: Buffer[] = []
    request.on('data', (chunk: Buffer) => chunks.push(chunk))
    request.on('end', () => {
      const id = String(request.headers['webhook-id'])
      const seen = received.filter((r) => r.headers['webhook-id'] === id).length + 1
      received.push({
        headers: request.headers,
        body: Buffer.concat(chunks).toString('utf8'),
        at: Date.now(),
      })
      const status = answer(id, seen)
      response.writeHead(status).end(`answer ${status}`)
    })
  })
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve))
  receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`
})
afterEach(async () => {
  await stopDispatcher?.()
  stopDispatcher = undefined
  await Promise.all(workers.map((w) => w.close()))
  workers = []
  await Promise.all([queue.close(), webhookQueue.close()])
  await transports?.closeAll()
  await sink?.close()
  await configCache.close()
  subscriber.disconnect()
  await new Promise((resolve) => receiver.close(resolve))
  await deleteKeysWithPrefix(server.url, prefix)
})

/** An endpoint for every event on the receiver; returns its secret. */
async function addEndpoint(id = 'wh_1'): Promise<string> {
  const secret = newWebhookSecret()
  const at = new Date().toISOString()
  await configStore.createWebhook(
    {
      id,
      url: receiverUrl,
      events: ['*'],
      description: null,
      active: true,
      disabledReason: null,
      secrets: [{ sealed: sealSecret(secret, secretKey), expiresAt: null }],
      createdAt: at,
      updatedAt: at,
    },
    100,
  )
  await configCache.refresh()
  return secret
}

/** The dispatcher and the webhook pool, as a worker process runs them (opt-in to 127.0.0.1). */
function startWebhooks(retrySchedule: number[], now: () => Date = () => new Date()) {
  const dispatcher = startDispatcher({
    events: createEventStream(redis, prefix),
    webhooks: webhookStore,
    queue: webhookQueue,
    endpoints: () => configCache.current().webhooks,
    retrySchedule,
    consumer: 'test',
    oldestEventAge: () => undefined,
    log: silentLog,
    now: () => new Date(),
    pollMs: 20,
  })
  stopDispatcher = () => dispatcher.stop()
  workers.push(
    startWebhookPool({
      connection: new Redis(server.url, { maxRetriesPerRequest: null }),
      prefix: queuePrefix(prefix),
      concurrency: 4,
      deliver: {
        retrySchedule,
        webhooks: webhookStore,
        configStore,
        endpoints: () => configCache.current().webhooks,
        secretKeys: [secretKey],
        allowPrivateUrls: true,
        attempted: () => undefined,
        now,
        log: silentLog,
      },
      log: silentLog,
    }),
  )
}

async function deliverThrough(options: SmtpSinkOptions, retrySchedule: number[] = [1]) {
  sink = await startSmtpSink(options)
  await configStore.putSettings({
    ...DEFAULT_SETTINGS,
    retrySchedule: { transactional: retrySchedule, mass: retrySchedule },
  })
  await configCache.refresh()
  transports = createTransportRegistry({
    defaultTransport: createSmtpTransport(smtpSettingsFromUrl(sink.url)),
    secretKey: undefined,
  })
  workers.push(
    ...startTestPools({
      redisUrl: server.url,
      redis,
      prefix,
      store,
      configCache,
      transports,
      pool: 'transactional',
      concurrency: { transactional: 2, mass: 1 },
      bounces,
    }),
  )
  return sink
}

async function send(id: string, to: string[]): Promise<void> {
  await store.createMessage(queuedMessage(id, { request: { to, tags: ['t1'], reference: 'ref' } }))
  await queue.add(DELIVER_JOB, { messageId: id }, deliverJobOptions(id, 0))
}

function bodies(): (Body & { request: Received })[] {
  return received.map((request) => ({ ...(JSON.parse(request.body) as Body), request }))
}

async function eventOf(type: string, messageId: string, recipient?: string) {
  return await waitFor(
    () =>
      bodies().find(
        (b) =>
          b.type === type &&
          b.data['messageId'] === messageId &&
          (recipient === undefined || b.data['recipient'] === recipient),
      ),
    { timeoutMs: 20_000, what: `${type} of ${messageId}` },
  )
}

function verify(secret: string, request: Received, body = request.body): unknown {
  return new Webhook(secret).verify(body, {
    'webhook-id': String(request.headers['webhook-id']),
    'webhook-timestamp': String(request.headers['webhook-timestamp']),
    'webhook-signature': String(request.headers['webhook-signature']),
  })
}

describe('webhook events', () => {
  it('reports every outcome with its documented body, signed so that Webhook.verify accepts it', async () => {
    const secret = await addEndpoint()
    startWebhooks([1])
    await deliverThrough({
      replies: {
        'gone@example.com': '550 5.1.1 <gone@example.com>: User unknown',
        'later@example.com': ['451 4.3.0 Temporary local problem', '250 ok'],
        'busy@example.com': '451 4.3.0 try later',
      },
    })
    await bounces.addSuppression({
      address: 'blocked@example.com',
      reason: 'manual',
      source: 'manual',
      createdAt: new Date().toISOString(),
    })
    await send('msg_sent', ['bob@example.com', 'gone@example.com'])
    await send('msg_later', ['later@example.com'])
    await send('msg_busy', ['busy@example.com'])
    await send('msg_blocked', ['blocked@example.com'])
    const scheduled = queuedMessage('msg_cancel')
    await store.createMessage(scheduled)
    const canceledAt = new Date()
    await store.cancelMessage(
      'msg_cancel',
      canceledAt,
      messageEvent(
        'evt_cancel',
        'email.canceled',
        canceledAt,
        messageSummary(scheduled, null),
        'canceled',
        [],
      ),
    )

    const sent = await eventOf('email.sent', 'msg_sent')
    expect(sent.data).toEqual({
      messageId: 'msg_sent',
      stream: 'transactional',
      status: 'sent',
      serverId: 'default',
      reference: 'ref',
      tags: ['t1'],
      metadata: {},
      subject: 'msg_sent',
      to: ['bob@example.com', 'gone@example.com'],
      recipients: [
        {
          address: 'bob@example.com',
          status: 'sent',
          smtpCode: 250,
          enhancedCode: null,
          diagnostic: expect.any(String) as unknown,
        },
        {
          address: 'gone@example.com',
          status: 'bounced',
          smtpCode: 550,
          enhancedCode: '5.1.1',
          diagnostic: expect.stringContaining('User unknown') as unknown,
        },
      ],
    })
    const bounced = await eventOf('email.bounced', 'msg_sent', 'gone@example.com')
    expect(bounced.data).toMatchObject({
      messageId: 'msg_sent',
      recipient: 'gone@example.com',
      kind: 'hard',
      reason: 'user_unknown',
      smtpCode: 550,
      enhancedCode: '5.1.1',
      source: 'smtp',
    })
    expect((await eventOf('email.deferred', 'msg_later')).data).toMatchObject({
      status: 'deferred',
    })
    await eventOf('email.sent', 'msg_later')
    await eventOf('email.deferred', 'msg_busy')
    expect((await eventOf('email.failed', 'msg_busy')).data).toMatchObject({
      status: 'failed',
      recipients: [{ address: 'busy@example.com', status: 'failed' }],
    })
    expect((await eventOf('email.suppressed', 'msg_blocked')).data).toMatchObject({
      status: 'suppressed',
      recipients: [{ address: 'blocked@example.com', status: 'suppressed' }],
    })
    expect((await eventOf('email.canceled', 'msg_cancel')).request.headers['webhook-id']).toBe(
      'evt_cancel',
    )

    for (const { request, type, timestamp } of bodies()) {
      expect(request.headers['content-type']).toBe('application/json')
      expect(String(request.headers['webhook-id'])).toMatch(/^evt_/)
      expect(verify(secret, request)).toMatchObject({ type, timestamp })
      expect(() =>
        verify(secret, request, request.body.replace('"data":{', '"data":{"x":1,')),
      ).toThrow()
    }
  })

  it('reports 90 % of a daily limit used as quota.warning', async () => {
    await addEndpoint()
    startWebhooks([1])
    const smtp = await deliverThrough({})
    await configStore.putServer(
      outgoingServer({ id: 'srv_q', name: 'Q', port: smtp.port, dailyLimit: 10 }),
    )
    await configCache.refresh()
    await send(
      'msg_many',
      Array.from({ length: 9 }, (_, i) => `r${i}@example.com`),
    )
    const warning = await waitFor(() => bodies().find((b) => b.type === 'quota.warning'), {
      timeoutMs: 20_000,
      what: 'quota.warning',
    })
    expect(warning.data).toMatchObject({ serverId: 'srv_q', used: 9, limit: 10, percentUsed: 90 })
  })
})

describe('webhook delivery', () => {
  async function oneEvent(id: string): Promise<void> {
    const message = queuedMessage(id)
    await store.createMessage(message)
    const at = new Date()
    await store.cancelMessage(
      id,
      at,
      messageEvent(
        `evt_${id}`,
        'email.canceled',
        at,
        messageSummary(message, null),
        'canceled',
        [],
      ),
    )
  }

  it('retries a receiver that fails twice, with the same webhook-id, logs every attempt, and replays', async () => {
    await addEndpoint()
    answer = (_, seen) => (seen <= 2 ? 500 : 204)
    startWebhooks([1, 1, 1])
    await oneEvent('msg_r')
    await waitFor(() => received.length === 3, { timeoutMs: 20_000, what: 'three attempts' })
    expect(new Set(received.map((r) => r.headers['webhook-id']))).toEqual(new Set(['evt_msg_r']))
    // The retries waited about a second each (the configured schedule).
    const [first, second, third] = received.map((r) => r.at)
    expect((second ?? 0) - (first ?? 0)).toBeGreaterThanOrEqual(900)
    expect((third ?? 0) - (second ?? 0)).toBeGreaterThanOrEqual(900)
    const log = await waitFor(async () => {
      const attempts = await webhookStore.listAttempts('wh_1', { limit: 10 })
      return attempts.length === 3 ? attempts : null
    })
    expect(log.map((a) => [a.attempt, a.status, a.statusCode, a.response])).toEqual([
      [3, 'succeeded', 204, ''],
      [2, 'pending', 500, 'answer 500'],
      [1, 'pending', 500, 'answer 500'],
    ])
    expect(await webhookStore.listAttempts('wh_1', { status: 'pending', limit: 10 })).toHaveLength(
      2,
    )

    // A replay (what POST …/deliveries/:eventId/retry adds) delivers the same event again.
    await webhookQueue.add(
      'email.canceled',
      { eventId: 'evt_msg_r', endpointId: 'wh_1' },
      webhookJobOptions('evt_msg_r', 'wh_1', [1], 'replay-1'),
    )
    await waitFor(() => received.length === 4, { what: 'the replay' })
    expect(received[3]?.headers['webhook-id']).toBe('evt_msg_r')
  })

  it('turns an endpoint off on 410 Gone', async () => {
    await addEndpoint()
    answer = () => 410
    startWebhooks([1])
    await oneEvent('msg_gone')
    const endpoint = await waitFor(async () => {
      await configCache.refresh()
      const [found] = configCache.current().webhooks
      return found?.active === false ? found : null
    })
    expect(endpoint.disabledReason).toContain('410')
    expect(received).toHaveLength(1)
  })

  it('turns an endpoint off when every delivery failed for 5 days', async () => {
    await addEndpoint()
    answer = () => 500
    let calls = 0
    const start = Date.now()
    // The second attempt happens (by this clock) six days after the first.
    startWebhooks([1, 1, 1], () => new Date(start + (calls++ === 0 ? 0 : 6 * 24 * 3600 * 1000)))
    await oneEvent('msg_down')
    const endpoint = await waitFor(async () => {
      await configCache.refresh()
      const [found] = configCache.current().webhooks
      return found?.active === false ? found : null
    })
    expect(endpoint.disabledReason).toBe('every delivery failed for 5 days')
    expect(received).toHaveLength(2)
  })

  it('never sends to a loopback address without WEBHOOK_ALLOW_PRIVATE_URLS, checked at delivery', async () => {
    await addEndpoint()
    const dispatcher = startDispatcher({
      events: createEventStream(redis, prefix),
      webhooks: webhookStore,
      queue: webhookQueue,
      endpoints: () => configCache.current().webhooks,
      retrySchedule: [],
      consumer: 'test',
      oldestEventAge: () => undefined,
      log: silentLog,
      now: () => new Date(),
      pollMs: 20,
    })
    stopDispatcher = () => dispatcher.stop()
    workers.push(
      startWebhookPool({
        connection: new Redis(server.url, { maxRetriesPerRequest: null }),
        prefix: queuePrefix(prefix),
        concurrency: 1,
        deliver: {
          retrySchedule: [],
          webhooks: webhookStore,
          configStore,
          endpoints: () => configCache.current().webhooks,
          secretKeys: [secretKey],
          allowPrivateUrls: false,
          attempted: () => undefined,
          now: () => new Date(),
          log: silentLog,
        },
        log: silentLog,
      }),
    )
    await oneEvent('msg_private')
    const [attempt] = await waitFor(async () => {
      const attempts = await webhookStore.listAttempts('wh_1', { limit: 10 })
      return attempts.length > 0 ? attempts : null
    })
    expect(attempt).toMatchObject({ status: 'failed', statusCode: null })
    expect(attempt?.error).toContain('127.0.0.1')
    expect(received).toHaveLength(0)
  })
})
