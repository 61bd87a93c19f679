import { Type, type Static } from 'typebox'
import { Compile } from 'typebox/compile'
import { DEFAULT_RETRY_SCHEDULE_SECONDS } from '@outbound/jobs'

const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(schema: T) =>
  Type.Union([schema, Type.Null()])

export const SECURITIES = ['none', 'starttls', 'tls'] as const
export type Security = (typeof SECURITIES)[number]

export const OutgoingServerSchema = Type.Object({
  id: Type.String(),
  name: Type.String(),
  host: Type.String(),
  port: Type.Integer(),
  security: Type.Enum(SECURITIES),
  username: Nullable(Type.String()),
  /** The password sealed with OUTBOUND_SECRET_KEY (@outbound/secrets); never the plaintext. */
  passwordSealed: Nullable(Type.String()),
  sequence: Type.Integer(),
  fromFilter: Nullable(Type.String()),
  dailyLimit: Nullable(Type.Integer()),
  /** What authorises this server in SPF (`include:_spf.provider.example`, `ip4:203.0.113.5`). */
  spf: Type.Optional(Nullable(Type.String())),
  /** Across every worker process together. */
  maxConnections: Type.Integer(),
  /** `"40/s"`, `"600/min"`, `"10000/h"`: recipients handed over, across every worker; null: none. */
  rateLimit: Type.Optional(Nullable(Type.String())),
  /** Daily limits for day 1, 2, … after `warmupStartedAt`; past its end `dailyLimit` applies. */
  warmupSchedule: Type.Optional(Nullable(Type.Array(Type.Integer()))),
  warmupStartedAt: Type.Optional(Nullable(Type.String())),
  /** Whether mail may leave through another server while this one is down (default true). */
  failover: Type.Optional(Type.Boolean()),
  active: Type.Boolean(),
  createdAt: Type.String(),
  updatedAt: Type.String(),
})
export type OutgoingServer = Static<typeof OutgoingServerSchema>

export const DKIM_ALGORITHMS = ['rsa', 'ed25519'] as const

/** A DKIM key of an alias domain: the private key sealed with OUTBOUND_SECRET_KEY. */
export const DkimKeySchema = Type.Object({
  selector: Type.String(),
  algorithm: Type.Enum(DKIM_ALGORITHMS),
  privateKeySealed: Type.String(),
  /** The p= value of the DNS record (base64). */
  publicKey: Type.String(),
  createdAt: Type.String(),
})
export type DkimKey = Static<typeof DkimKeySchema>

export const AliasDomainRecordSchema = Type.Object({
  id: Type.String(),
  name: Type.String(),
  sequence: Type.Integer(),
  bounceAlias: Type.String(),
  catchallAlias: Type.String(),
  defaultFrom: Type.String(),
  /** Every key signs (a new selector signs beside the old one until that is removed). */
  dkimKeys: Type.Optional(Type.Array(DkimKeySchema)),
  createdAt: Type.String(),
  updatedAt: Type.String(),
})
export type AliasDomainRecord = Static<typeof AliasDomainRecordSchema>

export const CompanySchema = Type.Object({
  id: Type.String(),
  name: Type.String(),
  aliasDomainId: Nullable(Type.String()),
  createdAt: Type.String(),
  updatedAt: Type.String(),
})
export type Company = Static<typeof CompanySchema>

export const SettingsSchema = Type.Object({
  defaultFromFilter: Nullable(Type.String()),
  forceSmtpFrom: Nullable(Type.String()),
  dynamicSmtpFrom: Nullable(Type.String()),
  massDedicatedServerId: Nullable(Type.String()),
  defaultDailyLimit: Type.Integer(),
  quotaTimezone: Type.String(),
  transactionalReservePercent: Type.Integer(),
  bounceSuppressAfter: Type.Integer(),
  /** A message not handed over this many hours after acceptance fails (`expired`). */
  maxQueueHours: Type.Optional(Type.Integer()),
  retrySchedule: Type.Object({
    transactional: Type.Array(Type.Integer()),
    mass: Type.Array(Type.Integer()),
  }),
})
export type Settings = Static<typeof SettingsSchema>

/** Settings before anyone changed them (CONTRACT.md). */
export const DEFAULT_SETTINGS: Settings = {
  defaultFromFilter: null,
  forceSmtpFrom: null,
  dynamicSmtpFrom: null,
  massDedicatedServerId: null,
  defaultDailyLimit: 200,
  quotaTimezone: 'UTC',
  transactionalReservePercent: 10,
  bounceSuppressAfter: 1,
  maxQueueHours: 72,
  retrySchedule: {
    transactional: [...DEFAULT_RETRY_SCHEDULE_SECONDS],
    mass: [...DEFAULT_RETRY_SCHEDULE_SECONDS],
  },
}

/** A signing secret of a webhook endpoint, sealed with OUTBOUND_SECRET_KEY. */
const WebhookSecretSchema = Type.Object({
  sealed: Type.String(),
  /** null: the current secret; else a rotated-out one that signs beside it until then. */
  expiresAt: Nullable(Type.String()),
})

export const WebhookEndpointSchema = Type.Object({
  id: Type.String(),
  url: Type.String(),
  /** Event types, or `["*"]` for all. */
  events: Type.Array(Type.String()),
  description: Nullable(Type.String()),
  active: Type.Boolean(),
  /** Why the service turned it off (410 Gone, failing for 5 days); null when a user did. */
  disabledReason: Nullable(Type.String()),
  /** The current secret first, then the rotated-out ones still signing. */
  secrets: Type.Array(WebhookSecretSchema),
  createdAt: Type.String(),
  updatedAt: Type.String(),
})
export type WebhookEndpoint = Static<typeof WebhookEndpointSchema>

/**
 * Which configuration a snapshot is: the version counts writes, the write id is random per write
 * ('' before the first), so a Redis that lost data and counts again is still told apart.
 */
export type ConfigStamp = { version: number; writeId: string }

/** Everything routing needs, read at one version. */
export type ConfigSnapshot = ConfigStamp & {
  servers: OutgoingServer[]
  aliasDomains: AliasDomainRecord[]
  companies: Company[]
  webhooks: WebhookEndpoint[]
  settings: Settings
}

export const configValidators = {
  servers: Compile(OutgoingServerSchema),
  'alias-domains': Compile(AliasDomainRecordSchema),
  companies: Compile(CompanySchema),
  webhooks: Compile(WebhookEndpointSchema),
  settings: Compile(SettingsSchema),
}
