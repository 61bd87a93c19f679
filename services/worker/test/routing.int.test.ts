import { randomBytes } from 'node:crypto'
import { Queue, type Worker } from 'bullmq'
import { Redis } from 'ioredis'
import { simpleParser } from 'mailparser'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { DELIVER_JOB, type DeliverJobData, deliverJobOptions, queuePrefix } from '@outbound/jobs'
import { sealSecret } from '@outbound/secrets'
import {
  type AliasDomainRecord,
  type ConfigCache,
  type ConfigStore,
  createConfigCache,
  createConfigStore,
  createMessageStore,
  DEFAULT_SETTINGS,
  type MessageRecord,
  type MessageStore,
  type NewMessage,
  type OutgoingServer,
} from '@outbound/store'
import {
  deleteKeysWithPrefix,
  type ReceivedMessage,
  selfSignedCertificate,
  type SmtpSink,
  startSmtpSink,
  startTestRedis,
  testPrefix,
  type TestRedis,
  waitFor,
} from '@outbound/testing'
import { createFileOutbox } from '../src/transports/file-outbox.js'
import {
  createTransportRegistry,
  type TransportRegistry,
} from '../src/transports/transport-registry.js'
import { outgoingServer, queuedMessage, startTestPools } from './helpers/worker-fixtures.js'

const secretKey = randomBytes(32)
const certificate = selfSignedCertificate()
let redis: Redis
let server: TestRedis
let sinks: { A: SmtpSink; P: SmtpSink; Z: SmtpSink }

let prefix: string
let store: MessageStore
let configStore: ConfigStore
let configCache: ConfigCache
let subscriber: Redis
let transports: TransportRegistry
let queues: { transactional: Queue<DeliverJobData>; mass: Queue<DeliverJobData> }
let workers: Worker<DeliverJobData>[]

const at = new Date().toISOString()
const shop: AliasDomainRecord = {
  id: 'ad_shop',
  name: 'shop.example',
  sequence: 1,
  bounceAlias: 'bounce',
  catchallAlias: 'catchall',
  defaultFrom: 'notifications',
  createdAt: at,
  updatedAt: at,
}

function outgoing(
  name: 'A' | 'P' | 'Z',
  sequence: number,
  fromFilter: string | null,
  extra: Partial<OutgoingServer> = {},
): OutgoingServer {
  return outgoingServer({
    id: `srv_${name}`,
    name,
    port: sinks[name].port,
    sequence,
    fromFilter,
    ...extra,
  })
}

let sequence = 0
async function send(
  from: string,
  overrides: Partial<NewMessage['request']> = {},
  stream: 'transactional' | 'mass' = 'transactional',
) {
  sequence += 1
  const id = `msg_route${sequence}`
  await store.createMessage(
    queuedMessage(id, {
      stream,
      request: { from, subject: `Routed ${sequence}`, ...overrides },
      content: { text: 'hello' },
    }),
  )
  await queues[stream].add(DELIVER_JOB, { messageId: id }, deliverJobOptions(id, 0))
  return id
}

async function finished(id: string): Promise<MessageRecord> {
  return await waitFor(
    async () => {
      const record = await store.getMessage(id)
      return record !== null && ['sent', 'bounced', 'failed', 'deferred'].includes(record.status)
        ? record
        : null
    },
    { what: `message ${id} to finish` },
  )
}

function receivedBy(sink: SmtpSink, id: string): ReceivedMessage | undefined {
  return sink.messages.find((m) => m.raw.toString().includes(id))
}

beforeAll(async () => {
  server = await startTestRedis()
  redis = new Redis(server.url, { maxRetriesPerRequest: null })
  sinks = {
    A: await startSmtpSink(),
    P: await startSmtpSink({ auth: { username: 'paula', password: 'p4ss-word' } }),
    Z: await startSmtpSink({ tls: { ...certificate, mode: 'implicit' } }),
  }
})
afterAll(async () => {
  await Promise.all(Object.values(sinks).map((sink) => sink.close()))
  redis.disconnect()
  await server.stop()
})

beforeEach(async () => {
  prefix = testPrefix()
  store = createMessageStore(redis, prefix)
  configStore = createConfigStore(redis, prefix)
  await configStore.putAliasDomain(shop)
  await configStore.putServer(outgoing('A', 1, 'shop.example'))
  await configStore.putServer(
    outgoing('P', 5, 'paula@partner.example', {
      username: 'paula',
      passwordSealed: sealSecret('p4ss-word', secretKey),
    }),
  )
  await configStore.putServer(outgoing('Z', 9, null, { security: 'tls' }))
  subscriber = new Redis(server.url)
  configCache = await createConfigCache(configStore, subscriber)
  transports = createTransportRegistry({
    defaultTransport: createFileOutbox('/nonexistent/outbox-not-used'),
    secretKey,
    extraCa: Buffer.from(certificate.cert),
  })
  const bullPrefix = queuePrefix(prefix)
  queues = {
    transactional: new Queue('transactional', { connection: redis, prefix: bullPrefix }),
    mass: new Queue('mass', { connection: redis, prefix: bullPrefix }),
  }
  workers = startTestPools({ redisUrl: server.url, redis, prefix, store, configCache, transports })
})
afterEach(async () => {
  await Promise.all(workers.map((worker) => worker.close()))
  await Promise.all(Object.values(queues).map((queue) => queue.close()))
  await transports.closeAll()
  await configCache.close()
  subscriber.disconnect()
  await deleteKeysWithPrefix(server.url, prefix)
  for (const sink of Object.values(sinks)) sink.messages.length = 0
})

describe('delivery through the server the waterfall chooses (DOMAIN.md §5 worked example)', () => {
  it('sends each sender through its server with the From, MAIL FROM and Reply-To Odoo would write', async () => {
    const ann = await send('ann@shop.example')
    const paula = await send('"Paula" <paula@partner.example>')
    const mary = await send('"Mary" <mary@customer.example.com>')
    for (const id of [ann, paula, mary]) expect((await finished(id)).status).toBe('sent')

    expect(sinks.A.messages).toHaveLength(2)
    expect(sinks.P.messages).toHaveLength(1)
    expect(sinks.Z.messages).toHaveLength(0)

    const annOnWire = receivedBy(sinks.A, ann)
    expect(annOnWire?.mailFrom).toBe('bounce@shop.example')
    const annParsed = await simpleParser(annOnWire?.raw ?? Buffer.alloc(0))
    expect(annParsed.from?.text).toBe('ann@shop.example')

    const paulaOnWire = receivedBy(sinks.P, paula)
    expect([paulaOnWire?.mailFrom, paulaOnWire?.user]).toEqual(['paula@partner.example', 'paula'])
    expect((await simpleParser(paulaOnWire?.raw ?? Buffer.alloc(0))).from?.text).toBe(
      '"Paula" <paula@partner.example>',
    )

    const maryOnWire = receivedBy(sinks.A, mary)
    expect(maryOnWire?.mailFrom).toBe('bounce@shop.example')
    const maryParsed = await simpleParser(maryOnWire?.raw ?? Buffer.alloc(0))
    expect(maryParsed.from?.value).toEqual([
      { name: 'Mary', address: 'notifications@shop.example' },
    ])
    expect(maryParsed.replyTo?.value).toEqual([
      { name: 'Mary', address: 'mary@customer.example.com' },
    ])

    const record = await store.getMessage(mary)
    expect(record).toMatchObject({
      serverId: 'srv_A',
      headerFrom: '"Mary" <notifications@shop.example>',
      envelopeFrom: 'bounce@shop.example',
      routing: { step: 'notification-domain' },
    })
    expect(record?.routing?.reason).toContain('A')
  })

  it('falls back to the server without a filter, over TLS, once A is deleted', async () => {
    await configStore.deleteServer('srv_A')
    await waitFor(() => !configCache.current().servers.some((s) => s.id === 'srv_A'), {
      timeoutMs: 1000,
    })
    const mary = await send('"Mary" <mary@customer.example.com>')
    const record = await finished(mary)
    expect(record).toMatchObject({
      status: 'sent',
      serverId: 'srv_Z',
      routing: { step: 'server-without-filter' },
    })
    const onWire = receivedBy(sinks.Z, mary)
    expect([onWire?.mailFrom, onWire?.secure]).toEqual(['bounce@shop.example', true])
  })

  it('encodes a non-ASCII display name (RFC 2047) when it encapsulates', async () => {
    const id = await send('"Jörg Müller" <jorg@customer.example.com>')
    await finished(id)
    const raw = receivedBy(sinks.A, id)?.raw.toString() ?? ''
    expect(raw).toMatch(/^From: =\?UTF-8\?[QB]\?.+\?= <notifications@shop\.example>\r$/m)
    expect((await simpleParser(Buffer.from(raw))).from?.value[0]?.name).toBe('Jörg Müller')
  })

  it('sends through a forced server, and mass mail through the dedicated server', async () => {
    const forced = await send('ann@shop.example', { serverId: 'srv_Z' })
    expect(await finished(forced)).toMatchObject({
      serverId: 'srv_Z',
      routing: { step: 'forced-server' },
    })
    expect(receivedBy(sinks.Z, forced)?.mailFrom).toBe('bounce@shop.example')

    expect(
      await configStore.putSettings({ ...DEFAULT_SETTINGS, massDedicatedServerId: 'srv_Z' }),
    ).toBe('ok')
    await waitFor(() => configCache.current().settings.massDedicatedServerId === 'srv_Z', {
      timeoutMs: 1000,
    })
    const campaign = await send('ann@shop.example', {}, 'mass')
    const transactional = await send('ann@shop.example')
    expect(await finished(campaign)).toMatchObject({
      serverId: 'srv_Z',
      routing: { step: 'mass-dedicated-server' },
    })
    expect((await finished(transactional)).serverId).toBe('srv_A')
  })

  it('obeys a configuration change in the running worker within a second', async () => {
    await configStore.putServer(
      outgoing('P', 5, 'paula@partner.example, customer.example.com', {
        username: 'paula',
        passwordSealed: sealSecret('p4ss-word', secretKey),
      }),
    )
    const started = Date.now()
    await waitFor(
      () => configCache.current().servers.some((s) => s.fromFilter?.includes('customer') === true),
      {
        timeoutMs: 1000,
      },
    )
    expect(Date.now() - started).toBeLessThan(1000)
    const mary = await send('"Mary" <mary@customer.example.com>')
    expect(await finished(mary)).toMatchObject({
      serverId: 'srv_P',
      routing: { step: 'sender-domain' },
    })
    expect(receivedBy(sinks.P, mary)?.mailFrom).toBe('mary@customer.example.com')
  })

  it('defers (never bounces) when the server refuses AUTH, and uses a new password at once', async () => {
    await configStore.putServer(
      outgoing('P', 5, 'paula@partner.example', {
        username: 'paula',
        passwordSealed: sealSecret('wrong', secretKey),
      }),
    )
    await waitFor(
      () =>
        configCache.current().version > 0 &&
        configCache.current().servers.find((s) => s.id === 'srv_P')?.passwordSealed !== null,
    )
    const refused = await send('paula@partner.example')
    const record = await finished(refused)
    expect(record.status).toBe('deferred')
    expect(record.recipients[0]?.status).toBe('deferred')
    expect(record.error).toMatch(/535|auth/i)

    await configStore.putServer(
      outgoing('P', 5, 'paula@partner.example', {
        username: 'paula',
        passwordSealed: sealSecret('p4ss-word', secretKey),
      }),
    )
    const version = await configStore.readVersion()
    await waitFor(() => configCache.current().version === version, { timeoutMs: 1000 })
    const accepted = await send('paula@partner.example')
    expect((await finished(accepted)).status).toBe('sent')
  })
})
