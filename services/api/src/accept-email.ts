import { createHash } from 'node:crypto'
import { formatMailbox } from '@outbound/address'
import type { Queue } from 'bullmq'
import { DELIVER_JOB, type DeliverJobData, deliverJobOptions, type Stream } from '@outbound/jobs'
import type { MessageStore, NewMessage } from '@outbound/store'
import { AppError } from './errors.js'
import type { Accepted } from './routes/v1/email-schemas.js'
import type { References } from './resolve-references.js'
import type { ValidatedEmail } from './validate-email.js'

export type Queues = Readonly<Record<Stream, Queue<DeliverJobData>>>

export type AcceptDeps = {
  store: MessageStore
  queues: Queues
  newId: () => string
}

export type Idempotency = { scope: string; key: string; body: unknown }

const MAX_IDEMPOTENCY_KEY_CHARS = 256
// Visible ASCII, and spaces inside (HTTP trims them at the ends): a key is an opaque token that
// clients print and log, and a TAB or a Latin-1 byte in it is a client bug, not a different key.
const IDEMPOTENCY_KEY = /^[\x21-\x7e](?:[\x20-\x7e]*[\x21-\x7e])?$/

/** The Idempotency-Key header, checked; undefined when absent. */
export function readIdempotencyKey(header: string | string[] | undefined): string | undefined {
  if (header === undefined) return undefined
  const key = Array.isArray(header) ? header.join(',') : header
  if (key.length > MAX_IDEMPOTENCY_KEY_CHARS || !IDEMPOTENCY_KEY.test(key)) {
    throw new AppError(
      'INVALID_IDEMPOTENCY_KEY',
      `Idempotency-Key must be 1 to ${MAX_IDEMPOTENCY_KEY_CHARS} visible ASCII characters (spaces inside allowed)`,
    )
  }
  return key
}

/** JSON with object keys sorted, so that the same body hashes the same whatever its key order. */
function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`
  if (typeof value === 'object' && value !== null) {
    const entries = Object.entries(value)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([key, item]) => `${JSON.stringify(key)}:${canonicalJson(item)}`)
    return `{${entries.join(',')}}`
  }
  return JSON.stringify(value)
}

function newMessage(
  id: string,
  email: ValidatedEmail,
  references: References,
  now: Date,
): NewMessage {
  return {
    id,
    stream: email.stream,
    status: email.scheduledAt === null ? 'queued' : 'scheduled',
    createdAt: now,
    scheduledAt: email.scheduledAt,
    recipients: email.recipients,
    content: email.content,
    request: {
      from: formatMailbox(email.from),
      to: email.to,
      cc: email.cc,
      bcc: email.bcc,
      replyTo: email.replyTo === null ? null : formatMailbox(email.replyTo),
      subject: email.subject,
      headers: email.headers,
      companyId: email.companyId,
      serverId: email.serverId,
      reference: email.reference,
      tags: email.tags,
      metadata: email.metadata,
      // DOMAIN.md §5: <id@alias domain, else the sender's domain>, the same for every attempt.
      messageIdHeader: `<${id}@${references.messageIdDomain}>`,
    },
  }
}

async function enqueue(
  deps: AcceptDeps,
  message: Pick<NewMessage, 'id' | 'stream' | 'scheduledAt'>,
  retrySchedule: readonly number[],
  now: Date,
) {
  const delayMs =
    message.scheduledAt === null ? 0 : Math.max(0, message.scheduledAt.getTime() - now.getTime())
  // The job id is the message id: BullMQ adds nothing when that job exists already.
  await deps.queues[message.stream].add(
    DELIVER_JOB,
    { messageId: message.id },
    deliverJobOptions(message.id, delayMs, retrySchedule),
  )
}

/**
 * Stores a validated email and enqueues its delivery; resolves once the job is in Redis. With an
 * Idempotency-Key, a repeat of the same body answers what the first request answered (and every
 * repeat makes sure the job exists), a different body throws IDEMPOTENCY_CONFLICT.
 */
export async function acceptEmail(
  deps: AcceptDeps,
  email: ValidatedEmail,
  references: References,
  idempotency: Idempotency | undefined,
  now: Date,
): Promise<Accepted> {
  let id = deps.newId()
  let response: Accepted = {
    id,
    status: email.scheduledAt === null ? 'queued' : 'scheduled',
    stream: email.stream,
  }
  if (idempotency !== undefined) {
    const bodyHash = createHash('sha256').update(canonicalJson(idempotency.body)).digest('hex')
    const reserved = await deps.store.reserveIdempotencyKey(idempotency.scope, idempotency.key, {
      bodyHash,
      messageId: id,
      response,
    })
    if (reserved.entry.bodyHash !== bodyHash) {
      throw new AppError(
        'IDEMPOTENCY_CONFLICT',
        'this Idempotency-Key was used with a different body in the last 24 hours',
        { messageId: reserved.entry.messageId },
      )
    }
    id = reserved.entry.messageId
    response = {
      ...response,
      id,
      status: reserved.entry.response.status === 'scheduled' ? 'scheduled' : 'queued',
    }
  }

  const message = newMessage(id, email, references, now)
  // Create-if-absent: a concurrent repeat of the same key may have written the record already,
  // and then carries the same content.
  const created = await deps.store.createMessage(message)
  if (!created) {
    const existing = await deps.store.getMessage(id)
    // Only a message that still waits for its first attempt may need its job (re-)added.
    if (existing === null || (existing.status !== 'queued' && existing.status !== 'scheduled')) {
      return response
    }
    await enqueue(deps, existing, references.retrySchedule, now)
    return response
  }
  try {
    await enqueue(deps, message, references.retrySchedule, now)
  } catch (err) {
    // Without a key nobody can finish this request: remove the record so no message is left
    // `queued` without a job. With a key the record stays, and a retry of the request enqueues it.
    if (idempotency === undefined) await deps.store.deleteMessage(id).catch(() => undefined)
    throw err
  }
  return response
}
