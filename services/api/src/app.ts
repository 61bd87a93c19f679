import Fastify, { type FastifyBaseLogger } from 'fastify'
import { type TypeBoxTypeProvider, TypeBoxValidatorCompiler } from '@fastify/type-provider-typebox'
import type { ApiConfig } from '@outbound/config'
import type { Queue } from 'bullmq'
import type { Cluster, Redis } from 'ioredis'
import type { WebhookJobData } from '@outbound/jobs'
import type {
  BounceStore,
  ComplaintStore,
  ConfigCache,
  ConfigStore,
  MessageStore,
  QuotaStore,
  ServerStateStore,
  StatsStore,
  UnsubscribeStore,
  WebhookStore,
} from '@outbound/store'
import { unsubscribeKey } from '@outbound/secrets'
import { answerClientError } from './answer-client-error.js'
import { checkJsonBounds } from './check-json-bounds.js'
import { AppError } from './errors.js'
import { MAX_BATCH_SIZE } from './routes/v1/email-schemas.js'
import { bounceRoutes } from './routes/v1/bounces.js'
import { suppressionRoutes } from './routes/v1/suppressions.js'
import { complaintRoutes } from './routes/v1/complaints.js'
import { statsRoutes } from './routes/v1/stats.js'
import { rateLimits } from './plugins/rate-limit.js'
import type { Queues } from './accept-email.js'
import type { ResolveTxt } from './dns-check.js'
import { auth, createAuthenticator, createSandboxCheck } from './plugins/auth.js'
import { dashboard } from './plugins/dashboard.js'
import { errorHandler } from './plugins/error-handler.js'
import { metrics } from './plugins/metrics.js'
import { openapi } from './plugins/openapi.js'
import { healthRoutes } from './routes/health.js'
import { aliasDomainRoutes } from './routes/v1/alias-domains.js'
import { companyRoutes } from './routes/v1/companies.js'
import { emailRoutes } from './routes/v1/emails.js'
import { emailSearchRoutes } from './routes/v1/email-search.js'
import { quotaRoutes } from './routes/v1/quota.js'
import { serverRoutes } from './routes/v1/servers.js'
import { settingsRoutes } from './routes/v1/settings.js'
import { webhookRoutes } from './routes/v1/webhooks.js'
import { unsubscribeRoutes } from './routes/unsubscribe.js'
import { consoleRoutes } from './routes/console.js'

export type IdKind = 'msg' | 'srv' | 'ad' | 'co' | 'evt' | 'wh' | 'cmp'

/** How long the HTTP server waits on a client, in milliseconds (README, Configuration). */
export type ServerTimeouts = {
  /** The whole request, headers and body, must arrive within this (408 REQUEST_TIMEOUT). */
  requestMs: number
  /** The headers must arrive within this. */
  headersMs: number
  /** A connection on which nothing moves either way for this long is closed. */
  idleMs: number
  /** An idle keep-alive connection is closed after this. */
  keepAliveMs: number
  /** How often Node looks for requests past requestMs or headersMs. */
  checkIntervalMs: number
}

const DEFAULT_SERVER_TIMEOUTS: ServerTimeouts = {
  requestMs: 30_000,
  headersMs: 10_000,
  idleMs: 60_000,
  keepAliveMs: 5_000,
  checkIntervalMs: 1_000,
}

// No request of this API nests deeper than a few levels; JSON.parse of deep nesting costs seconds.
const MAX_JSON_DEPTH = 32
// Values an email may hold beyond its recipients and attachments: its fields, 50 headers and 50
// metadata entries (a name and a value each), 20 tags, with room to spare.
const JSON_VALUES_PER_EMAIL = 300

export type AppDeps = {
  config: Pick<
    ApiConfig,
    | 'apiKeys'
    | 'limits'
    | 'secretKey'
    | 'previousSecretKeys'
    | 'dashboardReadOnly'
    | 'rateLimitSendPerMinute'
    | 'allowPrivateWebhookUrls'
    | 'publicUrl'
  >
  /** Redis for the rate-limit counters, and their key prefix. */
  rateLimitRedis: Redis | Cluster
  keyPrefix?: string
  store: MessageStore
  configStore: ConfigStore
  configCache: ConfigCache
  quota: QuotaStore
  /** Servers' health (ok, throttled, down), shared with the workers. */
  serverStates: ServerStateStore
  bounces: BounceStore
  /** Complaints from feedback loops. */
  complaints: ComplaintStore
  /** The time-bucketed delivery counters. */
  stats: StatsStore
  /** One-click unsubscribes (list suppressions and their events). */
  unsubscribes: UnsubscribeStore
  queues: Queues
  /** The queue of webhook deliveries (replays are added to it). */
  webhookQueue: Queue<WebhookJobData>
  webhooks: WebhookStore
  /** Answers when Redis is reachable (GET /ready). */
  ping: () => Promise<unknown>
  logger: FastifyBaseLogger | false
  newId: (kind: IdKind) => string
  now?: () => Date
  /** Extra CA certificates Test Connection trusts (the system's are always trusted). */
  extraCa?: Buffer
  /** TXT lookups for the DNS checks. */
  resolveTxt: ResolveTxt
  /** The HTTP server's timeouts; DEFAULT_SERVER_TIMEOUTS for those not given. */
  timeouts?: Partial<ServerTimeouts>
  /** The operator console's built bundle (services/console/dist); without it /console says so. */
  consoleDir?: string
}

/**
 * The most JSON values a body may hold: a full batch at the configured limits fits. Counting them
 * bounds the time JSON.parse blocks the event loop (about a microsecond per array or object).
 */
function maxJsonValues(limits: AppDeps['config']['limits']): number {
  return MAX_BATCH_SIZE * (JSON_VALUES_PER_EMAIL + limits.recipients + 4 * limits.attachments)
}

/** What /ready says is missing for bulk mail to carry one-click unsubscribe (it stays ready). */
function readinessWarnings(config: Pick<ApiConfig, 'publicUrl' | 'secretKey'>): string[] {
  return [
    ...(config.publicUrl === undefined
      ? [
          'PUBLIC_URL is not set: mass mail goes out without one-click unsubscribe (List-Unsubscribe), which Gmail and Yahoo require of bulk senders',
        ]
      : []),
    ...(config.secretKey === undefined
      ? [
          'OUTBOUND_SECRET_KEY is not set: no unsubscribe tokens can be made or opened, so mass mail goes out without one-click unsubscribe',
        ]
      : []),
  ]
}

/** The fully registered API, not listening: main.ts listens, tests inject(). */
export async function buildApp(deps: AppDeps) {
  const timeouts = { ...DEFAULT_SERVER_TIMEOUTS, ...deps.timeouts }
  const app = Fastify({
    ...(deps.logger === false ? { logger: false } : { loggerInstance: deps.logger }),
    // Fastify turns Node's request timeout off by default: a dripping body held a connection open
    // for ever. Node checks requestTimeout and headersTimeout every connectionsCheckingInterval.
    requestTimeout: timeouts.requestMs,
    connectionTimeout: timeouts.idleMs,
    keepAliveTimeout: timeouts.keepAliveMs,
    http: {
      headersTimeout: Math.min(timeouts.headersMs, timeouts.requestMs),
      connectionsCheckingInterval: timeouts.checkIntervalMs,
    },
    clientErrorHandler: answerClientError,
    // Unsubscribe tokens carry an address, a list and a domain: longer than the default 100.
    routerOptions: { maxParamLength: 2048 },
  })
    .setValidatorCompiler(TypeBoxValidatorCompiler)
    .withTypeProvider<TypeBoxTypeProvider>()
  const now = deps.now ?? (() => new Date())

  const parseJson = app.getDefaultJsonParser('error', 'error')
  const jsonBounds = { maxDepth: MAX_JSON_DEPTH, maxValues: maxJsonValues(deps.config.limits) }
  app.removeContentTypeParser('application/json')
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    const text = typeof body === 'string' ? body : body.toString('utf8')
    const bounds = checkJsonBounds(text, jsonBounds)
    if (!bounds.ok) {
      done(
        bounds.exceeded === 'depth'
          ? new AppError('VALIDATION_FAILED', `JSON nested deeper than ${MAX_JSON_DEPTH} levels`, {
              field: 'body',
            })
          : new AppError(
              'PAYLOAD_TOO_LARGE',
              `the body holds more than ${jsonBounds.maxValues} JSON values`,
              { field: 'body', limitValues: jsonBounds.maxValues },
            ),
        undefined,
      )
      return
    }
    // Fastify's default JSON parser answers through done() and returns nothing.
    void parseJson(request, text, done)
  })

  await app.register(errorHandler)
  await app.register(openapi)
  const authenticate = createAuthenticator(deps.config.apiKeys, now)
  await app.register(auth, {
    authenticate,
    isSandbox: createSandboxCheck(deps.config.apiKeys),
  })
  await rateLimits(app, { redis: deps.rateLimitRedis, prefix: deps.keyPrefix ?? 'outbound' })
  await dashboard(app, {
    queues: [...Object.values(deps.queues), deps.webhookQueue],
    authenticate,
    readOnly: deps.config.dashboardReadOnly,
  })
  await app.register(healthRoutes, { ping: deps.ping, warnings: readinessWarnings(deps.config) })
  await app.register(metrics, {
    reputation: { stats: deps.stats, newEventId: () => deps.newId('evt'), now },
    configCache: deps.configCache,
    quota: deps.quota,
    queues: [...Object.values(deps.queues), deps.webhookQueue],
    now,
  })
  await app.register(quotaRoutes, {
    configCache: deps.configCache,
    quota: deps.quota,
    serverStates: deps.serverStates,
    now,
  })
  await app.register(emailRoutes, {
    limits: deps.config.limits,
    oneClickUnsubscribe: deps.config.publicUrl !== undefined && deps.config.secretKey !== undefined,
    sendPerMinute: deps.config.rateLimitSendPerMinute,
    store: deps.store,
    queues: deps.queues,
    configCache: deps.configCache,
    bounces: deps.bounces,
    newId: () => deps.newId('msg'),
    newEventId: () => deps.newId('evt'),
    now,
  })
  const configDeps = {
    configStore: deps.configStore,
    configCache: deps.configCache,
    serverStates: deps.serverStates,
    newId: deps.newId,
    now,
    secretKey: deps.config.secretKey,
    previousSecretKeys: deps.config.previousSecretKeys,
    extraCa: deps.extraCa,
    resolveTxt: deps.resolveTxt,
  }
  await app.register(emailSearchRoutes, {
    store: deps.store,
    queues: deps.queues,
    configCache: deps.configCache,
    now,
  })
  await app.register(serverRoutes, configDeps)
  await app.register(aliasDomainRoutes, configDeps)
  await app.register(companyRoutes, configDeps)
  await app.register(settingsRoutes, configDeps)
  await app.register(bounceRoutes, {
    bounces: deps.bounces,
    store: deps.store,
    configCache: deps.configCache,
    complaints: deps.complaints,
    stats: deps.stats,
    newEventId: () => deps.newId('evt'),
    newComplaintId: () => deps.newId('cmp'),
    now,
  })
  await app.register(complaintRoutes, { complaints: deps.complaints })
  await app.register(statsRoutes, {
    stats: deps.stats,
    newEventId: () => deps.newId('evt'),
    now,
  })
  await app.register(webhookRoutes, {
    configStore: deps.configStore,
    configCache: deps.configCache,
    webhooks: deps.webhooks,
    queue: deps.webhookQueue,
    newId: deps.newId,
    now,
    secretKey: deps.config.secretKey,
    previousSecretKeys: deps.config.previousSecretKeys,
    allowPrivateUrls: deps.config.allowPrivateWebhookUrls,
  })
  await app.register(suppressionRoutes, { bounces: deps.bounces, now })
  const { secretKey, previousSecretKeys } = deps.config
  await app.register(unsubscribeRoutes, {
    tokenKeys: [...(secretKey === undefined ? [] : [secretKey]), ...previousSecretKeys].map(
      unsubscribeKey,
    ),
    unsubscribes: deps.unsubscribes,
    store: deps.store,
    newEventId: () => deps.newId('evt'),
    now,
  })
  await app.register(consoleRoutes, { dir: deps.consoleDir, apiKeys: deps.config.apiKeys, now })
  return app
}
