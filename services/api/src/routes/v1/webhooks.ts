import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { Queue } from 'bullmq'
import { Type, type Static } from 'typebox'
import {
  DEFAULT_WEBHOOK_RETRY_SCHEDULE_SECONDS,
  EVENT_TYPES,
  type WebhookJobData,
  webhookJobOptions,
} from '@outbound/jobs'
import { openSecretWithAny, sealSecret } from '@outbound/secrets'
import {
  ATTEMPT_STATUSES,
  type ConfigCache,
  type ConfigStore,
  type WebhookAttempt,
  type WebhookEndpoint,
  type WebhookStore,
} from '@outbound/store'
import {
  activeSecrets,
  MAX_WEBHOOK_URL_CHARS,
  newWebhookSecret,
  parseWebhookUrl,
  resolveWebhookUrl,
  sendWebhook,
} from '@outbound/webhooks'
import { AppError } from '../../errors.js'
import { errorResponses, IdParams, Nullable } from './config-schemas.js'

export type WebhookRoutesOptions = {
  configStore: ConfigStore
  configCache: ConfigCache
  webhooks: WebhookStore
  queue: Queue<WebhookJobData>
  newId: (kind: 'wh' | 'evt') => string
  now: () => Date
  secretKey: Buffer | undefined
  previousSecretKeys: readonly Buffer[]
  /** WEBHOOK_ALLOW_PRIVATE_URLS */
  allowPrivateUrls: boolean
}

const MAX_WEBHOOKS = 100
/** A rotated-out secret signs beside the new one this long. */
const ROTATION_OVERLAP_MS = 24 * 3600 * 1000
const TEST_TIMEOUT_MS = 10_000

const EventsSchema = Type.Array(Type.String({ maxLength: 64 }), {
  minItems: 1,
  maxItems: EVENT_TYPES.length,
  description: `any of ${EVENT_TYPES.join(', ')}; or ["*"] for all`,
})
const CreateWebhookSchema = Type.Object(
  {
    url: Type.String({ minLength: 1, maxLength: MAX_WEBHOOK_URL_CHARS }),
    events: EventsSchema,
    description: Type.Optional(Nullable(Type.String({ maxLength: 512 }))),
    active: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
)
const UpdateWebhookSchema = Type.Partial(CreateWebhookSchema, { additionalProperties: false })

const WebhookSchema = Type.Object({
  id: Type.String(),
  url: Type.String(),
  events: Type.Array(Type.String()),
  description: Nullable(Type.String()),
  active: Type.Boolean(),
  disabledReason: Nullable(
    Type.String({ description: 'why the service turned it off (410 Gone, failing for 5 days)' }),
  ),
  createdAt: Type.String(),
  updatedAt: Type.String(),
})
const WithSecretSchema = Type.Intersect([
  WebhookSchema,
  Type.Object({
    secret: Type.String({ description: 'whsec_…: shown in this answer only' }),
  }),
])
const AttemptSchema = Type.Object({
  eventId: Type.String(),
  type: Type.String(),
  attempt: Type.Integer(),
  status: Type.Enum(ATTEMPT_STATUSES),
  statusCode: Nullable(Type.Integer()),
  durationMs: Type.Integer(),
  response: Nullable(Type.String({ description: 'the first 1 KiB of the reply body' })),
  error: Nullable(Type.String({ description: 'why there was no reply' })),
  at: Type.String(),
})
const TestResultSchema = Type.Object({
  ok: Type.Boolean(),
  eventId: Type.String(),
  statusCode: Nullable(Type.Integer()),
  durationMs: Type.Integer(),
  response: Nullable(Type.String()),
  error: Nullable(Type.String()),
})

function view(endpoint: WebhookEndpoint): Static<typeof WebhookSchema> {
  const { secrets: _secrets, ...shown } = endpoint
  return shown
}

export const webhookRoutes: FastifyPluginAsyncTypebox<WebhookRoutesOptions> = async (app, deps) => {
  const { configStore, configCache, webhooks, now } = deps
  const tags = ['webhooks']
  const notFound = (id: string) => new AppError('WEBHOOK_NOT_FOUND', `no webhook endpoint ${id}`)

  function find(id: string): WebhookEndpoint {
    const found = configCache.current().webhooks.find((w) => w.id === id)
    if (found === undefined) throw notFound(id)
    return found
  }

  function seal(secret: string): string {
    if (deps.secretKey === undefined) {
      throw new AppError(
        'SECRET_KEY_MISSING',
        'a webhook signing secret cannot be stored without OUTBOUND_SECRET_KEY',
      )
    }
    return sealSecret(secret, deps.secretKey)
  }

  function checkEvents(events: readonly string[]): void {
    if (events.length === 1 && events[0] === '*') return
    const unknown = events.filter((type) => !EVENT_TYPES.some((known) => known === type))
    if (unknown.length > 0) {
      throw new AppError(
        'INVALID_EVENT_TYPE',
        `events: ${unknown.join(', ')} is not an event type; allowed: ${EVENT_TYPES.join(', ')}, or ["*"] alone`,
        { field: 'events', unknown },
      )
    }
  }

  async function checkUrl(value: string): Promise<string> {
    const url = parseWebhookUrl(value)
    if (url === null) {
      throw new AppError(
        'INVALID_URL',
        `url must be an http:// or https:// URL of at most ${MAX_WEBHOOK_URL_CHARS} characters`,
        { field: 'url' },
      )
    }
    const resolved = await resolveWebhookUrl(url, { allowPrivate: deps.allowPrivateUrls })
    if (!resolved.ok) {
      throw new AppError(
        'WEBHOOK_URL_NOT_ALLOWED',
        `url: ${resolved.detail}; only public addresses are allowed unless WEBHOOK_ALLOW_PRIVATE_URLS=true`,
        { field: 'url' },
      )
    }
    return url.href
  }

  app.get(
    '/v1/webhooks',
    {
      config: { scope: 'admin' },
      schema: { tags, summary: 'Webhook endpoints', response: { 200: Type.Array(WebhookSchema) } },
    },
    async () => {
      await configCache.refresh()
      return configCache.current().webhooks.map(view)
    },
  )

  app.post(
    '/v1/webhooks',
    {
      config: { scope: 'admin' },
      schema: {
        tags,
        summary: 'Add a webhook endpoint (its signing secret is shown in this answer only)',
        body: CreateWebhookSchema,
        response: { 201: WithSecretSchema, ...errorResponses(400, 401, 403, 409, 422) },
      },
    },
    async (request, reply) => {
      const { body } = request
      checkEvents(body.events)
      const url = await checkUrl(body.url)
      const secret = newWebhookSecret()
      const at = now().toISOString()
      const result = await configStore.createWebhook(
        {
          id: deps.newId('wh'),
          url,
          events: [...new Set(body.events)],
          description: body.description ?? null,
          active: body.active ?? true,
          disabledReason: null,
          secrets: [{ sealed: seal(secret), expiresAt: null }],
          createdAt: at,
          updatedAt: at,
        },
        MAX_WEBHOOKS,
      )
      if (result.status === 'limit')
        throw new AppError('TOO_MANY_OBJECTS', `at most ${MAX_WEBHOOKS} webhook endpoints`)
      await configCache.refresh()
      return reply.status(201).send({ ...view(result.value), secret })
    },
  )

  app.get(
    '/v1/webhooks/:id',
    {
      config: { scope: 'admin' },
      schema: {
        tags,
        summary: 'A webhook endpoint',
        params: IdParams,
        response: { 200: WebhookSchema, ...errorResponses(401, 403, 404) },
      },
    },
    async (request) => {
      await configCache.refresh()
      return view(find(request.params.id))
    },
  )

  app.patch(
    '/v1/webhooks/:id',
    {
      config: { scope: 'admin' },
      schema: {
        tags,
        summary: 'Change a webhook endpoint (turning it on again clears disabledReason)',
        params: IdParams,
        body: UpdateWebhookSchema,
        response: { 200: WebhookSchema, ...errorResponses(400, 401, 403, 404, 422) },
      },
    },
    async (request) => {
      const { body } = request
      if (body.events !== undefined) checkEvents(body.events)
      const url = body.url === undefined ? undefined : await checkUrl(body.url)
      const result = await configStore.updateWebhook(request.params.id, (current) => ({
        ...current,
        ...(url === undefined ? {} : { url }),
        ...(body.events === undefined ? {} : { events: [...new Set(body.events)] }),
        ...(body.description === undefined ? {} : { description: body.description }),
        ...(body.active === undefined
          ? {}
          : { active: body.active, disabledReason: body.active ? null : current.disabledReason }),
        updatedAt: now().toISOString(),
      }))
      if (result.status === 'missing') throw notFound(request.params.id)
      await configCache.refresh()
      return view(result.value)
    },
  )

  app.delete(
    '/v1/webhooks/:id',
    {
      config: { scope: 'admin' },
      schema: {
        tags,
        summary: 'Remove a webhook endpoint and its attempt log',
        params: IdParams,
        response: { 204: Type.Null(), ...errorResponses(401, 403, 404) },
      },
    },
    async (request, reply) => {
      if ((await configStore.deleteWebhook(request.params.id)) === 'missing')
        throw notFound(request.params.id)
      await webhooks.forgetEndpoint(request.params.id)
      await configCache.refresh()
      return reply.status(204).send(null)
    },
  )

  app.post(
    '/v1/webhooks/:id/rotate-secret',
    {
      config: { scope: 'admin' },
      schema: {
        tags,
        summary: 'A new signing secret (shown once); the old one signs beside it for 24 h',
        params: IdParams,
        response: {
          200: Type.Object({
            id: Type.String(),
            secret: Type.String(),
            previousSecretExpiresAt: Type.String(),
          }),
          ...errorResponses(401, 403, 404, 422),
        },
      },
    },
    async (request) => {
      const secret = newWebhookSecret()
      const sealed = seal(secret)
      const at = now()
      const expiresAt = new Date(at.getTime() + ROTATION_OVERLAP_MS).toISOString()
      const result = await configStore.updateWebhook(request.params.id, (current) => ({
        ...current,
        secrets: [
          { sealed, expiresAt: null },
          ...activeSecrets(current.secrets, at).map((old) =>
            old.expiresAt === null ? { ...old, expiresAt } : old,
          ),
        ],
        updatedAt: at.toISOString(),
      }))
      if (result.status === 'missing') throw notFound(request.params.id)
      await configCache.refresh()
      return { id: request.params.id, secret, previousSecretExpiresAt: expiresAt }
    },
  )

  app.post(
    '/v1/webhooks/:id/test',
    {
      config: { scope: 'admin' },
      schema: {
        tags,
        summary: 'Send one webhook.test event now and answer what the endpoint replied',
        params: IdParams,
        response: { 200: TestResultSchema, ...errorResponses(401, 403, 404) },
      },
    },
    async (request) => {
      await configCache.refresh()
      const endpoint = find(request.params.id)
      const at = now()
      const event = {
        id: deps.newId('evt'),
        type: 'webhook.test',
        timestamp: at.toISOString(),
        data: { webhookId: endpoint.id, message: 'a test event from Outbound' },
      }
      const keys = [
        ...(deps.secretKey === undefined ? [] : [deps.secretKey]),
        ...deps.previousSecretKeys,
      ]
      const result = await sendWebhook(endpoint.url, event, {
        secrets: activeSecrets(endpoint.secrets, at).map(({ sealed }) =>
          openSecretWithAny(sealed, keys),
        ),
        at,
        allowPrivate: deps.allowPrivateUrls,
        timeoutMs: TEST_TIMEOUT_MS,
      })
      const ok = result.kind === 'replied' && result.statusCode >= 200 && result.statusCode < 300
      const attempt: WebhookAttempt = {
        eventId: event.id,
        type: event.type,
        attempt: 1,
        status: ok ? 'succeeded' : 'failed',
        statusCode: result.kind === 'replied' ? result.statusCode : null,
        durationMs: result.durationMs,
        response: result.kind === 'replied' ? result.body : null,
        error: result.kind === 'replied' ? null : result.error,
        at: at.toISOString(),
      }
      await webhooks.saveEvent(event)
      await webhooks.recordAttempt(endpoint.id, attempt)
      const { statusCode, durationMs, response, error } = attempt
      return { ok, eventId: event.id, statusCode, durationMs, response, error }
    },
  )

  app.get(
    '/v1/webhooks/:id/deliveries',
    {
      config: { scope: 'admin' },
      schema: {
        tags,
        summary: 'The attempt log of an endpoint, newest first (kept 30 days)',
        params: IdParams,
        querystring: Type.Object(
          {
            status: Type.Optional(Type.Enum(ATTEMPT_STATUSES)),
            limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 50 })),
          },
          { additionalProperties: false },
        ),
        response: { 200: Type.Array(AttemptSchema), ...errorResponses(400, 401, 403, 404) },
      },
    },
    async (request) => {
      await configCache.refresh()
      find(request.params.id)
      const { status, limit } = request.query
      return await webhooks.listAttempts(request.params.id, {
        ...(status === undefined ? {} : { status }),
        limit: limit ?? 50,
      })
    },
  )

  app.post(
    '/v1/webhooks/:id/deliveries/:eventId/retry',
    {
      config: { scope: 'admin' },
      schema: {
        tags,
        summary: 'Deliver an event to the endpoint again now (on the full retry schedule)',
        params: Type.Object({
          id: Type.String({ minLength: 1, maxLength: 64 }),
          eventId: Type.String({ minLength: 1, maxLength: 64 }),
        }),
        response: {
          202: Type.Object({ eventId: Type.String(), endpointId: Type.String() }),
          ...errorResponses(401, 403, 404, 409),
        },
      },
    },
    async (request, reply) => {
      await configCache.refresh()
      const endpoint = find(request.params.id)
      if (!endpoint.active) {
        throw new AppError(
          'WEBHOOK_INACTIVE',
          `webhook endpoint ${endpoint.id} is not active; PATCH it with active: true first`,
        )
      }
      const event = await webhooks.readEvent(request.params.eventId)
      if (event === null) {
        throw new AppError(
          'WEBHOOK_EVENT_NOT_FOUND',
          `no event ${request.params.eventId} is kept (events are kept 7 days)`,
        )
      }
      await deps.queue.add(
        event.type,
        { eventId: event.id, endpointId: endpoint.id },
        webhookJobOptions(
          event.id,
          endpoint.id,
          DEFAULT_WEBHOOK_RETRY_SCHEDULE_SECONDS,
          `replay-${now().getTime()}`,
        ),
      )
      return reply.status(202).send({ eventId: event.id, endpointId: endpoint.id })
    },
  )
}
