import Fastify, { type FastifyBaseLogger } from 'fastify'
import { type TypeBoxTypeProvider, TypeBoxValidatorCompiler } from '@fastify/type-provider-typebox'
import type { ApiConfig } from '@outbound/config'
import type { Cluster, Redis } from 'ioredis'
import type {
  BounceStore,
  ConfigCache,
  ConfigStore,
  MessageStore,
  QuotaStore,
} from '@outbound/store'
import { bounceRoutes } from './routes/v1/bounces.js'
import { suppressionRoutes } from './routes/v1/suppressions.js'
import { rateLimits } from './plugins/rate-limit.js'
import type { Queues } from './accept-email.js'
import type { ResolveTxt } from './dns-check.js'
import { auth, createAuthenticator } from './plugins/auth.js'
import { dashboard } from './plugins/dashboard.js'
import { errorHandler } from './plugins/error-handler.js'
import { metrics } from './plugins/metrics.js'
import { openapi } from './plugins/openapi.js'
import { healthRoutes } from './routes/health.js'
import { aliasDomainRoutes } from './routes/v1/alias-domains.js'
import { companyRoutes } from './routes/v1/companies.js'
import { emailRoutes } from './routes/v1/emails.js'
import { quotaRoutes } from './routes/v1/quota.js'
import { serverRoutes } from './routes/v1/servers.js'
import { settingsRoutes } from './routes/v1/settings.js'

export type IdKind = 'msg' | 'srv' | 'ad' | 'co'

export type AppDeps = {
  config: Pick<
    ApiConfig,
    | 'apiKeys'
    | 'limits'
    | 'secretKey'
    | 'previousSecretKeys'
    | 'dashboardReadOnly'
    | 'rateLimitSendPerMinute'
  >
  /** Redis for the rate-limit counters, and their key prefix. */
  rateLimitRedis: Redis | Cluster
  keyPrefix?: string
  store: MessageStore
  configStore: ConfigStore
  configCache: ConfigCache
  quota: QuotaStore
  bounces: BounceStore
  queues: Queues
  /** Answers when Redis is reachable (GET /ready). */
  ping: () => Promise<unknown>
  logger: FastifyBaseLogger | false
  newId: (kind: IdKind) => string
  now?: () => Date
  /** Extra CA certificates Test Connection trusts (the system's are always trusted). */
  extraCa?: Buffer
  /** TXT lookups for the DNS checks. */
  resolveTxt: ResolveTxt
}

/** The fully registered API, not listening: main.ts listens, tests inject(). */
export async function buildApp(deps: AppDeps) {
  const app = Fastify(deps.logger === false ? { logger: false } : { loggerInstance: deps.logger })
    .setValidatorCompiler(TypeBoxValidatorCompiler)
    .withTypeProvider<TypeBoxTypeProvider>()
  const now = deps.now ?? (() => new Date())

  await app.register(errorHandler)
  await app.register(openapi)
  const authenticate = createAuthenticator(deps.config.apiKeys)
  await app.register(auth, { authenticate })
  await rateLimits(app, { redis: deps.rateLimitRedis, prefix: deps.keyPrefix ?? 'outbound' })
  await dashboard(app, {
    queues: Object.values(deps.queues),
    authenticate,
    readOnly: deps.config.dashboardReadOnly,
  })
  await app.register(healthRoutes, { ping: deps.ping })
  await app.register(metrics, {
    configCache: deps.configCache,
    quota: deps.quota,
    queues: Object.values(deps.queues),
    now,
  })
  await app.register(quotaRoutes, { configCache: deps.configCache, quota: deps.quota, now })
  await app.register(emailRoutes, {
    limits: deps.config.limits,
    sendPerMinute: deps.config.rateLimitSendPerMinute,
    store: deps.store,
    queues: deps.queues,
    configCache: deps.configCache,
    bounces: deps.bounces,
    newId: () => deps.newId('msg'),
    now,
  })
  const configDeps = {
    configStore: deps.configStore,
    configCache: deps.configCache,
    newId: deps.newId,
    now,
    secretKey: deps.config.secretKey,
    previousSecretKeys: deps.config.previousSecretKeys,
    extraCa: deps.extraCa,
    resolveTxt: deps.resolveTxt,
  }
  await app.register(serverRoutes, configDeps)
  await app.register(aliasDomainRoutes, configDeps)
  await app.register(companyRoutes, configDeps)
  await app.register(settingsRoutes, configDeps)
  await app.register(bounceRoutes, {
    bounces: deps.bounces,
    store: deps.store,
    configCache: deps.configCache,
    now,
  })
  await app.register(suppressionRoutes, { bounces: deps.bounces, now })
  return app
}
