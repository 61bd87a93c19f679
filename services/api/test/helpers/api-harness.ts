import { Queue } from 'bullmq'
import { Redis } from 'ioredis'
import { pino } from 'pino'
import { loadApiConfig } from '@outbound/config'
import {
  type DeliverJobData,
  queuePrefix,
  type WebhookJobData,
  WEBHOOKS_QUEUE,
} from '@outbound/jobs'
import {
  type ConfigCache,
  createConfigCache,
  createConfigStore,
  createMessageStore,
  createQuotaStore,
  createServerStateStore,
  createBounceStore,
  createComplaintStore,
  createStatsStore,
  createUnsubscribeStore,
  createWebhookStore,
} from '@outbound/store'
import { deleteKeysWithPrefix, startTestRedis, testPrefix, type TestRedis } from '@outbound/testing'
import { type AppDeps, buildApp } from '../../src/app.js'

export type App = Awaited<ReturnType<typeof buildApp>>
type Queues = { transactional: Queue<DeliverJobData>; mass: Queue<DeliverJobData> }
type WebhookQueue = Queue<WebhookJobData>

function present<T>(value: T | undefined, what: string): T {
  if (value === undefined) throw new Error(`${what} is used outside a test`)
  return value
}

/**
 * One Redis per test file, and per test a fresh key prefix, queues, configuration cache and API
 * instances built with buildApp (no ports). Each API's log lines are kept in `logged`.
 */
export class ApiHarness {
  #server: TestRedis | undefined
  #redis: Redis | undefined
  #subscriber: Redis | undefined
  #queues: Queues | undefined
  #webhookQueue: WebhookQueue | undefined
  #configCache: ConfigCache | undefined
  #apps: App[] = []
  #counter = 0
  prefix = ''
  logged: string[] = []

  get url(): string {
    return present(this.#server, 'the test Redis').url
  }
  get redis(): Redis {
    return present(this.#redis, 'the Redis connection')
  }
  get queues(): Queues {
    return present(this.#queues, 'the queues')
  }
  get webhookQueue(): WebhookQueue {
    return present(this.#webhookQueue, 'the webhook queue')
  }

  async beforeAll(): Promise<void> {
    this.#server = await startTestRedis()
    this.#redis = new Redis(this.#server.url)
  }

  async afterAll(): Promise<void> {
    this.#redis?.disconnect()
    await this.#server?.stop()
  }

  async beforeEach(): Promise<void> {
    this.prefix = testPrefix()
    this.logged = []
    const connection = this.redis
    this.#queues = {
      transactional: new Queue('transactional', { connection, prefix: queuePrefix(this.prefix) }),
      mass: new Queue('mass', { connection, prefix: queuePrefix(this.prefix) }),
    }
    this.#webhookQueue = new Queue(WEBHOOKS_QUEUE, { connection, prefix: queuePrefix(this.prefix) })
    this.#subscriber = new Redis(this.url)
    this.#configCache = await createConfigCache(
      createConfigStore(connection, this.prefix),
      this.#subscriber,
    )
  }

  async afterEach(): Promise<void> {
    await Promise.all(this.#apps.splice(0).map((app) => app.close()))
    await this.#configCache?.close()
    this.#subscriber?.disconnect()
    await Promise.all([...Object.values(this.queues), this.webhookQueue].map((q) => q.close()))
    await deleteKeysWithPrefix(this.url, this.prefix)
  }

  /** An API over this test's prefix, configured from `env` as the process would be. */
  async makeApp(
    env: Record<string, string> = {},
    extra: Partial<
      Pick<AppDeps, 'extraCa' | 'resolveTxt' | 'timeouts' | 'consoleDir' | 'now'>
    > = {},
  ): Promise<App> {
    const { redis, prefix } = this
    const app = await buildApp({
      config: loadApiConfig({ REDIS_URL: this.url, ...env }),
      store: createMessageStore(redis, prefix),
      configStore: createConfigStore(redis, prefix),
      configCache: present(this.#configCache, 'the configuration cache'),
      quota: createQuotaStore(redis, prefix),
      serverStates: createServerStateStore(redis, prefix),
      bounces: createBounceStore(redis, prefix),
      complaints: createComplaintStore(redis, prefix),
      stats: createStatsStore(redis, prefix),
      unsubscribes: createUnsubscribeStore(redis, prefix),
      queues: this.queues,
      webhookQueue: this.webhookQueue,
      webhooks: createWebhookStore(redis, prefix),
      ping: () => redis.ping(),
      rateLimitRedis: redis,
      keyPrefix: prefix,
      logger: pino({ level: 'debug' }, { write: (line: string) => this.logged.push(line) }),
      newId: (kind) => `${kind}_${prefix}_${++this.#counter}`,
      // No test asks the machine's DNS: DNS tests pass a resolver of a local server.
      resolveTxt: async () => [],
      ...extra,
    })
    this.#apps.push(app)
    return app
  }
}
