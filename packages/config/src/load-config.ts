import { type Env, EnvReader } from './parse.js'
import { parseClusterUrl, parseSentinelUrl } from './redis-url.js'

/**
 * `sandbox` gives no route of its own: it marks a key whose mail runs the whole pipeline but is
 * never handed to a server (CONTRACT.md, Sandbox keys).
 */
export const SCOPES = ['send', 'read', 'admin', 'sandbox'] as const
export type Scope = (typeof SCOPES)[number]

export type ApiKey = Readonly<{ name: string; scopes: readonly Scope[]; secret: string }>

export const POOLS = ['transactional', 'mass', 'webhooks', 'all'] as const
export type PoolName = (typeof POOLS)[number]

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const
export type LogLevel = (typeof LOG_LEVELS)[number]

/** Size and count bounds of the send API; every one has its own error code. */
export type SendLimits = Readonly<{
  recipients: number
  subjectChars: number
  bodyBytes: number
  attachments: number
  attachmentBytes: number
  batchBytes: number
}>

export type ApiConfig = Readonly<{
  redisUrl: string
  host: string
  port: number
  apiKeys: readonly ApiKey[]
  logLevel: LogLevel
  secretKey: Buffer | undefined
  previousSecretKeys: readonly Buffer[]
  limits: SendLimits
  /** Bull Board without retry, promote and remove (DASHBOARD_READ_ONLY, default true). */
  dashboardReadOnly: boolean
  /** Requests per minute per API key on the send routes; 0: no limit. */
  rateLimitSendPerMinute: number
  /** DNS_SERVERS: the resolvers the DNS checks ask (`host[:port]`); empty: the system's. */
  dnsServers: readonly string[]
  /** WEBHOOK_ALLOW_PRIVATE_URLS: webhook URLs may reach loopback, private and link-local hosts. */
  allowPrivateWebhookUrls: boolean
  /** PUBLIC_URL without a trailing slash: where recipients reach `/unsubscribe/…`; unset: none. */
  publicUrl: string | undefined
}>

export type WorkerConfig = Readonly<{
  redisUrl: string
  pool: PoolName
  concurrency: Readonly<{ transactional: number; mass: number }>
  /**
   * WORKER_BACKGROUND_NICE: how much a process that serves only a background pool (`mass` or
   * `webhooks`) lowers its own CPU priority (0 leaves it), so that transactional workers, Redis
   * and the API on the same host go first when the host is busy.
   */
  backgroundNice: number
  smtpUrl: string | undefined
  outboxDir: string
  logLevel: LogLevel
  secretKey: Buffer | undefined
  previousSecretKeys: readonly Buffer[]
  metricsPort: number | undefined
  /** Where the metrics listener binds (METRICS_HOST, default 127.0.0.1). */
  metricsHost: string
  /** DNS_SERVERS for the DMARC look-ups of senders; empty: the system's resolver. */
  dnsServers: readonly string[]
  /** WEBHOOK_ALLOW_PRIVATE_URLS: webhook URLs may reach loopback, private and link-local hosts. */
  allowPrivateWebhookUrls: boolean
  /** WORKER_CONCURRENCY_WEBHOOKS: webhook requests in flight per process. */
  webhookConcurrency: number
  /**
   * WEBHOOK_RETRY_SCHEDULE: delays (seconds) before the 2nd, 3rd, … attempt of a delivery;
   * undefined: the contract's (5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h).
   */
  webhookRetrySchedule: readonly number[] | undefined
  /** PUBLIC_URL without a trailing slash: the base of generated List-Unsubscribe URLs. */
  publicUrl: string | undefined
  /** RAW_RETENTION_DAYS: how long the exact bytes of a hand-over are kept (0: not kept). */
  rawRetentionDays: number
}>

const MIB = 1024 * 1024
const REDIS_MISSING =
  'REDIS_URL is not set: point it at your Redis (redis://host:6379, rediss://…, or a unix socket path), ' +
  'or run `pnpm start`, which starts a private redis-server for you'

function readRedisUrl(reader: EnvReader): string {
  const value = reader.raw('REDIS_URL')
  if (value === undefined) {
    reader.problem(REDIS_MISSING)
    return ''
  }
  if (value.startsWith('/')) return value
  if (value.startsWith('redis+cluster:')) {
    if (parseClusterUrl(value) !== null) return value
    reader.problem(
      'REDIS_URL: a Cluster URL reads redis+cluster://[:password@]host:6379[,host:6379…]',
    )
    return ''
  }
  if (value.startsWith('redis+sentinel:')) {
    if (parseSentinelUrl(value) !== null) return value
    reader.problem(
      'REDIS_URL: a Sentinel URL reads redis+sentinel://[:password@]host:26379[,host:26379…]/master-name',
    )
    return ''
  }
  return reader.url('REDIS_URL', ['redis', 'rediss']) ?? ''
}

function decodeKey(reader: EnvReader, name: string, value: string): Buffer | undefined {
  const key = Buffer.from(value, 'base64')
  if (key.length !== 32 || key.toString('base64') !== value) {
    reader.problem(`${name} must be 32 bytes in base64 (e.g. \`openssl rand -base64 32\`)`)
    return undefined
  }
  return key
}

function readSecretKey(reader: EnvReader): Buffer | undefined {
  const value = reader.raw('OUTBOUND_SECRET_KEY')
  return value === undefined ? undefined : decodeKey(reader, 'OUTBOUND_SECRET_KEY', value)
}

/** Keys being rotated out (OUTBOUND_SECRET_KEY_PREVIOUS): they still open stored secrets. */
function readPreviousSecretKeys(reader: EnvReader): Buffer[] {
  return reader
    .list('OUTBOUND_SECRET_KEY_PREVIOUS')
    .map((value) => decodeKey(reader, 'OUTBOUND_SECRET_KEY_PREVIOUS', value))
    .filter((key): key is Buffer => key !== undefined)
}

/**
 * PUBLIC_URL: an http(s) URL with no query or fragment (a path is kept, for a proxy that serves
 * the API under one), returned without its trailing slash so `/unsubscribe/…` can be appended.
 */
function readPublicUrl(reader: EnvReader): string | undefined {
  const value = reader.url('PUBLIC_URL', ['https', 'http'])
  if (value === undefined) return undefined
  const url = new URL(value)
  if (url.search !== '' || url.hash !== '' || url.username !== '' || url.password !== '') {
    reader.problem(
      'PUBLIC_URL must have no query, fragment or credentials (e.g. https://mail.example.com)',
    )
    return undefined
  }
  return url.href.replace(/\/+$/, '')
}

function readApiKeys(reader: EnvReader): ApiKey[] {
  const keys: ApiKey[] = []
  for (const [index, entry] of reader.list('OUTBOUND_API_KEYS').entries()) {
    const [name = '', scopeList = '', ...rest] = entry.split(':')
    const secret = rest.join(':')
    const scopes = scopeList.split('+').filter((scope) => scope !== '')
    const where = `OUTBOUND_API_KEYS entry ${index + 1}`
    if (!/^[A-Za-z0-9_.-]{1,64}$/.test(name)) {
      reader.problem(`${where}: the name must be 1-64 letters, digits, ".", "_" or "-"`)
    }
    const known = scopes.filter((scope): scope is Scope => SCOPES.some((s) => s === scope))
    if (scopes.length === 0 || known.length !== scopes.length) {
      reader.problem(`${where} (${name}): scopes must be ${SCOPES.join(', ')} joined with "+"`)
    }
    if (secret.length < 16) {
      reader.problem(`${where} (${name}): the secret must be at least 16 characters`)
    }
    if (keys.some((key) => key.name === name))
      reader.problem(`${where}: the name ${name} is used twice`)
    keys.push(Object.freeze({ name, scopes: Object.freeze(known), secret }))
  }
  return keys
}

export function isLoopbackHost(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127(\.\d{1,3}){3}$/.test(host)
}

function readLimits(reader: EnvReader): SendLimits {
  return Object.freeze({
    recipients: reader.int('MAX_RECIPIENTS', 50, 1, 1000),
    subjectChars: reader.int('MAX_SUBJECT_CHARS', 998, 1, 10_000),
    bodyBytes: reader.int('MAX_BODY_BYTES', 5 * MIB, 1024, 50 * MIB),
    attachments: reader.int('MAX_ATTACHMENTS', 20, 0, 500),
    attachmentBytes: reader.int('MAX_ATTACHMENT_BYTES', 10 * MIB, 0, 100 * MIB),
    batchBytes: reader.int('MAX_BATCH_BYTES', 50 * MIB, 1 * MIB, 500 * MIB),
  })
}

/** The API process's configuration; throws one ConfigError naming every bad or missing variable. */
export function loadApiConfig(env: Env): ApiConfig {
  const reader = new EnvReader(env)
  const host = reader.string('HOST', '127.0.0.1')
  const apiKeys = readApiKeys(reader)
  if (apiKeys.length === 0 && !isLoopbackHost(host)) {
    reader.problem(
      `HOST=${host} is not a loopback address, and OUTBOUND_API_KEYS is empty: ` +
        'without API keys the API only listens on 127.0.0.1 / ::1',
    )
  }
  const config: ApiConfig = {
    redisUrl: readRedisUrl(reader),
    host,
    port: reader.int('PORT', 3000, 0, 65_535),
    apiKeys,
    logLevel: reader.oneOf('LOG_LEVEL', LOG_LEVELS, 'info'),
    secretKey: readSecretKey(reader),
    previousSecretKeys: readPreviousSecretKeys(reader),
    limits: readLimits(reader),
    dashboardReadOnly: reader.bool('DASHBOARD_READ_ONLY', true),
    rateLimitSendPerMinute: reader.int('RATE_LIMIT_SEND_PER_MINUTE', 6000, 0, 10_000_000),
    dnsServers: reader.list('DNS_SERVERS'),
    allowPrivateWebhookUrls: reader.bool('WEBHOOK_ALLOW_PRIVATE_URLS', false),
    publicUrl: readPublicUrl(reader),
  }
  reader.finish()
  return Object.freeze(config)
}

function readRetrySchedule(reader: EnvReader): number[] | undefined {
  const values = reader.list('WEBHOOK_RETRY_SCHEDULE')
  if (values.length === 0) return undefined
  const seconds = values.map(Number)
  if (seconds.length > 20 || seconds.some((s) => !Number.isInteger(s) || s < 0 || s > 7 * 86_400)) {
    reader.problem(
      'WEBHOOK_RETRY_SCHEDULE: at most 20 comma-separated whole numbers of seconds, each 0 to 604800',
    )
  }
  return seconds
}

/** A worker process's configuration; throws one ConfigError naming every bad or missing variable. */
export function loadWorkerConfig(env: Env, argv: readonly string[] = []): WorkerConfig {
  const reader = new EnvReader(env)
  const poolFlag = argv.indexOf('--pool')
  // The --pool flag wins over WORKER_POOL.
  const pool =
    poolFlag >= 0
      ? reader.oneOf('--pool', POOLS, 'all', argv[poolFlag + 1] ?? '')
      : reader.oneOf('WORKER_POOL', POOLS, 'all')
  const config: WorkerConfig = {
    redisUrl: readRedisUrl(reader),
    pool,
    concurrency: Object.freeze({
      transactional: reader.int('WORKER_CONCURRENCY_TRANSACTIONAL', 20, 1, 1000),
      mass: reader.int('WORKER_CONCURRENCY_MASS', 20, 1, 1000),
    }),
    backgroundNice: reader.int('WORKER_BACKGROUND_NICE', 10, 0, 19),
    smtpUrl: reader.url('SMTP_URL', ['smtp', 'smtps']),
    outboxDir: reader.string('OUTBOX_DIR', './var/outbox'),
    logLevel: reader.oneOf('LOG_LEVEL', LOG_LEVELS, 'info'),
    secretKey: readSecretKey(reader),
    previousSecretKeys: readPreviousSecretKeys(reader),
    metricsPort: reader.optionalInt('METRICS_PORT', 1, 65_535),
    metricsHost: reader.string('METRICS_HOST', '127.0.0.1'),
    dnsServers: reader.list('DNS_SERVERS'),
    allowPrivateWebhookUrls: reader.bool('WEBHOOK_ALLOW_PRIVATE_URLS', false),
    webhookConcurrency: reader.int('WORKER_CONCURRENCY_WEBHOOKS', 10, 1, 1000),
    webhookRetrySchedule: readRetrySchedule(reader),
    publicUrl: readPublicUrl(reader),
    rawRetentionDays: reader.int('RAW_RETENTION_DAYS', 7, 0, 365),
  }
  reader.finish()
  return Object.freeze(config)
}

const CREDENTIALS_IN_URL = /\/\/[^/@]*@/

function redactUrl(url: string | undefined): string | undefined {
  return url?.replace(CREDENTIALS_IN_URL, '//***@')
}

/** The loggable view of a configuration: secrets replaced, credentials cut out of URLs. */
export function redactConfig(config: ApiConfig | WorkerConfig): Record<string, unknown> {
  const view: Record<string, unknown> = { ...config, redisUrl: redactUrl(config.redisUrl) }
  if ('apiKeys' in config) {
    view['apiKeys'] = config.apiKeys.map((key) => ({ name: key.name, scopes: key.scopes }))
  }
  if ('smtpUrl' in config) view['smtpUrl'] = redactUrl(config.smtpUrl)
  view['secretKey'] = config.secretKey === undefined ? 'unset' : 'set'
  view['previousSecretKeys'] = config.previousSecretKeys.length
  return view
}
