import { Type, type Static } from 'typebox'
import { Compile } from 'typebox/compile'
import { type MessageSummary, STREAMS, type Stream } from '@outbound/jobs'

export const MESSAGE_STATUSES = [
  'queued',
  'scheduled',
  'deferred',
  'sending',
  'sent',
  'bounced',
  'failed',
  'suppressed',
  'canceled',
] as const
export type MessageStatus = (typeof MESSAGE_STATUSES)[number]

/** Statuses a message never leaves. */
export const FINAL_STATUSES: readonly MessageStatus[] = [
  'sent',
  'bounced',
  'failed',
  'suppressed',
  'canceled',
]

const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(schema: T) =>
  Type.Union([schema, Type.Null()])

export const RecipientSchema = Type.Object({
  address: Type.String(),
  field: Type.Union([Type.Literal('to'), Type.Literal('cc'), Type.Literal('bcc')]),
  status: Type.Union([
    Type.Literal('pending'),
    Type.Literal('sent'),
    Type.Literal('deferred'),
    Type.Literal('bounced'),
    Type.Literal('failed'),
    Type.Literal('suppressed'),
    Type.Literal('canceled'),
  ]),
  smtpCode: Nullable(Type.Integer()),
  enhancedCode: Nullable(Type.String()),
  diagnostic: Nullable(Type.String()),
})
export type Recipient = Static<typeof RecipientSchema>

/** What the caller asked for, minus the bodies: kept as accepted, never rewritten. */
export const MessageRequestSchema = Type.Object({
  from: Type.String(),
  to: Type.Array(Type.String()),
  cc: Type.Array(Type.String()),
  bcc: Type.Array(Type.String()),
  replyTo: Nullable(Type.String()),
  subject: Type.String(),
  headers: Type.Record(Type.String(), Type.String()),
  companyId: Nullable(Type.String()),
  serverId: Nullable(Type.String()),
  reference: Nullable(Type.String()),
  tags: Type.Array(Type.String()),
  metadata: Type.Record(Type.String(), Type.String()),
  /** The Message-ID header, fixed at acceptance so every attempt sends the same one. */
  messageIdHeader: Type.String(),
  /** The mailing list of a mass message (`default` unless named); null or absent otherwise. */
  list: Type.Optional(Nullable(Type.String())),
})
export type MessageRequest = Static<typeof MessageRequestSchema>

export const MessageContentSchema = Type.Object({
  text: Nullable(Type.String()),
  html: Nullable(Type.String()),
  attachments: Type.Array(
    Type.Object({
      filename: Type.String(),
      contentType: Nullable(Type.String()),
      /** base64, as received */
      content: Type.String(),
    }),
  ),
})
export type MessageContent = Static<typeof MessageContentSchema>

export const RoutingSchema = Type.Object({ step: Type.String(), reason: Type.String() })

/** Whether a message went out DKIM-signed, by whom, and if not, why. */
export const DkimOutcomeSchema = Type.Object({
  signed: Type.Boolean(),
  domain: Type.String(),
  selectors: Type.Array(Type.String()),
  detail: Type.String(),
})
export type DkimOutcome = Static<typeof DkimOutcomeSchema>
export type Routing = Static<typeof RoutingSchema>

export const MessageEventSchema = Type.Object({
  at: Type.String(),
  type: Type.String(),
  detail: Nullable(Type.String()),
})
export type MessageEvent = Static<typeof MessageEventSchema>

/** A message as the API accepts it, before it is written. */
export type NewMessage = {
  id: string
  stream: Stream
  status: 'queued' | 'scheduled'
  createdAt: Date
  scheduledAt: Date | null
  request: MessageRequest
  content: MessageContent
  recipients: Recipient[]
  /** Sent with a sandbox key: runs the whole pipeline but is never handed to a server. */
  sandbox?: boolean
}

/**
 * The hand-over state of a message in `sending`: `connecting` until the end of DATA is about to be
 * written (an interrupted attempt can safely be retried), `committing` from then on (the server
 * may have the message: it is never sent again).
 */
export type Handoff = 'connecting' | 'committing'

export type MessageRecord = Omit<NewMessage, 'status' | 'content' | 'sandbox'> & {
  status: MessageStatus
  sandbox: boolean
  attempts: number
  handoff: Handoff | null
  committedAt: Date | null
  updatedAt: Date
  sentAt: Date | null
  /** While deferred: when the next attempt is due (a retry, or the quota window's reset). */
  deferredUntil: Date | null
  smtpResponse: string | null
  error: string | null
  serverId: string | null
  headerFrom: string | null
  envelopeFrom: string | null
  /** The Reply-To header sent (the request's, or the one the rewrite rules gave); null before. */
  replyTo: string | null
  routing: Routing | null
  dkim: DkimOutcome | null
  /** Deliverability warnings about this message (e.g. a sender whose DMARC policy will bite). */
  warnings: string[]
  events: MessageEvent[]
}

/** The hash fields of a record other than `content`; `id` first, so a missing record reads null. */
export const RECORD_FIELDS = [
  'id',
  'stream',
  'status',
  'createdAt',
  'updatedAt',
  'scheduledAt',
  'attempts',
  'handoff',
  'committedAt',
  'sentAt',
  'deferredUntil',
  'smtpResponse',
  'error',
  'serverId',
  'headerFrom',
  'envelopeFrom',
  'replyTo',
  'routing',
  'dkim',
  'warnings',
  'request',
  'recipients',
  'sandbox',
] as const

const validators = {
  recipients: Compile(Type.Array(RecipientSchema)),
  request: Compile(MessageRequestSchema),
  content: Compile(MessageContentSchema),
  routing: Compile(RoutingSchema),
  dkim: Compile(DkimOutcomeSchema),
  warnings: Compile(Type.Array(Type.String())),
  event: Compile(MessageEventSchema),
}

export class CorruptRecordError extends Error {
  constructor(id: string, field: string, options?: ErrorOptions) {
    super(`message ${id}: field "${field}" in Redis is not valid`, options)
    this.name = 'CorruptRecordError'
  }
}

type Validator<T> = { Check(value: unknown): value is T }

function parseJsonField<T>(id: string, field: string, raw: string, validator: Validator<T>): T {
  let value: unknown
  try {
    value = JSON.parse(raw)
  } catch (err) {
    throw new CorruptRecordError(id, field, { cause: err })
  }
  if (!validator.Check(value)) throw new CorruptRecordError(id, field)
  return value
}

const optionalDate = (raw: string | undefined) =>
  raw === undefined || raw === '' ? null : new Date(raw)
const optionalString = (raw: string | undefined) => (raw === undefined || raw === '' ? null : raw)

function isStatus(value: string | undefined): value is MessageStatus {
  return MESSAGE_STATUSES.some((status) => status === value)
}

function isStream(value: string | undefined): value is Stream {
  return STREAMS.some((stream) => stream === value)
}

/** Hash fields of a new record (all strings, as Redis keeps them). */
export function serializeNewMessage(message: NewMessage): Record<string, string> {
  return {
    id: message.id,
    stream: message.stream,
    status: message.status,
    createdAt: message.createdAt.toISOString(),
    updatedAt: message.createdAt.toISOString(),
    scheduledAt: message.scheduledAt?.toISOString() ?? '',
    attempts: '0',
    request: JSON.stringify(message.request),
    content: JSON.stringify(message.content),
    recipients: JSON.stringify(message.recipients),
    // Written once, at acceptance, and never changed: no attempt can lose it.
    ...(message.sandbox === true ? { sandbox: '1' } : {}),
  }
}

/** A record read back from its hash fields and event list; throws CorruptRecordError. */
export function parseMessageRecord(
  id: string,
  fields: Record<string, string>,
  events: readonly string[],
): MessageRecord {
  const { status, stream, handoff } = fields
  if (!isStatus(status)) throw new CorruptRecordError(id, 'status')
  if (!isStream(stream)) throw new CorruptRecordError(id, 'stream')
  const routing = optionalString(fields['routing'])
  const dkim = optionalString(fields['dkim'])
  return {
    id,
    stream,
    status,
    createdAt: new Date(fields['createdAt'] ?? 0),
    updatedAt: new Date(fields['updatedAt'] ?? 0),
    scheduledAt: optionalDate(fields['scheduledAt']),
    attempts: Number(fields['attempts'] ?? 0),
    handoff: handoff === 'connecting' || handoff === 'committing' ? handoff : null,
    committedAt: optionalDate(fields['committedAt']),
    sentAt: optionalDate(fields['sentAt']),
    deferredUntil: optionalDate(fields['deferredUntil']),
    smtpResponse: optionalString(fields['smtpResponse']),
    error: optionalString(fields['error']),
    serverId: optionalString(fields['serverId']),
    headerFrom: optionalString(fields['headerFrom']),
    envelopeFrom: optionalString(fields['envelopeFrom']),
    replyTo: optionalString(fields['replyTo']),
    routing: routing === null ? null : parseJsonField(id, 'routing', routing, validators.routing),
    dkim: dkim === null ? null : parseJsonField(id, 'dkim', dkim, validators.dkim),
    warnings: parseJsonField(id, 'warnings', fields['warnings'] ?? '[]', validators.warnings),
    request: parseJsonField(id, 'request', fields['request'] ?? '', validators.request),
    recipients: parseJsonField(id, 'recipients', fields['recipients'] ?? '', validators.recipients),
    events: events.map((event) => parseJsonField(id, 'events', event, validators.event)),
    sandbox: fields['sandbox'] === '1',
  }
}

export function parseMessageContent(id: string, raw: string): MessageContent {
  return parseJsonField(id, 'content', raw, validators.content)
}

const RateSlotSchema = Type.Object({
  serverId: Type.String(),
  /** When the booked slot comes (ms since the epoch). */
  at: Type.Number(),
  /** The rate limit it was booked under. */
  epoch: Type.String(),
})
/** A slot a message booked on a server's rate clock, used by its next attempt. */
export type RateSlot = Static<typeof RateSlotSchema>
const rateSlotValidator = Compile(RateSlotSchema)

/** What a delivery attempt needs of a message, read with its claim. */
export type ClaimedMessage = Pick<
  MessageRecord,
  'id' | 'stream' | 'createdAt' | 'attempts' | 'request' | 'recipients' | 'sandbox'
> & {
  content: MessageContent
  rateSlot: RateSlot | null
  /** When a failed message was last given a new round of retries on request; absent: never. */
  retriedAt?: Date
}

/** The fields a claim reads, in the order parseClaimedMessage takes them. */
export const CLAIMED_FIELDS = [
  'stream',
  'createdAt',
  'request',
  'recipients',
  'content',
  'rateSlot',
  'retriedAt',
  'sandbox',
] as const

/** A claimed message from the values of CLAIMED_FIELDS; throws CorruptRecordError. */
export function parseClaimedMessage(
  id: string,
  attempts: number,
  values: readonly (string | null)[],
): ClaimedMessage {
  const [rawStream, createdAt, request, recipients, content, rateSlot, retriedAt, sandbox] = values
  const stream = rawStream ?? undefined
  if (!isStream(stream)) throw new CorruptRecordError(id, 'stream')
  return {
    id,
    stream,
    createdAt: new Date(createdAt ?? 0),
    attempts,
    request: parseJsonField(id, 'request', request ?? '', validators.request),
    recipients: parseRecipients(id, recipients ?? ''),
    content: parseMessageContent(id, content ?? ''),
    rateSlot:
      rateSlot === null || rateSlot === undefined || rateSlot === ''
        ? null
        : parseJsonField(id, 'rateSlot', rateSlot, rateSlotValidator),
    ...(retriedAt === null || retriedAt === undefined || retriedAt === ''
      ? {}
      : { retriedAt: new Date(retriedAt) }),
    sandbox: sandbox === '1',
  }
}

/** A record's request field; throws CorruptRecordError. */
export function parseRequest(id: string, raw: string): MessageRequest {
  return parseJsonField(id, 'request', raw, validators.request)
}

/** A record's recipients field; throws CorruptRecordError. */
export function parseRecipients(id: string, raw: string): Recipient[] {
  return parseJsonField(id, 'recipients', raw, validators.recipients)
}

/** What every webhook email event says of its message (CONTRACT.md, Webhooks). */
export function messageSummary(
  message: Pick<MessageRecord, 'id' | 'stream' | 'request'> & { sandbox?: boolean },
  serverId: string | null,
): MessageSummary {
  const { request } = message
  return {
    ...(message.sandbox === true ? { sandbox: true as const } : {}),
    messageId: message.id,
    stream: message.stream,
    serverId,
    reference: request.reference,
    tags: request.tags,
    metadata: request.metadata,
    subject: request.subject,
    to: request.to,
  }
}
