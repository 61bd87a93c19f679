import { Queue, type Worker } from 'bullmq'
import { Redis } from 'ioredis'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { DELIVER_JOB, type DeliverJobData, deliverJobOptions, queuePrefix } from '@outbound/jobs'
import {
  type BounceStore,
  type ConfigCache,
  type ConfigStore,
  createBounceStore,
  createConfigCache,
  createConfigStore,
  createMessageStore,
  DEFAULT_SETTINGS,
  type MessageRecord,
  type MessageStore,
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
import { createSmtpTransport, smtpSettingsFromUrl } from '../src/transports/smtp-transport.js'
import {
  createTransportRegistry,
  type TransportRegistry,
} from '../src/transports/transport-registry.js'
import { queuedMessage, startTestPools } from './helpers/worker-fixtures.js'

let server: TestRedis
let redis: Redis
let prefix: string
let store: MessageStore
let bounces: BounceStore
let configStore: ConfigStore
let configCache: ConfigCache
let subscriber: Redis
let queue: Queue<DeliverJobData>
let workers: Worker<DeliverJobData>[] = []
let transports: TransportRegistry | undefined
let sink: SmtpSink | undefined

/** Workers whose built-in default server is a sink answering as told. */
async function deliverThrough(options: SmtpSinkOptions, retrySchedule: number[] = [60]) {
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
  workers = startTestPools({
    redisUrl: server.url,
    redis,
    prefix,
    store,
    configCache,
    transports,
    pool: 'transactional',
    concurrency: { transactional: 2, mass: 1 },
    bounces,
  })

  return sink
}

let sequence = 0
async function send(to: string[]): Promise<string> {
  sequence += 1
  const id = `msg_out${sequence}`
  await store.createMessage(queuedMessage(id, { request: { to } }))

  await queue.add(DELIVER_JOB, { messageId: id }, deliverJobOptions(id, 0))
  return id
}

async function until(id: string, status: string): Promise<MessageRecord> {
  return await waitFor(
    async () => {
      const record = await store.getMessage(id)
      return record?.status === status ? record : null
    },
    { timeoutMs: 15_000, what: `${id} to be ${status}` },
  )
}

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
  subscriber = new Redis(server.url)
  configCache = await createConfigCache(configStore, subscriber)
  queue = new Queue('transactional', { connection: redis, prefix: queuePrefix(prefix) })
})
afterEach(async () => {
  await Promise.all(workers.map((w) => w.close()))
  workers = []
  await queue.close()
  await transports?.closeAll()
  await sink?.close()
  await configCache.close()
  subscriber.disconnect()
  await deleteKeysWithPrefix(server.url, prefix)
})

describe("every recipient's fate", () => {
  it('delivers to two of three when one gets 550 5.1.1: a hard bounce and a suppression', async () => {
    const smtp = await deliverThrough({
      replies: { 'gone@example.com': '550 5.1.1 <gone@example.com>: User unknown' },
    })
    const id = await send(['bob@example.com', 'gone@example.com', 'carol@example.com'])
    const record = await until(id, 'sent')
    expect(smtp.messages[0]?.rcptTo).toEqual(['bob@example.com', 'carol@example.com'])
    expect(record.recipients.map((r) => [r.address, r.status, r.smtpCode, r.enhancedCode])).toEqual(
      [
        ['bob@example.com', 'sent', 250, null],
        ['gone@example.com', 'bounced', 550, '5.1.1'],
        ['carol@example.com', 'sent', 250, null],
      ],
    )
    expect(await bounces.listBounces({ messageId: id, limit: 10 })).toMatchObject([
      {
        recipient: 'gone@example.com',
        kind: 'hard',
        permanent: true,
        reason: 'user_unknown',
        source: 'smtp',
        smtpCode: 550,
        rule: 'mailbox-unknown',
      },
    ])
    expect(await bounces.getSuppression('gone@example.com')).toMatchObject({
      reason: 'hard bounce',
      source: 'bounce',
    })
  })

  it('defers on 451 and delivers on the retry', async () => {
    const smtp = await deliverThrough(
      { replies: { 'later@example.com': ['451 4.3.0 Temporary local problem', '250 ok'] } },
      [1],
    )
    const id = await send(['later@example.com'])
    const deferred = await until(id, 'deferred')
    expect(deferred.recipients[0]).toMatchObject({
      status: 'deferred',
      smtpCode: 451,
      enhancedCode: '4.3.0',
    })
    expect(deferred.deferredUntil).not.toBeNull()
    const sent = await until(id, 'sent')
    expect(sent.attempts).toBe(2)
    expect(smtp.messages).toHaveLength(1)
    expect(await bounces.listBounces({ messageId: id, limit: 10 })).toEqual([])
  })

  it('waits as long as the server asks ("try again in 3 seconds")', async () => {
    await deliverThrough({
      replies: { 'grey@example.com': '451 4.7.1 Greylisted, please try again in 3 seconds' },
    })
    const startedAt = Date.now()
    const record = await until(await send(['grey@example.com']), 'deferred')
    const wait = (record.deferredUntil?.getTime() ?? 0) - startedAt
    expect(wait).toBeGreaterThan(2500)
    expect(wait).toBeLessThan(10_000)
  })

  it('defers when the server answers 421 to the connection', async () => {
    await deliverThrough({ connectReply: '421 4.3.2 System not accepting network messages' })
    const record = await until(await send(['bob@example.com']), 'deferred')
    expect(record.error).toContain('421')
    expect(record.recipients[0]?.status).toBe('deferred')
  })

  it('bounces every recipient on 552 at DATA, softly', async () => {
    const smtp = await deliverThrough({ dataReply: '552 5.3.4 Message size exceeds fixed limit' })
    const id = await send(['a@example.com', 'b@example.com'])
    const record = await until(id, 'bounced')
    expect(record.recipients.map((r) => [r.status, r.smtpCode, r.enhancedCode])).toEqual([
      ['bounced', 552, '5.3.4'],
      ['bounced', 552, '5.3.4'],
    ])
    expect(smtp.messages).toHaveLength(0)
    const records = await bounces.listBounces({ messageId: id, limit: 10 })
    expect(records.map((r) => [r.kind, r.reason])).toEqual([
      ['soft', 'message_too_big'],
      ['soft', 'message_too_big'],
    ])
    expect(await bounces.suppressedAmong(['a@example.com', 'b@example.com'])).toEqual(new Set())
  })

  it('fails once the retries are used up, with a soft bounce (expired) for each pending recipient', async () => {
    await deliverThrough({ replies: { 'busy@example.com': '451 4.3.0 try later' } }, [])
    const id = await send(['busy@example.com'])
    const record = await until(id, 'failed')
    expect(record.recipients[0]?.status).toBe('failed')
    expect(await bounces.listBounces({ messageId: id, limit: 10 })).toMatchObject([
      { recipient: 'busy@example.com', kind: 'soft', reason: 'expired', permanent: false },
    ])
  })

  it('never mails a suppressed recipient', async () => {
    const smtp = await deliverThrough({})
    await bounces.addSuppression({
      address: 'blocked@example.com',
      reason: 'manual',
      source: 'manual',
      createdAt: new Date().toISOString(),
    })
    const partly = await send(['Blocked@Example.com', 'ok@example.com'])
    const record = await until(partly, 'sent')
    expect(smtp.messages[0]?.rcptTo).toEqual(['ok@example.com'])
    expect(record.recipients[0]).toMatchObject({ status: 'suppressed' })
    const wholly = await send(['blocked@example.com'])
    expect((await until(wholly, 'suppressed')).recipients[0]?.status).toBe('suppressed')
    expect(smtp.messages).toHaveLength(1)
  })
})
