import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type, type Static } from 'typebox'
import { parseMailbox } from '@outbound/address'
import { parseFromFilter } from '@outbound/routing'
import { DEFAULT_SETTINGS, type Settings } from '@outbound/store'
import type { ConfigDeps } from '../../config-deps.js'
import { AppError } from '../../errors.js'
import { errorResponses, Nullable } from './config-schemas.js'

const RETRY_DELAY = Type.Integer({ minimum: 1, maximum: 7 * 24 * 3600, description: 'seconds' })
const RETRY_SCHEDULE = Type.Array(RETRY_DELAY, { maxItems: 30 })

const SettingsFields = {
  defaultFromFilter: Nullable(
    Type.String({
      maxLength: 4096,
      description: "the built-in default server's from filter (mail.default.from_filter)",
    }),
  ),
  forceSmtpFrom: Nullable(
    Type.String({
      maxLength: 254,
      description: 'every From becomes this address (mail.force.smtp.from)',
    }),
  ),
  dynamicSmtpFrom: Nullable(
    Type.String({
      maxLength: 254,
      description: 'the From of senders outside the alias domain (mail.dynamic.smtp.from)',
    }),
  ),
  massDedicatedServerId: Nullable(
    Type.String({ maxLength: 64, description: 'the server all mass mail goes through' }),
  ),
  defaultDailyLimit: Type.Integer({ minimum: 0, maximum: 100_000_000 }),
  quotaTimezone: Type.String({
    minLength: 1,
    maxLength: 64,
    description: 'IANA time zone of the quota day',
  }),
  transactionalReservePercent: Type.Integer({ minimum: 0, maximum: 100 }),
  bounceSuppressAfter: Type.Integer({ minimum: 1, maximum: 1000 }),
  maxQueueHours: Type.Integer({
    minimum: 1,
    maximum: 720,
    description: 'a message not handed over this many hours after acceptance fails (expired)',
  }),
  retrySchedule: Type.Object(
    { transactional: RETRY_SCHEDULE, mass: RETRY_SCHEDULE },
    { additionalProperties: false },
  ),
}
const SettingsSchema = Type.Object(SettingsFields)

/** Settings as the API shows them: those added since a store was written take their defaults. */
function withDefaults(settings: Settings): Static<typeof SettingsSchema> {
  return {
    ...settings,
    maxQueueHours: settings.maxQueueHours ?? DEFAULT_SETTINGS.maxQueueHours ?? 72,
  }
}
const UpdateSettingsSchema = Type.Partial(
  Type.Object({
    ...SettingsFields,
    retrySchedule: Type.Partial(SettingsFields.retrySchedule, { additionalProperties: false }),
  }),
  { additionalProperties: false },
)
type UpdateSettings = Static<typeof UpdateSettingsSchema>

function bareAddress(value: string | null, field: string): string | null {
  if (value === null || value.trim() === '') return null
  const mailbox = parseMailbox(value.trim())
  if (mailbox === null || mailbox.name !== null) {
    throw new AppError('INVALID_ADDRESS', `${field} must be a bare email address`, { field })
  }
  return mailbox.address
}

function isTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en', { timeZone: zone })
    return true
  } catch {
    return false
  }
}

function apply(base: Settings, change: UpdateSettings): Settings {
  const next: Settings = {
    ...base,
    ...(change.forceSmtpFrom === undefined
      ? {}
      : { forceSmtpFrom: bareAddress(change.forceSmtpFrom, 'forceSmtpFrom') }),
    ...(change.dynamicSmtpFrom === undefined
      ? {}
      : { dynamicSmtpFrom: bareAddress(change.dynamicSmtpFrom, 'dynamicSmtpFrom') }),
    ...(change.massDedicatedServerId === undefined
      ? {}
      : { massDedicatedServerId: change.massDedicatedServerId }),
    ...(change.defaultDailyLimit === undefined
      ? {}
      : { defaultDailyLimit: change.defaultDailyLimit }),
    ...(change.transactionalReservePercent === undefined
      ? {}
      : { transactionalReservePercent: change.transactionalReservePercent }),
    ...(change.bounceSuppressAfter === undefined
      ? {}
      : { bounceSuppressAfter: change.bounceSuppressAfter }),
    ...(change.maxQueueHours === undefined ? {} : { maxQueueHours: change.maxQueueHours }),
    retrySchedule: { ...base.retrySchedule, ...change.retrySchedule },
  }
  if (change.defaultFromFilter !== undefined) {
    const filter = change.defaultFromFilter
    const parsed = parseFromFilter(filter)
    if (!parsed.ok) {
      throw new AppError(
        'INVALID_FROM_FILTER',
        `"${parsed.invalidPart}" is neither a domain nor an address`,
        {
          field: 'defaultFromFilter',
        },
      )
    }
    next.defaultFromFilter = filter === null || filter.trim() === '' ? null : filter.trim()
  }
  if (change.quotaTimezone !== undefined) {
    if (!isTimeZone(change.quotaTimezone)) {
      throw new AppError('INVALID_TIMEZONE', `"${change.quotaTimezone}" is not an IANA time zone`, {
        field: 'quotaTimezone',
      })
    }
    next.quotaTimezone = change.quotaTimezone
  }
  return next
}

export const settingsRoutes: FastifyPluginAsyncTypebox<ConfigDeps> = async (app, deps) => {
  const { configStore, configCache } = deps
  const tags = ['settings']

  app.get(
    '/v1/settings',
    {
      config: { scope: 'admin' },
      schema: {
        tags,
        summary: "Routing, quota and retry settings (Odoo's system parameters)",
        response: { 200: SettingsSchema },
      },
    },
    async () => {
      await configCache.refresh()
      return withDefaults(configCache.current().settings)
    },
  )

  app.patch(
    '/v1/settings',
    {
      config: { scope: 'admin' },
      schema: {
        tags,
        summary: 'Change some settings; the others keep their values',
        body: UpdateSettingsSchema,
        response: { 200: SettingsSchema, ...errorResponses(400, 401, 403, 422) },
      },
    },
    async (request) => {
      const result = await configStore.updateSettings((current) => apply(current, request.body))
      if (result.status === 'missing-reference') {
        throw new AppError(
          'UNKNOWN_SERVER',
          `no outgoing server ${request.body.massDedicatedServerId ?? ''}`,
          { field: 'massDedicatedServerId' },
        )
      }
      await configCache.refresh()
      return withDefaults(result.value)
    },
  )
}
