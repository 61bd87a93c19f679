import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { connect } from 'node:net'
import { join } from 'node:path'
import { Queue, type Worker } from 'bullmq'
import { Redis } from 'ioredis'
import { simpleParser } from 'mailparser'
import { Registry } from 'prom-client'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
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
  createBounceStore,
  createConfigStore,
  createMessageStore,
  type MessageStore,
  type NewMessage,
} from '@outbound/store'
import { createTransportRegistry } from '../src/transports/transport-registry.js'
import {
  deleteKeysWithPrefix,
  type SmtpSink,
  startSmtpSink,
  startTestRedis,
  testPrefix,
  type TestRedis,
  waitFor,
} from '@outbound/testing'
import { createDeliveryMetrics } from '../src/metrics.js'
import { RETRY_PRIORITY } from '../src/delivery/types.js'
import { createFileOutbox } from '../src/transports/file-outbox.js'
import type { MessageTransport } from '../src/transports/message-transport.js'
import { createSmtpTransport, smtpSettingsFromUrl } from '../src/transports/smtp-transport.js'
import { queuedMessage, startTestPools } from './helpers/worker-fixtures.js'

let server: TestRedis
let redis: Redis

type Harness = {
  prefix: string
  registry: Registry
  store: MessageStore
  configStore: ConfigStore
  configCache: ConfigCache
  queues: Record<Stream, Queue<DeliverJobData>>
  workers: Worker<DeliverJobData>[]
  transport: MessageTransport
  close(): Promise<void>
}
let harness: Harness | undefined

async function startHarness(
  transport: MessageTransport,
  now: () => Date = () => new Date(),
  options: { extraCa?: Buffer; secretKey?: Buffer } = {},
): Promise<Harness> {
  const prefix = testPrefix()
  const store = createMessageStore(redis, prefix)
  const configStore = createConfigStore(redis, prefix)
  const subscriber = new Redis(server.url)
  const configCache = await createConfigCache(configStore, subscriber)
  const registry = new Registry()
  const transports = createTransportRegistry({
    defaultTransport: transport,
    secretKey: options.secretKey,
    ...(options.extraCa === undefined ? {} : { extraCa: options.extraCa }),
  })
  const bullPrefix = queuePrefix(prefix)
  const queues = {
    transactional: new Queue<DeliverJobData>('transactional', {
      connection: redis,
      prefix: bullPrefix,
    }),
    mass: new Queue<DeliverJobData>('mass', { connection: redis, prefix: bullPrefix }),
  }
  const workers = startTestPools({
    redisUrl: server.url,
    redis,
    prefix,
    store,
    configCache,
    transports,
    metrics: createDeliveryMetrics(registry),
    now,
  })

  harness = {
    prefix,
    registry,
    store,
    configStore,
    configCache,
    queues,
    workers,
    transport,
    async close() {
      await Promise.all(workers.map((worker) => worker.close()))
      await Promise.all(Object.values(queues).map((queue) => queue.close()))
      await transports.closeAll()
      await configCache.close()
      subscriber.disconnect()
      await deleteKeysWithPrefix(server.url, prefix)
    },
  }
  return harness
}

/** The lines of Redis's MONITOR from now until stop() (a plain socket: the protocol is lines). */
async function watchCommands(url: string): Promise<{ stop(): string[] }> {
  const { hostname, port } = new URL(url)
  const socket = connect(Number(port), hostname)
  let text = ''
  socket.setEncoding('utf8')
  socket.on('data', (chunk: string) => (text += chunk))
  socket.write('MONITOR\r\n')
  await waitFor(async () => text.startsWith('+OK\r\n'))
  return {
    stop() {
      socket.destroy()
      return text.split('\r\n').slice(1)
    },
  }
}

let sequence = 0
function message(
  overrides: Partial<NewMessage['request']> = {},
  content?: Partial<NewMessage['content']>,
): NewMessage {
  sequence += 1
  const id = `msg_test${sequence}`
  return queuedMessage(id, {
    request: { from: '"Ann Example" <ann@shop.example>', subject: 'Your order', ...overrides },
    content: { text: 'Thanks for your order.', ...content },
  })
}

async function enqueue(h: Harness, m: NewMessage, jobId = m.id): Promise<void> {
  await h.store.createMessage(m)
  await h.queues[m.stream].add(
    DELIVER_JOB,
    { messageId: m.id },
    { ...deliverJobOptions(m.id, 0), jobId },
  )
}

async function waitForStatus(h: Harness, id: string, status: string) {
  return await waitFor(
    async () => {
      const record = await h.store.getMessage(id)
      return record?.status === status ? record : null
    },
    { what: `message ${id} to be ${status}` },
  )
}

beforeAll(async () => {
  server = await startTestRedis()
  redis = new Redis(server.url, { maxRetriesPerRequest: null })
})
afterEach(async () => {
  await harness?.close()
  harness = undefined
})
afterAll(async () => {
  redis.disconnect()
  await server.stop()
})

describe('delivery through the built-in default server (SMTP)', () => {
  let sink: SmtpSink
  beforeAll(async () => {
    sink = await startSmtpSink({ replies: { 'gone@example.com': '550 5.1.1 user unknown' } })
  })
  afterAll(async () => {
    await sink.close()
  })
  afterEach(() => {
    sink.messages.length = 0
  })

  it('delivers the headers, bodies and attachments the caller sent, Bcc only in the envelope', async () => {
    const h = await startHarness(createSmtpTransport(smtpSettingsFromUrl(sink.url)))
    const pdf = Buffer.from('%PDF-1.4 fake pdf bytes')
    const m = message(
      {
        cc: ['carol@example.com'],
        bcc: ['audit@shop.example'],
        headers: { 'X-Campaign': 'spring' },
        replyTo: 'help@shop.example',
      },
      {
        html: '<p>Thanks for your <b>order</b>.</p>',
        attachments: [
          {
            filename: 'invoice.pdf',
            contentType: 'application/pdf',
            content: pdf.toString('base64'),
          },
        ],
      },
    )
    await enqueue(h, m)
    const [received] = await sink.waitForMessages(1)
    expect(received?.mailFrom).toBe('ann@shop.example')
    expect(received?.rcptTo).toEqual(['bob@example.com', 'carol@example.com', 'audit@shop.example'])
    const parsed = await simpleParser(received?.raw ?? Buffer.alloc(0))
    expect(parsed.from?.text).toBe('"Ann Example" <ann@shop.example>')
    expect(parsed.subject).toBe('Your order')
    expect(parsed.messageId).toBe(`<${m.id}@shop.example>`)
    expect(parsed.headers.get('x-outbound-message-id')).toBe(m.id)
    expect(parsed.headers.get('x-campaign')).toBe('spring')
    expect(parsed.headers.has('bcc')).toBe(false)
    // DOMAIN.md §5: the receiving MTA adds Return-Path from the envelope.
    expect(parsed.headers.has('return-path')).toBe(false)
    expect(parsed.replyTo?.text).toBe('help@shop.example')
    expect(parsed.text?.trim()).toBe('Thanks for your order.')
    expect(parsed.html).toContain('<b>order</b>')
    expect(
      parsed.attachments.map((a) => [a.filename, a.contentType, a.content.toString()]),
    ).toEqual([['invoice.pdf', 'application/pdf', pdf.toString()]])

    const record = await waitForStatus(h, m.id, 'sent')
    expect(record).toMatchObject({
      serverId: 'default',
      headerFrom: m.request.from,
      envelopeFrom: 'ann@shop.example',
      attempts: 1,
    })
    expect(record.smtpResponse).toMatch(/^250 /)
    expect(record.sentAt).toBeInstanceOf(Date)
    expect(record.events.map((event) => event.type)).toEqual(['queued', 'sending', 'sent'])
    expect(record.recipients.map((r) => [r.address, r.status])).toEqual([
      ['bob@example.com', 'sent'],
      ['carol@example.com', 'sent'],
      ['audit@shop.example', 'sent'],
    ])
    const metrics = await h.registry.metrics()
    expect(metrics).toContain('outbound_messages_total{stream="transactional",status="sent"} 1')
    expect(metrics).toContain('outbound_smtp_replies_total{server="default",class="2xx"} 1')
    expect(metrics).toMatch(
      /outbound_send_duration_seconds_count\{stream="transactional",server="default"\} 1/,
    )
  })

  it('sends nothing for a second job of a message that was sent', async () => {
    const h = await startHarness(createSmtpTransport(smtpSettingsFromUrl(sink.url)))
    const m = message()
    await enqueue(h, m)
    await waitForStatus(h, m.id, 'sent')
    const duplicate = await h.queues.transactional.add(
      DELIVER_JOB,
      { messageId: m.id },
      { jobId: `${m.id}-again` },
    )
    await waitFor(async () => (await duplicate.getState()) === 'completed', {
      what: 'the duplicate job',
    })
    expect(sink.messages).toHaveLength(1)
    expect((await h.store.getMessage(m.id))?.attempts).toBe(1)
  })

  it('takes over a message whose previous attempt died before the hand-over, and sends it once', async () => {
    const h = await startHarness(createSmtpTransport(smtpSettingsFromUrl(sink.url)))
    const m = message()
    await h.store.createMessage(m)
    // A worker claimed it and died while connecting: the record says sending, the dot never left.
    await h.store.claimMessage(m.id, 'dead-worker-token', new Date())
    await h.queues.transactional.add(DELIVER_JOB, { messageId: m.id }, deliverJobOptions(m.id, 0))
    const record = await waitForStatus(h, m.id, 'sent')
    expect(sink.messages).toHaveLength(1)
    expect(record.attempts).toBe(2)
    expect(record.events.map((e) => e.detail ?? '')).toContain(
      'taken over from an attempt that was interrupted before the hand-over',
    )
  })

  it('never resends a message whose previous attempt died after the commit', async () => {
    const inTenMinutes = () => new Date(Date.now() + 10 * 60_000)
    const h = await startHarness(createSmtpTransport(smtpSettingsFromUrl(sink.url)), inTenMinutes)
    const m = message()
    await h.store.createMessage(m)
    await h.store.claimMessage(m.id, 'dead-worker-token', new Date())
    // The dead attempt recorded how it was sending when it committed; the record keeps that.
    await h.store.commitHandoff(m.id, 'dead-worker-token', new Date(), {
      serverId: 'default',
      headerFrom: 'ann@shop.example',
      envelopeFrom: 'ann@shop.example',
    })
    await h.queues.transactional.add(DELIVER_JOB, { messageId: m.id }, deliverJobOptions(m.id, 0))
    const record = await waitForStatus(h, m.id, 'sent')
    expect(sink.messages).toHaveLength(0)
    expect(record.events.at(-1)?.detail).toMatch(/not sent again/)
    expect(record).toMatchObject({ serverId: 'default', headerFrom: 'ann@shop.example' })
    expect(record.recipients.map((r) => r.status)).toEqual(['sent'])
  })

  it('sends nothing for a message canceled before its job ran', async () => {
    const h = await startHarness(createSmtpTransport(smtpSettingsFromUrl(sink.url)))
    const m = message()
    await h.store.createMessage(m)
    expect((await h.store.cancelMessage(m.id, new Date())).kind).toBe('canceled')
    const job = await h.queues.transactional.add(
      DELIVER_JOB,
      { messageId: m.id },
      deliverJobOptions(m.id, 0),
    )
    await waitFor(async () => (await job.getState()) === 'completed', { what: 'the job' })
    expect(sink.messages).toHaveLength(0)
    expect((await h.store.getMessage(m.id))?.status).toBe('canceled')
  })

  it('records a message it cannot prepare as failed instead of leaving it sending', async () => {
    const h = await startHarness(createSmtpTransport(smtpSettingsFromUrl(sink.url)))
    // The API never stores such a sender; a record written some other way may hold one.
    const m = message({ from: 'not an address' })
    await enqueue(h, m)
    const record = await waitForStatus(h, m.id, 'failed')
    expect(record.error).toBe('the stored sender does not parse')
    expect(record.recipients.map((r) => r.status)).toEqual(['failed'])
    expect(sink.messages).toHaveLength(0)
  })

  it("checks the suppressions its job names with the claim, and writes the outcome just ahead of the job's completion", async () => {
    const h = await startHarness(createSmtpTransport(smtpSettingsFromUrl(sink.url)))
    await createBounceStore(redis, h.prefix).addSuppression({
      address: 'carol@example.com',
      reason: 'asked to stop',
      source: 'manual',
      createdAt: new Date().toISOString(),
      list: null,
    })
    // MONITOR lists the commands in the order Redis runs them, each with its connection.
    const monitor = await watchCommands(server.url)
    const m = message({ to: ['bob@example.com', 'carol@example.com'] })
    await h.store.createMessage(m)
    await h.queues.transactional.add(
      DELIVER_JOB,
      { messageId: m.id, addresses: ['bob@example.com', 'carol@example.com'] },
      deliverJobOptions(m.id, 0),
    )
    const record = await waitForStatus(h, m.id, 'sent')
    await waitFor(async () => (await h.queues.transactional.getJobState(m.id)) === 'completed')
    const seen = monitor.stop()

    expect(sink.messages.at(-1)?.rcptTo).toEqual(['bob@example.com'])
    expect(record.recipients.find((r) => r.address === 'carol@example.com')?.status).toBe(
      'suppressed',
    )
    // Redis ran the outcome, then BullMQ's completion of the job, both from the same connection:
    // the completion can never be seen without the outcome.
    const outcome = seen.findIndex((line) => line.includes('\\"type\\":\\"sent\\"'))
    const completion = seen.findIndex(
      (line) => line.includes(':completed"') && line.includes(`"${m.id}"`),
    )
    const source = (line: string | undefined) => /^\+[\d.]+ \[\d+ ([^\]]+)\]/.exec(line ?? '')?.[1]
    expect(outcome).toBeGreaterThan(-1)
    expect(completion).toBeGreaterThan(outcome)
    expect(source(seen[completion])).toBeDefined()
    expect(source(seen[completion])).toBe(source(seen[outcome]))
  })

  it('bounces a refused recipient and delivers to the others', async () => {
    const h = await startHarness(createSmtpTransport(smtpSettingsFromUrl(sink.url)))
    const m = message({ to: ['bob@example.com', 'gone@example.com', 'carol@example.com'] })
    await enqueue(h, m)
    const record = await waitForStatus(h, m.id, 'sent')
    expect(sink.messages[0]?.rcptTo).toEqual(['bob@example.com', 'carol@example.com'])
    expect(record.recipients.find((r) => r.address === 'gone@example.com')).toMatchObject({
      status: 'bounced',
      smtpCode: 550,
      enhancedCode: '5.1.1',
    })
  })
})

describe('retries', () => {
  it('defers a temporarily refused message and queues its retry behind first attempts', async () => {
    const busy = await startSmtpSink({
      replies: { 'busy@example.com': '451 4.3.0 try again later' },
    })
    try {
      const h = await startHarness(createSmtpTransport(smtpSettingsFromUrl(busy.url)))
      const m = message({ to: ['busy@example.com'] })
      await enqueue(h, m)
      const record = await waitForStatus(h, m.id, 'deferred')
      expect(record.recipients[0]).toMatchObject({
        status: 'deferred',
        smtpCode: 451,
        enhancedCode: '4.3.0',
      })
      expect(record.deferredUntil?.getTime()).toBeGreaterThan(Date.now() + 50_000)
      const job = await waitFor(async () => {
        const found = await h.queues.transactional.getJob(m.id)
        return (await found?.getState()) === 'delayed' ? found : null
      })
      expect(job.priority).toBe(RETRY_PRIORITY)
    } finally {
      await busy.close()
    }
  })
})

describe('graceful shutdown', () => {
  it('finishes a send in flight before the worker closes', async () => {
    const slowSink = await startSmtpSink({ dataReplyDelayMs: 500 })
    try {
      const h = await startHarness(createSmtpTransport(smtpSettingsFromUrl(slowSink.url)))
      const m = message()
      await enqueue(h, m)
      await slowSink.waitForMessages(1)
      // The server has the message but has not answered yet: the send is in flight.
      expect((await h.store.getMessage(m.id))?.status).toBe('sending')
      await Promise.all(h.workers.map((worker) => worker.close()))
      expect((await h.store.getMessage(m.id))?.status).toBe('sent')
    } finally {
      await slowSink.close()
    }
  })
})

describe('delivery into the file outbox (no SMTP_URL)', () => {
  it('writes one complete .eml per message and records it as sent', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'outbound-outbox-'))
    try {
      const h = await startHarness(createFileOutbox(dir))
      const m = message()
      await enqueue(h, m)
      const record = await waitForStatus(h, m.id, 'sent')
      expect(readdirSync(dir)).toEqual([`${m.id}.eml`])
      const parsed = await simpleParser(readFileSync(join(dir, `${m.id}.eml`)))
      expect(parsed.subject).toBe('Your order')
      expect(parsed.headers.get('x-outbound-message-id')).toBe(m.id)
      expect(record.smtpResponse).toContain(`${m.id}.eml`)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
