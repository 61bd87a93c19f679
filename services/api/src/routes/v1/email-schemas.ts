import { Type, type Static } from 'typebox'
import { MESSAGE_STATUSES } from '@outbound/store'

// Hard bounds that hold whatever the configured limits say; the configured limits are checked in
// validate-email.ts so that each has its own error code.
const ADDRESS = Type.String({
  maxLength: 1000,
  description: 'an RFC 5322 mailbox: `a@b.example` or `"Name" <a@b.example>`',
})
const ADDRESS_LIST = Type.Union([ADDRESS, Type.Array(ADDRESS, { maxItems: 1000 })], {
  description: 'one address or a list',
})
const ID = Type.String({ minLength: 1, maxLength: 64 })

export const StreamSchema = Type.Union([Type.Literal('transactional'), Type.Literal('mass')], {
  description: '`transactional` (default) or `mass`: the queue and worker pool the message uses',
})

export const AttachmentSchema = Type.Object(
  {
    filename: Type.String({ minLength: 1, maxLength: 255 }),
    content: Type.String({ description: 'base64' }),
    contentType: Type.Optional(Type.String({ maxLength: 255 })),
  },
  { additionalProperties: false },
)

export const SendEmailSchema = Type.Object(
  {
    from: ADDRESS,
    to: Type.Optional(ADDRESS_LIST),
    cc: Type.Optional(ADDRESS_LIST),
    bcc: Type.Optional(ADDRESS_LIST),
    replyTo: Type.Optional(ADDRESS),
    subject: Type.String({ maxLength: 100_000 }),
    text: Type.Optional(Type.String()),
    html: Type.Optional(Type.String()),
    headers: Type.Optional(
      Type.Record(Type.String({ maxLength: 200 }), Type.String({ maxLength: 10_000 }), {
        maxProperties: 50,
      }),
    ),
    attachments: Type.Optional(Type.Array(AttachmentSchema, { maxItems: 1000 })),
    stream: Type.Optional(StreamSchema),
    list: Type.Optional(
      Type.String({
        maxLength: 200,
        description:
          'the mailing list of a mass message: 1 to 100 of A-Z a-z 0-9 . _ - (default `default`; ignored on transactional)',
      }),
    ),
    companyId: Type.Optional(ID),
    serverId: Type.Optional(ID),
    scheduledAt: Type.Optional(
      Type.String({ maxLength: 64, description: 'ISO-8601 with a zone, at most 30 days ahead' }),
    ),
    reference: Type.Optional(Type.String({ maxLength: 256 })),
    tags: Type.Optional(Type.Array(Type.String({ maxLength: 64 }), { maxItems: 20 })),
    metadata: Type.Optional(
      Type.Record(Type.String({ maxLength: 64 }), Type.String({ maxLength: 1000 }), {
        maxProperties: 50,
      }),
    ),
  },
  { additionalProperties: false },
)
export type SendEmail = Static<typeof SendEmailSchema>

export const MAX_BATCH_SIZE = 1000

export const SendBatchSchema = Type.Object(
  {
    emails: Type.Array(Type.Unknown(), {
      description: `1 to ${MAX_BATCH_SIZE} emails, each as for POST /v1/emails`,
    }),
  },
  { additionalProperties: false },
)

export const AcceptedSchema = Type.Object({
  id: Type.String(),
  status: Type.Union([Type.Literal('queued'), Type.Literal('scheduled')]),
  stream: StreamSchema,
})
export type Accepted = Static<typeof AcceptedSchema>

export const ErrorSchema = Type.Object({
  statusCode: Type.Integer(),
  code: Type.String(),
  error: Type.String(),
  message: Type.String(),
  details: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
})

export const BatchResultSchema = Type.Object({
  results: Type.Array(Type.Union([AcceptedSchema, Type.Object({ error: ErrorSchema })])),
})

const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(schema: T) =>
  Type.Union([schema, Type.Null()])

export const MessageStatusSchema = Type.Enum(MESSAGE_STATUSES)

export const MessageSchema = Type.Object({
  id: Type.String(),
  status: MessageStatusSchema,
  stream: StreamSchema,
  companyId: Nullable(Type.String()),
  from: Type.String(),
  headerFrom: Nullable(Type.String({ description: 'the From header actually sent' })),
  envelopeFrom: Nullable(Type.String({ description: 'the MAIL FROM actually sent' })),
  replyTo: Nullable(Type.String()),
  to: Type.Array(Type.String()),
  cc: Type.Array(Type.String()),
  bcc: Type.Array(Type.String()),
  subject: Type.String(),
  list: Nullable(
    Type.String({ description: 'the mailing list of a mass message; null for transactional' }),
  ),
  serverId: Nullable(Type.String()),
  serverName: Nullable(
    Type.String({
      description:
        'the name of that server in the current configuration (null before a hand-over, or once the server is deleted)',
    }),
  ),
  routing: Nullable(Type.Object({ step: Type.String(), reason: Type.String() })),
  dkim: Nullable(
    Type.Object(
      {
        signed: Type.Boolean(),
        domain: Type.String(),
        selectors: Type.Array(Type.String()),
        detail: Type.String(),
      },
      { description: 'whether the message went out DKIM-signed, with which selectors, or why not' },
    ),
  ),
  warnings: Type.Array(Type.String(), {
    description: 'deliverability warnings (e.g. DMARC of an unrewritten sender)',
  }),
  attempts: Type.Integer(),
  createdAt: Type.String(),
  scheduledAt: Nullable(Type.String()),
  sentAt: Nullable(Type.String()),
  deferredUntil: Nullable(
    Type.String({
      description: 'while deferred: when the next attempt is due (a retry, or a quota reset)',
    }),
  ),
  smtpResponse: Nullable(Type.String()),
  error: Nullable(Type.String()),
  reference: Nullable(Type.String()),
  tags: Type.Array(Type.String()),
  metadata: Type.Record(Type.String(), Type.String()),
  sandbox: Type.Boolean({
    description:
      'sent with a sandbox key: it ran the whole pipeline but was written to the file outbox, never handed to a server',
  }),
  recipients: Type.Array(
    Type.Object({
      address: Type.String(),
      status: Type.String(),
      smtpCode: Nullable(Type.Integer()),
      enhancedCode: Nullable(Type.String()),
      diagnostic: Nullable(Type.String()),
    }),
  ),
  events: Type.Array(
    Type.Object({ at: Type.String(), type: Type.String(), detail: Nullable(Type.String()) }),
  ),
})
export type MessageView = Static<typeof MessageSchema>

/** A search row: the record without its events (and, as always, without its bodies). */
export const MessageRowSchema = Type.Omit(MessageSchema, ['events'])
export type MessageRowView = Static<typeof MessageRowSchema>

export const CanceledSchema = Type.Object({ id: Type.String(), status: Type.Literal('canceled') })
