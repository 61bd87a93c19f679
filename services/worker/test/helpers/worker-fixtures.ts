import { randomUUID } from 'node:crypto'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Worker } from 'bullmq'
import { Redis } from 'ioredis'
import { pino } from 'pino'
import { Registry } from 'prom-client'
import type { PoolName } from '@outbound/config'
import { type DeliverJobData, queuePrefix, type Stream } from '@outbound/jobs'
import {
  type ConfigCache,
  createBounceStore,
  createComplaintStore,
  createEventStream,
  createQuotaStore,
  createServerStateStore,
  type MessageStore,
  type NewMessage,
  type OutgoingServer,
} from '@outbound/store'
import { createWindowCache } from '../../src/delivery/daily-quota.js'
import type { DeliverDeps } from '../../src/delivery/types.js'
import { createDeliveryMetrics } from '../../src/metrics.js'
import { orderedOutcomes } from '../../src/ordered-outcomes.js'
import { startPools } from '../../src/pools.js'
import { createRoutingContext } from '../../src/routing-context.js'
import { createServerStates } from '../../src/server-states.js'
import { createSigner } from '../../src/sign-message.js'
import type { TransportRegistry } from '../../src/transports/transport-registry.js'
import { createFileOutbox } from '../../src/transports/file-outbox.js'

export const silentLog = pino({ level: 'silent' })

/** A queued message as the API stores it; every to, cc and bcc address is a pending recipient. */
export function queuedMessage(
  id: string,
  options: {
    stream?: Stream
    createdAt?: Date
    request?: Partial<NewMessage['request']>
    content?: Partial<NewMessage['content']>
  } = {},
): NewMessage {
  const request: NewMessage['request'] = {
    from: 'ann@shop.example',
    to: ['bob@example.com'],
    cc: [],
    bcc: [],
    replyTo: null,
    subject: id,
    headers: {},
    companyId: null,
    serverId: null,
    reference: null,
    tags: [],
    metadata: {},
    messageIdHeader: `<${id}@shop.example>`,
    ...options.request,
  }
  const fields = [
    ...request.to.map((address) => ({ address, field: 'to' as const })),
    ...request.cc.map((address) => ({ address, field: 'cc' as const })),
    ...request.bcc.map((address) => ({ address, field: 'bcc' as const })),
  ]
  return {
    id,
    stream: options.stream ?? 'transactional',
    status: 'queued',
    createdAt: options.createdAt ?? new Date(),
    scheduledAt: null,
    request,
    content: { text: 'x', html: null, attachments: [], ...options.content },
    recipients: fields.map(({ address, field }) => ({
      address,
      field,
      status: 'pending',
      smtpCode: null,
      enhancedCode: null,
      diagnostic: null,
    })),
  }
}

/** An active outgoing server on 127.0.0.1 without TLS, auth, filter or limit unless told. */
export function outgoingServer(
  fields: Pick<OutgoingServer, 'id' | 'name' | 'port'> & Partial<OutgoingServer>,
): OutgoingServer {
  const at = '2030-01-01T00:00:00.000Z'
  return {
    host: '127.0.0.1',
    security: 'none',
    username: null,
    passwordSealed: null,
    sequence: 1,
    fromFilter: null,
    dailyLimit: null,
    maxConnections: 2,
    active: true,
    createdAt: at,
    updatedAt: at,
    ...fields,
  }
}

/**
 * Worker pools as the worker process starts them, on their own Redis connection, with real
 * stores under `prefix`. DKIM signing, DMARC lookups and the clock are off or real unless given.
 */
export function startTestPools(
  options: {
    redisUrl: string
    redis: Redis
    prefix: string
    store: MessageStore
    configCache: ConfigCache
    transports: TransportRegistry
    pool?: PoolName
    concurrency?: Record<Stream, number>
  } & Partial<DeliverDeps>,
): Worker<DeliverJobData>[] {
  const { redisUrl, redis, prefix, configCache, pool, concurrency, ...deliver } = options
  const shaping = createServerStateStore(redis, prefix)
  const serverStates = createServerStates({
    store: shaping,
    serverIds: () => configCache.current().servers.map((server) => server.id),
    onChange: async () => {},
    now: () => new Date(),
    log: silentLog,
    pollMs: 100,
  })
  const connection = new Redis(redisUrl, { maxRetriesPerRequest: null })
  return startPools({
    connection,
    prefix: queuePrefix(prefix),
    pool: pool ?? 'all',
    concurrency: concurrency ?? { transactional: 4, mass: 4 },
    deliver: {
      routing: createRoutingContext(configCache),
      quota: createQuotaStore(redis, prefix),
      quotaWindow: createWindowCache(),
      bounces: createBounceStore(redis, prefix),
      complaints: createComplaintStore(redis, prefix),
      dmarcPolicy: async () => null,
      listUnsubscribe: { publicUrl: undefined, tokenKey: undefined },
      sign: createSigner([]),
      metrics: createDeliveryMetrics(new Registry()),
      now: () => new Date(),
      newEventId: () => `evt_${randomUUID()}`,
      serverStates,
      shaping,
      appendEvent: (event) => createEventStream(redis, prefix).appendEvent(event),
      sandboxOutbox: createFileOutbox(join(tmpdir(), `outbound-sandbox-${randomUUID()}`)),
      log: silentLog,
      // As the worker process does: outcomes leave on the BullMQ workers' connection.
      orderedStore: orderedOutcomes(connection, prefix),
      ...deliver,
    },
    log: silentLog,
  })
}
