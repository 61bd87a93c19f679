import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { type Static, Type } from 'typebox'
import { normalizeAddress, parseMailbox } from '@outbound/address'
import { DELIVER_JOB, deliverJobOptions, type Stream } from '@outbound/jobs'
import {
  type ConfigCache,
  MESSAGE_STATUSES,
  type MessageFilter,
  type MessageStore,
  type SearchPosition,
} from '@outbound/store'
import type { Queues } from '../../accept-email.js'
import { AppError, ERROR_CODES, type ErrorCode } from '../../errors.js'
import { serverNameOf } from '../../server-name.js'
import { ErrorSchema, MessageRowSchema } from './email-schemas.js'
import { toRowView } from './emails.js'

export type EmailSearchRoutesOptions = {
  store: MessageStore
  queues: Queues
  configCache: ConfigCache
  now: () => Date
}

const MAX_LIMIT = 100
const DEFAULT_LIMIT = 20

/** An error answer with the codes a route gives with that status (`code` is one of them). */
function failure(codes: readonly ErrorCode[], note = '') {
  return Type.Object(
    {
      ...ErrorSchema.properties,
      code: Type.Union(codes.map((code) => Type.Literal(code))),
    },
    {
      description: `${codes.map((code) => `${code}: ${ERROR_CODES[code][1]}`).join('; ')}${note}`,
    },
  )
}
const AUTH_ERRORS = { 401: failure(['UNAUTHORIZED']), 403: failure(['FORBIDDEN']) }
const IdParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 64 }) })

const SearchQuerySchema = Type.Object(
  {
    status: Type.Optional(Type.String({ maxLength: 32, description: 'one message status' })),
    stream: Type.Optional(Type.String({ maxLength: 32, description: '`transactional` or `mass`' })),
    to: Type.Optional(
      Type.String({ maxLength: 1000, description: 'a recipient (to, cc or bcc), any letter case' }),
    ),
    from: Type.Optional(
      Type.String({ maxLength: 1000, description: 'the sender as given (its address part)' }),
    ),
    tag: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
    reference: Type.Optional(Type.String({ minLength: 1, maxLength: 256 })),
    list: Type.Optional(
      Type.String({ minLength: 1, maxLength: 256, description: 'a mailing list id (mass mail)' }),
    ),
    since: Type.Optional(
      Type.String({ maxLength: 64, description: 'accepted at or after (ISO-8601 with a zone)' }),
    ),
    until: Type.Optional(
      Type.String({ maxLength: 64, description: 'accepted before (ISO-8601 with a zone)' }),
    ),
    limit: Type.Optional(
      Type.String({ maxLength: 8, description: `rows per page, 1 to ${MAX_LIMIT} (default 20)` }),
    ),
    cursor: Type.Optional(
      Type.String({ maxLength: 200, description: 'the `nextCursor` of the previous page' }),
    ),
  },
  { additionalProperties: false },
)

const SearchPageSchema = Type.Object(
  {
    data: Type.Array(MessageRowSchema),
    nextCursor: Type.Union([Type.String(), Type.Null()], {
      description: 'pass as `cursor` for the next page; null when there is none',
    }),
  },
  {
    examples: [
      {
        data: [
          {
            id: 'msg_01JD5Z8Q4W4KX3T0N6S9YV2M7A',
            status: 'sent',
            stream: 'transactional',
            companyId: null,
            from: 'billing@example.com',
            headerFrom: 'billing@example.com',
            envelopeFrom: 'billing@example.com',
            replyTo: null,
            to: ['ann@example.org'],
            cc: [],
            bcc: [],
            subject: 'Your invoice',
            serverId: 'srv_01JD5Z6V',
            serverName: 'Primary relay',
            routing: { step: 'from-filter', reason: 'server filtered for example.com' },
            dkim: { signed: true, domain: 'example.com', selectors: ['s1'], detail: 'signed' },
            warnings: [],
            attempts: 1,
            createdAt: '2026-11-30T09:12:03.120Z',
            scheduledAt: null,
            sentAt: '2026-11-30T09:12:03.410Z',
            deferredUntil: null,
            smtpResponse: '250 2.0.0 Ok: queued as 4F1',
            error: null,
            reference: 'invoice-2291',
            tags: ['invoice'],
            metadata: {},
            recipients: [
              {
                address: 'ann@example.org',
                status: 'sent',
                smtpCode: 250,
                enhancedCode: '2.0.0',
                diagnostic: null,
              },
            ],
          },
        ],
        nextCursor: 'MTc2NDQ5MzkyMzEyMDptc2dfMDFKRDVaOFE0VzRLWDNUME42UzlZVjJNN0E',
      },
    ],
  },
)

const RetriedSchema = Type.Object(
  {
    id: Type.String(),
    status: Type.Union([Type.Literal('deferred'), Type.Literal('queued')], {
      description:
        '`deferred`: its next attempt is now; `queued`: a failed message starts a new round of retries',
    }),
    recipients: Type.Integer({
      description: 'recipients pending again (0 for a deferred message, whose pending ones stay)',
    }),
  },
  { examples: [{ id: 'msg_01JD5Z8Q4W4KX3T0N6S9YV2M7A', status: 'queued', recipients: 2 }] },
)

/** A cursor is the (acceptance time, id) of the last row read, base64url-encoded. */
function encodeCursor(position: SearchPosition): string {
  return Buffer.from(`${position.score}:${position.id}`).toString('base64url')
}

function decodeCursor(cursor: string): SearchPosition {
  const match = /^(\d{1,16}):([\w-]{1,64})$/.exec(Buffer.from(cursor, 'base64url').toString())
  if (match === null || match[1] === undefined || match[2] === undefined)
    throw new AppError('INVALID_CURSOR', 'cursor is not a nextCursor this API gave', {
      field: 'cursor',
    })
  return { score: Number(match[1]), id: match[2] }
}

function parseTime(field: 'since' | 'until', value: string | undefined): Date | undefined {
  if (value === undefined) return undefined
  const at = new Date(value)
  // A zone is required: a time without one would mean the server's local time.
  if (!/(Z|[+-]\d\d:?\d\d)$/i.test(value) || Number.isNaN(at.getTime()))
    throw new AppError('INVALID_TIME_RANGE', `${field} is not an ISO-8601 time with a zone`, {
      field,
    })
  return at
}

function parseAddress(field: 'to' | 'from', value: string | undefined): string | undefined {
  if (value === undefined) return undefined
  const mailbox = parseMailbox(value)
  if (mailbox === null)
    throw new AppError('INVALID_ADDRESS', `${field} is not one valid email address`, { field })
  return normalizeAddress(mailbox)
}

type SearchQuery = Static<typeof SearchQuerySchema>

/** The query string as a store filter; a bad value is a 400 naming its field. */
function parseFilter(query: SearchQuery): MessageFilter {
  const { status, stream } = query
  const knownStatus = MESSAGE_STATUSES.find((s) => s === status)
  if (status !== undefined && knownStatus === undefined)
    throw new AppError('INVALID_STATUS', `status is not one of ${MESSAGE_STATUSES.join(', ')}`, {
      field: 'status',
    })
  if (stream !== undefined && stream !== 'transactional' && stream !== 'mass')
    throw new AppError('INVALID_STREAM', 'stream is not transactional or mass', {
      field: 'stream',
    })
  const since = parseTime('since', query.since)
  const until = parseTime('until', query.until)
  if (since !== undefined && until !== undefined && since >= until)
    throw new AppError('INVALID_TIME_RANGE', 'since is not before until', { field: 'since' })
  const to = parseAddress('to', query.to)
  const from = parseAddress('from', query.from)
  const filter: MessageFilter = {}
  if (knownStatus !== undefined) filter.status = knownStatus
  if (stream !== undefined) filter.stream = stream
  if (to !== undefined) filter.to = to
  if (from !== undefined) filter.from = from
  if (query.tag !== undefined) filter.tag = query.tag
  if (query.reference !== undefined) filter.reference = query.reference
  if (query.list !== undefined) filter.list = query.list
  if (since !== undefined) filter.since = since
  if (until !== undefined) filter.until = until
  return filter
}

function parseLimit(value: string | undefined): number {
  if (value === undefined) return DEFAULT_LIMIT
  const limit = /^\d{1,3}$/.test(value) ? Number(value) : NaN
  if (!(limit >= 1 && limit <= MAX_LIMIT))
    throw new AppError('INVALID_LIMIT', `limit is not a whole number from 1 to ${MAX_LIMIT}`, {
      field: 'limit',
    })
  return limit
}

/** Message search, the raw source of a hand-over, and retry on demand. */
export const emailSearchRoutes: FastifyPluginAsyncTypebox<EmailSearchRoutesOptions> = async (
  app,
  options,
) => {
  const { store, queues, now } = options

  app.get(
    '/v1/emails',
    {
      config: { scope: 'read' },
      schema: {
        tags: ['emails'],
        summary: 'Find messages: filters, newest first, a page at a time',
        description:
          'Every filter given must hold. `to` matches any recipient (to, cc, bcc) and `from` the ' +
          'sender, both by address in any letter case; `tag`, `reference` and `list` match exactly; ' +
          '`since`/`until` bound the acceptance time. Pages follow `nextCursor`: a cursor never ' +
          'repeats or skips a message that existed when the first page was read (messages accepted ' +
          'since then are newer than every cursor, and appear on a new first page). Records are ' +
          'kept 30 days after their final status. A page may hold fewer than `limit` rows with a ' +
          '`nextCursor` when a combination of filters is sparse (at most 5,000 messages are ' +
          'examined per request).',
        querystring: SearchQuerySchema,
        response: {
          200: SearchPageSchema,
          400: failure(
            [
              'INVALID_STATUS',
              'INVALID_STREAM',
              'INVALID_ADDRESS',
              'INVALID_TIME_RANGE',
              'INVALID_LIMIT',
              'INVALID_CURSOR',
              'VALIDATION_FAILED',
            ],
            '. `details.field` names the parameter.',
          ),
          ...AUTH_ERRORS,
        },
      },
    },
    async (request) => {
      const filter = parseFilter(request.query)
      const limit = parseLimit(request.query.limit)
      const cursor = request.query.cursor === undefined ? null : decodeCursor(request.query.cursor)
      const page = await store.searchMessages(filter, limit, cursor)
      const snapshot = options.configCache.current()
      return {
        data: page.rows.map((row) => toRowView(row, serverNameOf(snapshot, row.serverId))),
        nextCursor: page.next === null ? null : encodeCursor(page.next),
      }
    },
  )

  app.get(
    '/v1/emails/:id/raw',
    {
      config: { scope: 'read' },
      schema: {
        tags: ['emails'],
        summary: 'The exact bytes of the last hand-over (message/rfc822, DKIM signature included)',
        description:
          'Kept RAW_RETENTION_DAYS (default 7) after the hand-over. 404 RAW_NOT_AVAILABLE before ' +
          'the first hand-over, after the retention, or when RAW_RETENTION_DAYS is 0.',
        params: IdParams,
        response: {
          200: {
            description: 'the message as it went on the wire',
            content: {
              'message/rfc822': {
                schema: Type.Unsafe<Buffer>({ type: 'string', format: 'binary' }),
              },
            },
          },
          ...AUTH_ERRORS,
          404: failure(
            ['MESSAGE_NOT_FOUND', 'RAW_NOT_AVAILABLE'],
            '. `details.status` is the message status.',
          ),
        },
      },
    },
    async (request, reply) => {
      const { id } = request.params
      const raw = await store.getRawSource(id)
      if (raw === null) {
        const [state] = await store.statusesOf([id])
        if (state === null || state === undefined)
          throw new AppError('MESSAGE_NOT_FOUND', `no message ${id}`)
        throw new AppError(
          'RAW_NOT_AVAILABLE',
          `message ${id} has no raw source: not handed over yet, or past RAW_RETENTION_DAYS`,
          { status: state.status },
        )
      }
      return reply.type('message/rfc822').send(raw)
    },
  )

  app.post(
    '/v1/emails/:id/retry',
    {
      config: { scope: 'send' },
      schema: {
        tags: ['emails'],
        summary: 'Try a deferred message now, or give a failed one a new round of retries',
        description:
          'A `deferred` message is tried now (its waiting job is promoted). A `failed` one gets its ' +
          'softly failed recipients back as pending and a new round of the retry schedule; ' +
          'hard-bounced, suppressed and sent recipients stay as they are. Anything else: 409 ' +
          'NOT_RETRYABLE. The record gets a `retry` event. Of concurrent retries of a failed message ' +
          'one wins and the others answer 409; a deferred message may be retried again.',
        params: IdParams,
        response: {
          200: RetriedSchema,
          ...AUTH_ERRORS,
          404: failure(['MESSAGE_NOT_FOUND']),
          409: failure(['NOT_RETRYABLE'], '. `details.status` is the message status.'),
        },
      },
    },
    async (request) => {
      const { id } = request.params
      // A sandbox key's retry would send real mail to a real server: only its own mail.
      if (request.sandbox && (await store.getMessage(id))?.sandbox === false) {
        throw new AppError('FORBIDDEN', 'a sandbox key retries only the mail it sent itself')
      }
      const result = await store.retryMessage(id, now())
      switch (result.kind) {
        case 'missing':
          throw new AppError('MESSAGE_NOT_FOUND', `no message ${id}`)
        case 'conflict':
          throw new AppError(
            'NOT_RETRYABLE',
            `message ${id} is ${result.status}: only deferred and failed messages can be retried`,
            { status: result.status },
          )
        case 'due-now':
          await runNow(queues, result.stream, id)
          return { id, status: 'deferred' as const, recipients: 0 }
        case 'requeued':
          await runNow(queues, result.stream, id)
          return { id, status: 'queued' as const, recipients: result.recipients }
      }
    },
  )
}

/**
 * Makes the message's job run now: a delayed one is promoted, a failed or completed one is retried,
 * a missing one is added (job id = message id, so there is never a second). Should this fail after
 * the store's step, the sweeper adds a missing job; the record already waits in the pending index.
 */
async function runNow(queues: Queues, stream: Stream, id: string): Promise<void> {
  const queue = queues[stream]
  const job = await queue.getJob(id)
  if (job === undefined) {
    await queue.add(DELIVER_JOB, { messageId: id }, deliverJobOptions(id, 0))
    return
  }
  const state = await job.getState()
  if (state === 'delayed') {
    // A concurrent retry may have promoted it first: then it is no longer delayed, and runs.
    await job.promote().catch(async (err: unknown) => {
      if ((await job.getState()) === 'delayed') throw err
    })
  } else if (state === 'failed' || state === 'completed') {
    await job.retry(state, { resetAttemptsMade: true, resetAttemptsStarted: true })
  }
  // Otherwise (waiting, prioritized, active) it runs, or is running, already.
}
