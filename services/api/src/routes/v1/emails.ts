import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { setImmediate } from 'node:timers/promises'
import { Type } from 'typebox'
import { Compile } from 'typebox/compile'
import type { SendLimits } from '@outbound/config'
import { messageEvent } from '@outbound/jobs'
import {
  type BounceStore,
  type ConfigCache,
  type MessageRecord,
  messageSummary,
} from '@outbound/store'
import { markSuppressed } from '../../mark-suppressed.js'
import {
  type AcceptDeps,
  type Acceptance,
  acceptEmail,
  acceptEmails,
  readIdempotencyKey,
} from '../../accept-email.js'
import { resolveReferences } from '../../resolve-references.js'
import { serverNameOf } from '../../server-name.js'
import { AppError } from '../../errors.js'
import { schemaError } from '../../plugins/error-handler.js'
import { type ValidatedEmail, validateEmail } from '../../validate-email.js'
import {
  AcceptedSchema,
  BatchResultSchema,
  CanceledSchema,
  ErrorSchema,
  MAX_BATCH_SIZE,
  MessageSchema,
  type MessageRowView,
  type MessageView,
  SendBatchSchema,
  SendEmailSchema,
} from './email-schemas.js'

export type EmailRoutesOptions = AcceptDeps & {
  limits: SendLimits
  /** Whether mass mail gets the one-click unsubscribe link (PUBLIC_URL and OUTBOUND_SECRET_KEY set). */
  oneClickUnsubscribe: boolean
  /** RATE_LIMIT_SEND_PER_MINUTE: requests per minute per API key; 0: none. */
  sendPerMinute: number
  now: () => Date
  configCache: ConfigCache
  bounces: BounceStore
  /** A new webhook event id (`evt_…`). */
  newEventId: () => string
}

const IdParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 64 }) })
const errors = (...statuses: number[]) =>
  Object.fromEntries(statuses.map((status) => [status, ErrorSchema]))
const sendEmailValidator = Compile(SendEmailSchema)
// How long a batch's validation may run before it lets other requests in.
const YIELD_AFTER_MS = 1

/** A record as the API shows it; `serverName` is the name of its server in the current config. */
export function toView(record: MessageRecord, serverName: string | null): MessageView {
  return { ...toRowView(record, serverName), events: record.events }
}

/** A record without its events, as search rows show it. */
export function toRowView(
  record: Omit<MessageRecord, 'events'>,
  serverName: string | null,
): MessageRowView {
  const { request } = record
  return {
    id: record.id,
    status: record.status,
    stream: record.stream,
    companyId: request.companyId,
    from: request.from,
    headerFrom: record.headerFrom,
    envelopeFrom: record.envelopeFrom,
    // The Reply-To that went out once the message was handed over; the request's until then.
    replyTo: record.replyTo ?? request.replyTo,
    to: request.to,
    cc: request.cc,
    bcc: request.bcc,
    subject: request.subject,
    list: request.list ?? null,
    serverId: record.serverId,
    serverName,
    routing: record.routing,
    dkim: record.dkim,
    warnings: record.warnings,
    attempts: record.attempts,
    createdAt: record.createdAt.toISOString(),
    scheduledAt: record.scheduledAt?.toISOString() ?? null,
    sentAt: record.sentAt?.toISOString() ?? null,
    deferredUntil: record.deferredUntil?.toISOString() ?? null,
    smtpResponse: record.smtpResponse,
    error: record.error,
    reference: request.reference,
    tags: request.tags,
    metadata: request.metadata,
    sandbox: record.sandbox,
    recipients: record.recipients.map(
      ({ address, status, smtpCode, enhancedCode, diagnostic }) => ({
        address,
        status,
        smtpCode,
        enhancedCode,
        diagnostic,
      }),
    ),
  }
}

export const emailRoutes: FastifyPluginAsyncTypebox<EmailRoutesOptions> = async (app, options) => {
  const { limits, now } = options
  const rateLimit =
    options.sendPerMinute === 0 ? false : { max: options.sendPerMinute, timeWindow: 60_000 }
  // Base64 grows attachments by 4/3; the rest of the JSON gets 1 MiB of room.
  const singleBodyLimit =
    Math.ceil((limits.attachmentBytes * 4) / 3 + limits.bodyBytes * 2) + 1024 * 1024

  app.post(
    '/v1/emails',
    {
      config: { scope: 'send', rateLimit },
      bodyLimit: singleBodyLimit,
      schema: {
        tags: ['emails'],
        summary: 'Send an email',
        description:
          'Validates, stores and enqueues one email; answers 202 once its job is durably in Redis. ' +
          'With `Idempotency-Key`, a repeat with the same body answers the same for 24 h. ' +
          'With a sandbox key, the message runs the whole pipeline but is written to the file ' +
          'outbox, never handed to a server; `simulator.test` recipients act out an outcome.',
        headers: Type.Object({ 'idempotency-key': Type.Optional(Type.String()) }),
        body: SendEmailSchema,
        response: { 202: AcceptedSchema, ...errors(400, 401, 403, 409, 413, 415, 422, 503) },
      },
    },
    async (request, reply) => {
      const key = readIdempotencyKey(request.headers['idempotency-key'])
      const at = now()
      const [email] = await markSuppressed(options.bounces, [
        {
          ...validateEmail(request.body, limits, at, options.oneClickUnsubscribe),
          sandbox: request.sandbox,
        },
      ])
      if (email === undefined || email instanceof AppError) throw email ?? new Error('no email')
      const references = await resolveReferences(options.configCache, email)
      const idempotency =
        key === undefined ? undefined : { scope: request.principal, key, body: request.body }
      const accepted = await acceptEmail(options, email, references, idempotency, at)
      return reply.status(202).send(accepted)
    },
  )

  app.post(
    '/v1/emails/batch',
    {
      config: { scope: 'send', rateLimit },
      bodyLimit: limits.batchBytes,
      schema: {
        tags: ['emails'],
        summary: 'Send up to 1000 emails',
        description:
          'Each item is validated and accepted on its own; results come in input order. ' +
          'With `Idempotency-Key`, item N is idempotent under `<key>#N`.',
        headers: Type.Object({ 'idempotency-key': Type.Optional(Type.String()) }),
        body: SendBatchSchema,
        response: { 202: BatchResultSchema, ...errors(400, 401, 403, 413, 415, 503) },
      },
    },
    async (request, reply) => {
      const { emails } = request.body
      if (emails.length === 0 || emails.length > MAX_BATCH_SIZE) {
        throw new AppError('BATCH_TOO_LARGE', `a batch holds 1 to ${MAX_BATCH_SIZE} emails`)
      }
      const key = readIdempotencyKey(request.headers['idempotency-key'])
      const at = now()
      // A client mistake is that item's answer; anything else fails the request.
      const itemError = (err: unknown) => {
        if (err instanceof AppError && err.statusCode < 500) return err
        throw err
      }
      const validated: (ValidatedEmail | AppError)[] = []
      let turnStartedAt = performance.now()
      for (const [index, item] of emails.entries()) {
        try {
          if (!sendEmailValidator.Check(item))
            throw schemaError(sendEmailValidator.Errors(item), `emails[${index}]`, SendEmailSchema)
          validated.push({
            ...validateEmail(item, limits, at, options.oneClickUnsubscribe),
            sandbox: request.sandbox,
          })
        } catch (err) {
          validated.push(itemError(err))
        }
        // At most about a millisecond of checks per turn of the event loop: a full 50 MiB batch
        // would otherwise hold other requests for its whole validation.
        if (performance.now() - turnStartedAt >= YIELD_AFTER_MS) {
          await setImmediate()
          turnStartedAt = performance.now()
        }
      }
      const valid = validated.filter((item): item is ValidatedEmail => !(item instanceof AppError))
      const marked = await markSuppressed(options.bounces, valid)
      let next = 0
      const checked = validated.map((item) => (item instanceof AppError ? item : marked[next++]))
      const acceptances: Acceptance[] = []
      const slots = await Promise.all(
        checked.map(async (email, index) => {
          if (email === undefined || email instanceof AppError) return email
          try {
            const references = await resolveReferences(options.configCache, email)
            const idempotency =
              key === undefined
                ? undefined
                : { scope: request.principal, key: `${key}#${index}`, body: emails[index] }
            return acceptances.push({ email, references, idempotency }) - 1
          } catch (err) {
            return itemError(err)
          }
        }),
      )
      const accepted = await acceptEmails(options, acceptances, at)
      const results = slots.map((slot) => {
        const answer = typeof slot === 'number' ? accepted[slot] : slot
        if (answer === undefined) throw new Error('a batch item has no answer')
        return answer instanceof AppError ? { error: answer.toBody() } : answer
      })
      return reply.status(202).send({ results })
    },
  )

  app.get(
    '/v1/emails/:id',
    {
      config: { scope: 'read' },
      schema: {
        tags: ['emails'],
        summary: 'A message: status, routing, recipients and history',
        params: IdParams,
        response: { 200: MessageSchema, ...errors(401, 403, 404) },
      },
    },
    async (request) => {
      const record = await options.store.getMessage(request.params.id)
      if (record === null)
        throw new AppError('MESSAGE_NOT_FOUND', `no message ${request.params.id}`)
      return toView(record, serverNameOf(options.configCache.current(), record.serverId))
    },
  )

  app.delete(
    '/v1/emails/:id',
    {
      config: { scope: 'send' },
      schema: {
        tags: ['emails'],
        summary: 'Cancel a message not yet handed to a server',
        params: IdParams,
        response: { 200: CanceledSchema, ...errors(401, 403, 404, 409) },
      },
    },
    async (request) => {
      const { id } = request.params
      const at = now()
      // The event is written by the cancel itself, and only if it cancels.
      const before = await options.store.getMessage(id)
      if (request.sandbox && before !== null && !before.sandbox) {
        throw new AppError('FORBIDDEN', 'a sandbox key cancels only the mail it sent itself')
      }
      const event =
        before === null
          ? undefined
          : messageEvent(
              options.newEventId(),
              'email.canceled',
              at,
              messageSummary(before, before.serverId),
              'canceled',
              before.recipients.map((r) =>
                r.status === 'pending' || r.status === 'deferred'
                  ? { ...r, status: 'canceled' }
                  : r,
              ),
            )
      const result = await options.store.cancelMessage(id, at, event)
      switch (result.kind) {
        case 'missing':
          throw new AppError('MESSAGE_NOT_FOUND', `no message ${id}`)
        case 'conflict':
          throw new AppError(
            'NOT_CANCELLABLE',
            `message ${id} is ${result.status} and can no longer be canceled`,
            {
              status: result.status,
            },
          )
        case 'canceled': {
          if (before !== null) {
            // The job may be running (it then finds the message canceled and stops); removing a
            // waiting or delayed one just saves the worker a look.
            await options.queues[before.stream].remove(id).catch((err: unknown) => {
              request.log.debug({ err, messageId: id }, 'job not removed')
            })
          }
          return { id, status: 'canceled' as const }
        }
      }
    },
  )
}
