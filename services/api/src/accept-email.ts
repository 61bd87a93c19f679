import { createHash } from 'node:crypto'
import { formatMailbox, normalizeAddressText } from '@outbound/address'
import type { Queue } from 'bullmq'
import {
  DELIVER_JOB,
  type DeliverJobData,
  deliverJobOptions,
  JOB_ADDRESSES_MAX,
  type Stream,
  STREAMS,
} from '@outbound/jobs'
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
    ...(email.sandbox === true ? { sandbox: true } : {}),
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
      list: email.list,
    },
  }
}

/**
 * The suppression hint of a message's job: the addresses the worker will check, in comparison form,
 * and the list of list mail (see DeliverJobData). None for a message of many recipients.
 */
function suppressionHint(
  message: Pick<NewMessage, 'stream' | 'recipients' | 'request'>,
): Omit<DeliverJobData, 'messageId'> {
  const waiting = message.recipients.filter((r) => r.status === 'pending')
  if (waiting.length === 0 || waiting.length > JOB_ADDRESSES_MAX) return {}
  const list = message.stream === 'mass' ? (message.request.list ?? null) : null
  return {
    addresses: waiting.map((r) => normalizeAddressText(r.address)),
    ...(list === null ? {} : { list }),
  }
}

/** The job of a message: job id = message id, so BullMQ adds nothing when that job exists. */
function jobOf(
  message: Pick<NewMessage, 'id' | 'scheduledAt' | 'stream' | 'recipients' | 'request'>,
  now: Date,
) {
  const delayMs =
    message.scheduledAt === null ? 0 : Math.max(0, message.scheduledAt.getTime() - now.getTime())
  return {
    name: DELIVER_JOB,
    data: { messageId: message.id, ...suppressionHint(message) } satisfies DeliverJobData,
    opts: deliverJobOptions(message.id, delayMs),
  }
}

/** One email to accept, with what acceptance takes from the configuration and its key. */
export type Acceptance = {
  email: ValidatedEmail
  references: References
  idempotency: Idempotency | undefined
}

/** An Idempotency-Key's message id and first answer, or the conflict it names. */
async function reserveKey(
  deps: AcceptDeps,
  { email, idempotency }: Acceptance,
): Promise<Accepted | AppError> {
  const response: Accepted = {
    id: deps.newId(),
    status: email.scheduledAt === null ? 'queued' : 'scheduled',
    stream: email.stream,
  }
  if (idempotency === undefined) return response
  const bodyHash = createHash('sha256').update(canonicalJson(idempotency.body)).digest('hex')
  const reserved = await deps.store.reserveIdempotencyKey(idempotency.scope, idempotency.key, {
    bodyHash,
    messageId: response.id,
    response,
  })
  if (reserved.entry.bodyHash !== bodyHash) {
    return new AppError(
      'IDEMPOTENCY_CONFLICT',
      'this Idempotency-Key was used with a different body in the last 24 hours',
      { messageId: reserved.entry.messageId },
    )
  }
  const id = reserved.entry.messageId
  return {
    ...response,
    id,
    status: reserved.entry.response.status === 'scheduled' ? 'scheduled' : 'queued',
  }
}

/**
 * Stores validated emails and enqueues their delivery; resolves once every job is in Redis. The
 * records are written together and the jobs added in one bulk per stream. With an
 * Idempotency-Key, a repeat of the same body answers what the first request answered (and every
 * repeat makes sure the job exists); a different body is answered IDEMPOTENCY_CONFLICT. Answers
 * come in the order of `acceptances`.
 */
export async function acceptEmails(
  deps: AcceptDeps,
  acceptances: readonly Acceptance[],
  now: Date,
): Promise<(Accepted | AppError)[]> {
  const answers = await Promise.all(acceptances.map((acceptance) => reserveKey(deps, acceptance)))
  const entries = acceptances.flatMap((acceptance, i) => {
    const answer = answers[i]
    return answer === undefined || answer instanceof AppError
      ? []
      : [
          {
            message: newMessage(answer.id, acceptance.email, acceptance.references, now),
            keyed: acceptance.idempotency !== undefined,
          },
        ]
  })
  // Create-if-absent: a repeat of an Idempotency-Key may have written the record already, with
  // the same content.
  const created = await deps.store.createMessages(entries.map((entry) => entry.message))
  const fresh = entries.filter((_, i) => created[i] === true)
  const repeats = entries.filter((_, i) => created[i] !== true)
  // Only a repeat whose message still waits for its first attempt may need its job (re-)added.
  const existing = await Promise.all(
    repeats.map(({ message }) => deps.store.getMessage(message.id)),
  )
  const toEnqueue = [
    ...fresh.map((entry) => entry.message),
    ...existing.filter(
      (record): record is NonNullable<typeof record> =>
        record !== null && (record.status === 'queued' || record.status === 'scheduled'),
    ),
  ]
  try {
    await Promise.all(
      STREAMS.map(async (stream) => {
        const jobs = toEnqueue.filter((m) => m.stream === stream).map((m) => jobOf(m, now))
        const [job] = jobs
        // One job goes without addBulk's pipeline, whose setting up costs more than the job.
        if (jobs.length === 1 && job !== undefined)
          await deps.queues[stream].add(job.name, job.data, job.opts)
        else if (jobs.length > 0) await deps.queues[stream].addBulk(jobs)
      }),
    )
  } catch (err) {
    // Without a key nobody can finish these requests: remove their records so no message is left
    // `queued` without a job (the sweeper would add it otherwise). With a key the record stays,
    // and a retry of the request enqueues it.
    await Promise.all(
      fresh
        .filter((entry) => !entry.keyed)
        .map(({ message }) => deps.store.deleteMessage(message.id).catch(() => undefined)),
    )
    throw err
  }
  return answers
}

/** acceptEmails for one email: its answer, or the AppError thrown. */
export async function acceptEmail(
  deps: AcceptDeps,
  email: ValidatedEmail,
  references: References,
  idempotency: Idempotency | undefined,
  now: Date,
): Promise<Accepted> {
  const [answer] = await acceptEmails(deps, [{ email, references, idempotency }], now)
  if (answer === undefined) throw new Error('acceptEmails answered nothing')
  if (answer instanceof AppError) throw answer
  return answer
}
