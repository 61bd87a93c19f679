import { mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Queue, type Worker } from 'bullmq'
import { Redis } from 'ioredis'
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
  createMessageStore,
  createQuotaStore,
  DEFAULT_SETTINGS,
  type MessageRecord,
  type MessageStore,
  type OutgoingServer,
  type QuotaStore,
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
import { resetJitterMs } from '../src/delivery/daily-quota.js'
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
let quota: QuotaStore
let configStore: ConfigStore
let configCache: ConfigCache
let subscriber: Redis
let transports: TransportRegistry
let queues: Record<Stream, Queue<DeliverJobData>>
let workers: Worker<DeliverJobData>[]
// The clock the workers read: injected, so a test can move it past the reset.
let clock: Date
let outbox: string

const DAY_ONE = new Date('2030-01-15T12:00:00Z')
const RESET = new Date('2030-01-16T00:00:00Z')

function outgoing(extra: Partial<OutgoingServer> = {}): OutgoingServer {
  return outgoingServer({
    id: 'srv_Q',
    name: 'Q',
    port: sink.port,
    dailyLimit: 100,
    maxConnections: 4,
    ...extra,
  })
}

let sequence = 0
async function enqueue(
  count: number,
  stream: Stream = 'transactional',
  to: string[] = ['bob@example.com'],
) {
  const ids: string[] = []
  for (let i = 0; i < count; i++) {
    sequence += 1
    const id = `msg_q${String(sequence).padStart(5, '0')}`
    ids.push(id)
    await store.createMessage(queuedMessage(id, { stream, createdAt: clock, request: { to } }))
  }
  await queues[stream].addBulk(
    ids.map((id) => ({
      name: DELIVER_JOB,
      data: { messageId: id },
      opts: deliverJobOptions(id, 0),
    })),
  )
  return ids
}

async function records(ids: readonly string[]): Promise<MessageRecord[]> {
  return (await Promise.all(ids.map((id) => store.getMessage(id)))).filter(
    (r): r is MessageRecord => r !== null,
  )
}

async function settle(ids: readonly string[], sent: number, deferred: number) {
  return await waitFor(
    async () => {
      const all = await records(ids)
      const counts = {
        sent: all.filter((r) => r.status === 'sent').length,
        deferred: all.filter((r) => r.status === 'deferred').length,
      }
      return counts.sent === sent && counts.deferred === deferred ? all : null
    },
    { timeoutMs: 20_000, what: `${sent} sent and ${deferred} deferred` },
  )
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
  clock = DAY_ONE
  prefix = testPrefix()
  store = createMessageStore(redis, prefix)
  quota = createQuotaStore(redis, prefix)
  configStore = createConfigStore(redis, prefix)
  await configStore.putServer(outgoing())
  subscriber = new Redis(server.url)
  configCache = await createConfigCache(configStore, subscriber)
  outbox = mkdtempSync(join(tmpdir(), 'outbound-quota-outbox-'))
  transports = createTransportRegistry({
    defaultTransport: createFileOutbox(outbox),
    secretKey: undefined,
  })
  const bullPrefix = queuePrefix(prefix)
  queues = {
    transactional: new Queue('transactional', { connection: redis, prefix: bullPrefix }),
    mass: new Queue('mass', { connection: redis, prefix: bullPrefix }),
  }
  // Two processes' worth of workers, each with its own connection, racing for the same limit.
  workers = [0, 1].flatMap(() =>
    startTestPools({
      redisUrl: server.url,
      redis,
      prefix,
      store,
      configCache,
      transports,
      concurrency: { transactional: 8, mass: 8 },
      quota,
      now: () => clock,
    }),
  )
})
afterEach(async () => {
  await Promise.all(workers.map((worker) => worker.close()))
  await Promise.all(Object.values(queues).map((queue) => queue.close()))
  await transports.closeAll()
  await configCache.close()
  subscriber.disconnect()
  await deleteKeysWithPrefix(server.url, prefix)
  rmSync(outbox, { recursive: true, force: true })
  sink.messages.length = 0
})

describe('the daily quota', () => {
  it('delivers exactly the limit, defers the rest to the reset, and sends the next 100 once the clock passes it', async () => {
    const ids = await enqueue(300)
    const first = await settle(ids, 100, 200)
    expect(sink.messages).toHaveLength(100)
    expect((await quota.readQuotaUsed(['srv_Q'], '2030-01-15')).get('srv_Q')).toBe(100)
    const expectedUntil = new Date(RESET.getTime() + resetJitterMs('srv_Q'))
    for (const record of first.filter((r) => r.status === 'deferred')) {
      expect(record.deferredUntil).toEqual(expectedUntil)
      expect(record.attempts).toBe(0)
      expect(record.events.at(-1)).toMatchObject({ type: 'deferred' })
      expect(record.error).toContain('2030-01-16T00:00:00.000Z')
    }
    expect(await queues.transactional.getDelayedCount()).toBe(200)

    // The next day: the clock passes the reset, and BullMQ's delays (real time) are cut short.
    clock = new Date(RESET.getTime() + 60_000)
    await queues.transactional.promoteJobs()
    const second = await settle(ids, 200, 100)
    expect(sink.messages).toHaveLength(200)
    expect((await quota.readQuotaUsed(['srv_Q'], '2030-01-16')).get('srv_Q')).toBe(100)
    // Deferred mail keeps its place: what goes out on day two was deferred first.
    const sentOnDayTwo = second
      .filter((r) => r.status === 'sent' && (r.sentAt ?? clock) >= RESET)
      .map((r) => r.id)
    const stillWaiting = second.filter((r) => r.status === 'deferred').map((r) => r.id)
    // Jobs in flight at once (8) may finish out of order, more so on a busy machine; deferred mail
    // sent at the back would be 100 places off.
    const slack = 24
    expect(ids.indexOf(sentOnDayTwo.sort().at(-1) ?? '')).toBeLessThan(
      ids.indexOf(stillWaiting.sort()[0] ?? '') + slack,
    )
  })

  it('keeps the transactional reserve: 200 mass messages send 90 of 100, a password reset still goes out', async () => {
    const campaign = await enqueue(200, 'mass')
    await settle(campaign, 90, 110)
    const [reset] = await enqueue(1, 'transactional')
    await settle([reset ?? ''], 1, 0)
    expect((await quota.readQuotaUsed(['srv_Q'], '2030-01-15')).get('srv_Q')).toBe(91)
  })

  it('counts one unit per recipient', async () => {
    await enqueue(1, 'transactional', ['a@example.com', 'b@example.com', 'c@example.com'])
    await waitFor(() => sink.messages.length === 1)
    await waitFor(
      async () => (await quota.readQuotaUsed(['srv_Q'], '2030-01-15')).get('srv_Q') === 3,
    )
  })

  it('gives the units back when the connection is refused', async () => {
    await configStore.putServer(outgoing({ port: await freePort(), dailyLimit: 10 }))
    await configCache.refresh()
    const [id] = await enqueue(1, 'transactional', [
      'a@example.com',
      'b@example.com',
      'c@example.com',
    ])
    const [record] = await settle([id ?? ''], 0, 1)
    expect(record?.error).toMatch(/ECONNREFUSED|connect/i)
    expect((await quota.readQuotaUsed(['srv_Q'], '2030-01-15')).get('srv_Q')).toBe(0)
  })

  it('fails a message with more recipients than the stream may ever send through the server in a day', async () => {
    await configStore.putServer(outgoing({ dailyLimit: 2 }))
    await configCache.refresh()
    const [id] = await enqueue(1, 'transactional', [
      'a@example.com',
      'b@example.com',
      'c@example.com',
    ])
    const record = await waitFor(async () => {
      const found = await store.getMessage(id ?? '')
      return found?.status === 'failed' ? found : null
    })
    expect(record.error).toMatch(/3 recipients exceed/)
  })

  it('limits the built-in default server with defaultDailyLimit', async () => {
    await configStore.deleteServer('srv_Q')
    await configStore.putSettings({ ...DEFAULT_SETTINGS, defaultDailyLimit: 3 })
    await configCache.refresh()
    const ids = await enqueue(5)
    const settled = await settle(ids, 3, 2)
    expect(readdirSync(outbox).filter((name) => name.endsWith('.eml'))).toHaveLength(3)
    const deferredUntil = new Date(RESET.getTime() + resetJitterMs('default'))
    expect(settled.filter((r) => r.status === 'deferred').map((r) => r.deferredUntil)).toEqual([
      deferredUntil,
      deferredUntil,
    ])
  })
})
