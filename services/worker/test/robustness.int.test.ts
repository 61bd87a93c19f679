import { Queue, type Worker } from 'bullmq'
import { Redis } from 'ioredis'
import { pino } from 'pino'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import {
  DELIVER_JOB,
  type DeliverJobData,
  deliverJobOptions,
  queuePrefix,
  type Stream,
} from '@outbound/jobs'
import {
  type ConfigCache,
  type ConfigStore,
  createConfigCache,
  createConfigStore,
  createKeys,
  createMessageStore,
  createQuotaStore,
  DEFAULT_SETTINGS,
  type MessageRecord,
  type MessageStore,
} from '@outbound/store'
import {
  deleteKeysWithPrefix,
  freePort,
  type SmtpSink,
  startSmtpSink,
  startTestRedis,
  testPrefix,
  type TestRedis,
  waitFor,
} from '@outbound/testing'
import { watchQuotaRaises } from '../src/quota-raises.js'
import { sweepOnce } from '../src/sweeper.js'
import { createFileOutbox } from '../src/transports/file-outbox.js'
import {
  createTransportRegistry,
  type TransportRegistry,
} from '../src/transports/transport-registry.js'
import { outgoingServer, queuedMessage, startTestPools } from './helpers/worker-fixtures.js'

let server: TestRedis
let redis: Redis
let sink: SmtpSink
let prefix: string
let store: MessageStore
let configStore: ConfigStore
let configCache: ConfigCache
let subscriber: Redis
let transports: TransportRegistry
let queues: Record<Stream, Queue<DeliverJobData>>
let workers: Worker<DeliverJobData>[] = []
const log = pino({ level: 'silent' })

let sequence = 0
async function createQueued(options: { to?: string[]; enqueue?: boolean } = {}) {
  sequence += 1
  const id = `msg_rob${sequence}`
  await store.createMessage(
    queuedMessage(id, { request: { to: options.to ?? ['bob@example.com'] } }),
  )
  if (options.enqueue !== false)
    await queues.transactional.add(DELIVER_JOB, { messageId: id }, deliverJobOptions(id, 0))
  return id
}

async function statusOf(id: string): Promise<MessageRecord['status'] | undefined> {
  return (await store.getMessage(id))?.status
}

beforeAll(async () => {
  server = await startTestRedis()
  redis = new Redis(server.url, { maxRetriesPerRequest: null })
  sink = await startSmtpSink()
})
afterAll(async () => {
  await sink.close()
  redis.disconnect()
  await server.stop()
})

beforeEach(async () => {
  prefix = testPrefix()
  store = createMessageStore(redis, prefix)
  configStore = createConfigStore(redis, prefix)
  subscriber = new Redis(server.url)
  transports = createTransportRegistry({
    defaultTransport: createFileOutbox('/nonexistent/outbox-not-used'),
    secretKey: undefined,
  })
  const bullPrefix = queuePrefix(prefix)
  queues = {
    transactional: new Queue('transactional', { connection: redis, prefix: bullPrefix }),
    mass: new Queue('mass', { connection: redis, prefix: bullPrefix }),
  }
})
afterEach(async () => {
  await Promise.all(workers.map((worker) => worker.close()))
  workers = []
  await Promise.all(Object.values(queues).map((queue) => queue.close()))
  await transports.closeAll()
  await configCache.close()
  subscriber.disconnect()
  await deleteKeysWithPrefix(server.url, prefix)
  sink.messages.length = 0
})

async function start(concurrency = 4) {
  configCache = await createConfigCache(configStore, subscriber)
  workers = startTestPools({
    redisUrl: server.url,
    redis,
    prefix,
    store,
    configCache,
    transports,
    pool: 'transactional',
    concurrency: { transactional: concurrency, mass: 1 },
  })
}

describe('a server whose port refuses connections', () => {
  // Robustness: a job waiting for a connection slot was woken only when a connection was released
  // or discarded; a failed connect just lowered the count, so waiters stayed `sending` for good.
  it('defers or holds every message with the reason within seconds; none stays sending', async () => {
    const closedPort = await freePort()
    await configStore.putServer(
      outgoingServer({ id: 'srv_R', name: 'R', port: closedPort, maxConnections: 5 }),
    )
    await configStore.putSettings({
      ...DEFAULT_SETTINGS,
      retrySchedule: { transactional: [3600], mass: [3600] },
    })
    await start(20)
    const ids = await Promise.all(Array.from({ length: 100 }, () => createQueued()))
    const started = Date.now()
    // The first refusals defer their messages; after three the server is down and, with no
    // other server to fail over to, the rest wait for it (DOMAIN.md §8).
    const records = await waitFor(
      async () => {
        const all = await Promise.all(ids.map((id) => store.getMessage(id)))
        return all.every(
          (record) =>
            record?.status === 'deferred' ||
            (record?.status === 'queued' && record.events.at(-1)?.type === 'waiting'),
        )
          ? all
          : null
      },
      { timeoutMs: 30_000, what: '100 messages deferred or waiting' },
    )
    expect(Date.now() - started).toBeLessThan(30_000)
    for (const record of records) {
      const why = record?.status === 'deferred' ? record.error : record?.events.at(-1)?.detail
      expect(why).toMatch(/ECONNREFUSED|connect|down/i)
    }
    expect(records.filter((record) => record?.status === 'deferred').length).toBeGreaterThan(0)
  })
})

describe('the record says what was sent', () => {
  it('keeps the Reply-To that went out', async () => {
    await configStore.putServer(outgoingServer({ id: 'srv_S', name: 'S', port: sink.port }))
    await start()
    sequence += 1
    const id = `msg_rob${sequence}`
    await store.createMessage(
      queuedMessage(id, { request: { from: '"Mary" <mary@customer.example.com>' } }),
    )
    await queues.transactional.add(DELIVER_JOB, { messageId: id }, deliverJobOptions(id, 0))
    const record = await waitFor(async () => {
      const found = await store.getMessage(id)
      return found?.status === 'sent' ? found : null
    })
    const sent = sink.messages.find((m) => m.raw.toString().includes(id))?.raw.toString() ?? ''
    expect(sent).toContain('Reply-To: Mary <mary@customer.example.com>')
    expect(record.replyTo).toBe('"Mary" <mary@customer.example.com>')
  })
})

describe('the sweeper', () => {
  // Robustness: a record `queued` whose job is gone (the API died between the two writes, or Redis
  // lost the job) stayed so forever.
  it('adds the job of a waiting message whose job is missing, once, and the message goes out', async () => {
    await configStore.putServer(outgoingServer({ id: 'srv_S', name: 'S', port: sink.port }))
    const orphan = await createQueued({ enqueue: false })
    const healthy = await createQueued({ enqueue: false })
    await queues.transactional.add(
      DELIVER_JOB,
      { messageId: healthy },
      deliverJobOptions(healthy, 60_000),
    )
    const repaired: Stream[] = []
    const options = {
      redis,
      store,
      queues,
      leaseKey: createKeys(prefix).sweeperLease(),
      holder: 'test',
      log,
      repaired: (stream: Stream) => repaired.push(stream),
      // A minute later: both messages are overdue.
      now: () => new Date(Date.now() + 60_000),
    }
    expect(await sweepOnce(options)).toBe(1)
    expect(await sweepOnce(options)).toBe(0)
    expect(repaired).toEqual(['transactional'])
    await start()
    await waitFor(async () => (await statusOf(orphan)) === 'sent', { what: 'the orphan sent' })
    expect(sink.messages.filter((m) => m.raw.toString().includes(orphan))).toHaveLength(1)
  })
})

describe('a raised daily limit', () => {
  // Fidelity: mail deferred by a server's daily quota stayed deferred to the next day even after
  // the limit was raised.
  it('promotes the mail its quota deferred at once, and checks the quota again', async () => {
    await configStore.putServer(
      outgoingServer({ id: 'srv_S', name: 'S', port: sink.port, dailyLimit: 1 }),
    )
    await start()
    const first = await createQueued()
    await waitFor(async () => (await statusOf(first)) === 'sent')
    const second = await createQueued()
    const third = await createQueued()
    await waitFor(
      async () => (await statusOf(second)) === 'deferred' && (await statusOf(third)) === 'deferred',
      { what: 'two messages deferred by the quota' },
    )
    const watcher = watchQuotaRaises({
      current: () => configCache.current(),
      quota: createQuotaStore(redis, prefix),
      queues,
      log,
      intervalMs: 50,
    })
    try {
      // One more unit: one message goes now, the other is deferred again.
      await configStore.putServer(
        outgoingServer({ id: 'srv_S', name: 'S', port: sink.port, dailyLimit: 2 }),
      )
      await waitFor(
        async () => {
          const statuses = [await statusOf(second), await statusOf(third)]
          return statuses.includes('sent') && statuses.includes('deferred')
        },
        { what: 'one promoted message sent, the other deferred again' },
      )
      expect(sink.messages).toHaveLength(2)
    } finally {
      watcher.stop()
    }
  })
})
