import { generateKeyPairSync, randomBytes } from 'node:crypto'
import { Resolver } from 'node:dns/promises'
import { Queue, type Worker } from 'bullmq'
import { Redis } from 'ioredis'
import { dkimVerify } from 'mailauth'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { DELIVER_JOB, type DeliverJobData, deliverJobOptions, queuePrefix } from '@outbound/jobs'
import { sealSecret } from '@outbound/secrets'
import {
  type ConfigCache,
  createConfigCache,
  createConfigStore,
  createMessageStore,
  type DkimKey,
  type MessageRecord,
  type MessageStore,
} from '@outbound/store'
import {
  deleteKeysWithPrefix,
  type SmtpSink,
  startDnsServer,
  startSmtpSink,
  startTestRedis,
  testPrefix,
  type TestDnsServer,
  type TestRedis,
  waitFor,
} from '@outbound/testing'
import { createSigner } from '../src/sign-message.js'
import { createDmarcPolicies } from '../src/dmarc-policies.js'
import { createFileOutbox } from '../src/transports/file-outbox.js'
import {
  createTransportRegistry,
  type TransportRegistry,
} from '../src/transports/transport-registry.js'
import { outgoingServer, queuedMessage, startTestPools } from './helpers/worker-fixtures.js'

const secretKey = randomBytes(32)
const at = new Date().toISOString()
let server: TestRedis
let redis: Redis
let dns: TestDnsServer
let sink: SmtpSink
let prefix: string
let store: MessageStore
let configCache: ConfigCache
let subscriber: Redis
let transports: TransportRegistry
let queue: Queue<DeliverJobData>
let workers: Worker<DeliverJobData>[]

/** A key as the API makes one (RFC 8463: Ed25519's p= is the raw 32-byte key). */
function dkimKey(selector: string, algorithm: 'rsa' | 'ed25519'): DkimKey {
  const pair =
    algorithm === 'rsa'
      ? generateKeyPairSync('rsa', { modulusLength: 2048 })
      : generateKeyPairSync('ed25519')
  const der = pair.publicKey.export({ type: 'spki', format: 'der' })
  return {
    selector,
    algorithm,
    privateKeySealed: sealSecret(
      pair.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
      secretKey,
    ),
    publicKey: (algorithm === 'rsa' ? der : der.subarray(der.length - 32)).toString('base64'),
    createdAt: at,
  }
}

const rsa = dkimKey('outbound', 'rsa')
const ed25519 = dkimKey('outbound-ed', 'ed25519')
const published = (key: DkimKey) => {
  const value = `v=DKIM1; k=${key.algorithm}; p=${key.publicKey}`
  return [value.match(/.{1,255}/g) ?? [value]]
}

/** mailauth's view of a message, asking our local DNS server for the keys. */
async function verify(raw: Buffer) {
  const resolver = new Resolver()
  resolver.setServers([dns.address])
  const result = await dkimVerify(raw, {
    // DKIM asks for TXT records only.
    resolver: async (name: string) => await resolver.resolveTxt(name),
  })
  return result.results.map((r) => [
    r.signingDomain,
    r.selector,
    r.status.result,
    r.status.comment ?? '',
  ])
}

let sequence = 0
async function send(from: string): Promise<MessageRecord> {
  sequence += 1
  const id = `msg_dkim${sequence}`
  await store.createMessage(
    queuedMessage(id, {
      request: { from, subject: 'Signed, sealed, delivered' },
      content: { text: 'Hello.\nA second line.', html: '<p>Hello.</p>' },
    }),
  )

  await queue.add(DELIVER_JOB, { messageId: id }, deliverJobOptions(id, 0))
  return await waitFor(async () => {
    const record = await store.getMessage(id)
    return record?.status === 'sent' ? record : null
  })
}

beforeAll(async () => {
  server = await startTestRedis()
  redis = new Redis(server.url, { maxRetriesPerRequest: null })
  sink = await startSmtpSink()
  dns = await startDnsServer({
    'outbound._domainkey.shop.example': published(rsa),
    'outbound-ed._domainkey.shop.example': published(ed25519),
    '_dmarc.yahoo.example': [['v=DMARC1; p=reject; rua=mailto:d@yahoo.example']],
  })
  prefix = testPrefix()
  store = createMessageStore(redis, prefix)
  const configStore = createConfigStore(redis, prefix)
  await configStore.putAliasDomain({
    id: 'ad_shop',
    name: 'shop.example',
    sequence: 1,
    bounceAlias: 'bounce',
    catchallAlias: 'catchall',
    defaultFrom: 'notifications',
    dkimKeys: [rsa, ed25519],
    createdAt: at,
    updatedAt: at,
  })
  await configStore.putServer(
    outgoingServer({
      id: 'srv_A',
      name: 'A',
      port: sink.port,
      fromFilter: 'shop.example, paula@partner.example, yahoo.example',
    }),
  )

  subscriber = new Redis(server.url)
  configCache = await createConfigCache(configStore, subscriber)
  transports = createTransportRegistry({
    defaultTransport: createFileOutbox('/nonexistent'),
    secretKey,
  })
  queue = new Queue('transactional', { connection: redis, prefix: queuePrefix(prefix) })
  workers = startTestPools({
    redisUrl: server.url,
    redis,
    prefix,
    store,
    configCache,
    transports,
    pool: 'transactional',
    concurrency: { transactional: 2, mass: 1 },
    dmarcPolicy: createDmarcPolicies([dns.address], () => new Date()),
    sign: createSigner([secretKey]),
  })
})

afterAll(async () => {
  await Promise.all(workers.map((w) => w.close()))
  await queue.close()
  await transports.closeAll()
  await configCache.close()
  subscriber.disconnect()
  await deleteKeysWithPrefix(server.url, prefix)
  redis.disconnect()
  await sink.close()
  await dns.close()
  await server.stop()
})

const received = (record: MessageRecord) =>
  sink.messages.find((m) => m.raw.toString().includes(record.id))?.raw ?? Buffer.alloc(0)

describe('DKIM signing per alias domain', () => {
  it('signs with the RSA and the Ed25519 key, and an independent verifier passes both against DNS', async () => {
    const record = await send('ann@shop.example')
    expect(record.dkim).toEqual({
      signed: true,
      domain: 'shop.example',
      selectors: ['outbound', 'outbound-ed'],
      detail: '',
    })
    const raw = received(record)
    const signatures = raw.toString().match(/^DKIM-Signature:.*$/gm) ?? []
    expect(signatures.map((s) => /a=([^;]+)/.exec(s)?.[1])).toEqual([
      'rsa-sha256',
      'ed25519-sha256',
    ])
    expect(raw.toString()).toMatch(/^DKIM-Signature:[\s\S]*?c=relaxed\/relaxed/m)
    const unfolded = raw.toString().replace(/\r\n[ \t]+/g, ' ')
    const unfoldedSignatures = unfolded.match(/^DKIM-Signature:.*$/gm) ?? []
    expect(unfoldedSignatures).toHaveLength(2)
    for (const signature of unfoldedSignatures) {
      const signed = (/\bh=([^;]+)/.exec(signature)?.[1] ?? '')
        .toLowerCase()
        .split(':')
        .map((h) => h.trim())
      expect(signed).toEqual(
        expect.arrayContaining(['from', 'subject', 'date', 'to', 'message-id']),
      )
    }
    expect(
      (await verify(raw)).map(([domain, selector, result]) => [domain, selector, result]),
    ).toEqual([
      ['shop.example', 'outbound', 'pass'],
      ['shop.example', 'outbound-ed', 'pass'],
    ])
  })

  it('fails verification when the body is altered after signing', async () => {
    const raw = received(await send('"Ann" <ann@shop.example>'))
    const altered = Buffer.from(raw.toString().replace('A second line.', 'A forged line.'))
    // RFC 6376 §6.1.3: a body hash mismatch makes the signature fail to verify (mailauth: neutral).
    expect((await verify(altered)).map(([, , result, comment]) => [result, comment])).toEqual([
      ['neutral', 'body hash did not verify'],
      ['neutral', 'body hash did not verify'],
    ])
  })

  it('signs mail rewritten to the notification address (the From domain is the alias domain)', async () => {
    const record = await send('"Mary" <mary@customer.example.com>')
    expect(record.headerFrom).toBe('"Mary" <notifications@shop.example>')
    expect((await verify(received(record))).map(([, , result]) => result)).toEqual(['pass', 'pass'])
  })

  it('sends mail from a domain without a key unsigned, and says so in the record', async () => {
    const record = await send('paula@partner.example')
    expect(record.dkim).toEqual({
      signed: false,
      domain: 'partner.example',
      selectors: [],
      detail: 'no DKIM key for partner.example: sent unsigned',
    })
    expect(received(record).toString()).not.toMatch(/^DKIM-Signature:/m)
  })
})

describe('deliverability warnings', () => {
  it('flags a sender at a DMARC p=reject domain that goes out unrewritten', async () => {
    const record = await send('joe@yahoo.example')
    expect(record.headerFrom).toBe('joe@yahoo.example')
    expect(record.warnings).toEqual([
      expect.stringMatching(/^yahoo\.example publishes DMARC p=reject .* receivers will reject it/),
    ])
  })

  it('does not flag senders whose domain has no strict DMARC policy, nor the alias domain', async () => {
    expect((await send('paula@partner.example')).warnings).toEqual([])
    expect((await send('ann@shop.example')).warnings).toEqual([])
  })
})
