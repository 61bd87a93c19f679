import { type Mailbox, normalizeAddress, parseMailbox } from '@outbound/address'
import type { SendLimits } from '@outbound/config'
import type { Stream } from '@outbound/jobs'
import type { MessageContent, Recipient } from '@outbound/store'
import { AppError } from './errors.js'
import type { SendEmail } from './routes/v1/email-schemas.js'

/** A send request that passed every rule, ready to be stored. */
export type ValidatedEmail = {
  stream: Stream
  from: Mailbox
  replyTo: Mailbox | null
  to: string[]
  cc: string[]
  bcc: string[]
  recipients: Recipient[]
  subject: string
  headers: Record<string, string>
  content: MessageContent
  scheduledAt: Date | null
  companyId: string | null
  serverId: string | null
  reference: string | null
  tags: string[]
  metadata: Record<string, string>
}

const MAX_SCHEDULE_AHEAD_MS = 30 * 24 * 3600 * 1000
// RFC 7230 token: the characters a header field name may have.
const HEADER_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]{1,76}$/
// Headers the service writes itself (CONTRACT.md), and its own trace and signature headers.
const OWNED_HEADER =
  /^(from|to|cc|bcc|subject|reply-to|sender|return-path|date|message-id|mime-version|content-.*|x-outbound-.*|dkim-signature)$/i
// Any C0 control but TAB, DEL, and the Unicode line and paragraph separators.
// eslint-disable-next-line no-control-regex -- control characters are exactly what is refused
const HEADER_UNSAFE = /[\u0000-\u0008\u000a-\u001f\u007f\u2028\u2029]/u
// eslint-disable-next-line no-control-regex -- control characters are exactly what is refused
const FILENAME_UNSAFE = /[\u0000-\u001f\u007f\u2028\u2029]/u
const CONTENT_TYPE = /^[a-z0-9!#$&^_.+-]{1,127}\/[a-z0-9!#$&^_.+-]{1,127}$/i
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/
// ISO-8601 date-time with seconds optional, fraction optional, and a zone (Z or ±hh:mm).
const ISO_DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/

function asList(value: string | string[] | undefined): string[] {
  if (value === undefined) return []
  return typeof value === 'string' ? [value] : value
}

function mailbox(input: string, field: string): Mailbox {
  const parsed = parseMailbox(input)
  if (parsed === null) {
    throw new AppError('INVALID_ADDRESS', `${field} is not a valid email address`, { field })
  }
  return parsed
}

function checkHeaderValue(value: string, field: string): void {
  if (HEADER_UNSAFE.test(value)) {
    throw new AppError('INVALID_HEADER', `${field} contains CR, LF or a control character`, {
      field,
    })
  }
}

function validateHeaders(headers: Record<string, string>): Record<string, string> {
  for (const [name, value] of Object.entries(headers)) {
    const field = `headers.${name}`
    if (!HEADER_NAME.test(name)) {
      throw new AppError('INVALID_HEADER', `header name "${name}" is not a valid token`, { field })
    }
    if (OWNED_HEADER.test(name)) {
      throw new AppError('HEADER_NOT_ALLOWED', `the ${name} header is set by the service`, {
        field,
      })
    }
    checkHeaderValue(value, field)
    if (value.length > 998) {
      throw new AppError('INVALID_HEADER', `${field} is longer than 998 characters`, { field })
    }
  }
  return headers
}

function validateAttachments(
  attachments: NonNullable<SendEmail['attachments']>,
  limits: SendLimits,
): MessageContent['attachments'] {
  if (attachments.length > limits.attachments) {
    throw new AppError(
      'TOO_MANY_ATTACHMENTS',
      `${attachments.length} attachments; at most ${limits.attachments} are allowed`,
    )
  }
  let totalBytes = 0
  return attachments.map((attachment, index) => {
    const field = `attachments[${index}]`
    if (FILENAME_UNSAFE.test(attachment.filename)) {
      throw new AppError('INVALID_ATTACHMENT', `${field}.filename contains a control character`, {
        field,
      })
    }
    const contentType = attachment.contentType ?? null
    if (contentType !== null && !CONTENT_TYPE.test(contentType)) {
      throw new AppError('INVALID_ATTACHMENT', `${field}.contentType is not a MIME type`, { field })
    }
    // Line breaks are common in base64 from MIME tools; anything else makes it invalid.
    const content = attachment.content.replace(/[\r\n]/g, '')
    if (!BASE64.test(content)) {
      throw new AppError('INVALID_ATTACHMENT', `${field}.content is not valid base64`, { field })
    }
    totalBytes += (content.length / 4) * 3 - (content.match(/=+$/)?.[0].length ?? 0)
    if (totalBytes > limits.attachmentBytes) {
      throw new AppError(
        'PAYLOAD_TOO_LARGE',
        `attachments exceed ${limits.attachmentBytes} bytes in all`,
        { field: 'attachments', limitBytes: limits.attachmentBytes },
      )
    }
    return { filename: attachment.filename, contentType, content }
  })
}

function validateScheduledAt(value: string | undefined, now: Date): Date | null {
  if (value === undefined) return null
  const at = new Date(value)
  const [year, month, day] = value.slice(0, 10).split('-').map(Number)
  // Date rolls 30 February over into March; a real calendar day must survive the round trip.
  const dayExists = new Date(Date.UTC(year ?? 0, (month ?? 1) - 1, day ?? 0)).getUTCDate() === day
  if (!ISO_DATE_TIME.test(value) || Number.isNaN(at.getTime()) || !dayExists) {
    throw new AppError(
      'INVALID_SCHEDULED_AT',
      'scheduledAt must be an ISO-8601 time with a zone, e.g. 2026-05-01T09:00:00Z',
    )
  }
  if (at.getTime() - now.getTime() > MAX_SCHEDULE_AHEAD_MS) {
    throw new AppError('INVALID_SCHEDULED_AT', 'scheduledAt may be at most 30 days ahead')
  }
  // A time in the past means "now".
  return at.getTime() > now.getTime() ? at : null
}

/** Recipients in to, cc, bcc order, each address once (compared normalised). */
function collectRecipients(lists: Record<Recipient['field'], string[]>): Recipient[] {
  const seen = new Set<string>()
  const recipients: Recipient[] = []
  for (const field of ['to', 'cc', 'bcc'] as const) {
    lists[field].forEach((input, index) => {
      const parsed = mailbox(input, `${field}[${index}]`)
      const key = normalizeAddress(parsed)
      if (seen.has(key)) return
      seen.add(key)
      recipients.push({
        address: parsed.address,
        field,
        status: 'pending',
        smtpCode: null,
        enhancedCode: null,
        diagnostic: null,
      })
    })
  }
  return recipients
}

/**
 * Applies every rule of the send API beyond the schema: addresses, recipients, header safety,
 * sizes and schedule. Throws an AppError with the rule's code.
 */
export function validateEmail(input: SendEmail, limits: SendLimits, now: Date): ValidatedEmail {
  const from = mailbox(input.from, 'from')
  const replyTo = input.replyTo === undefined ? null : mailbox(input.replyTo, 'replyTo')
  const lists = { to: asList(input.to), cc: asList(input.cc), bcc: asList(input.bcc) }
  const total = lists.to.length + lists.cc.length + lists.bcc.length
  if (total === 0) throw new AppError('NO_RECIPIENTS', 'give at least one address in to, cc or bcc')
  if (total > limits.recipients) {
    throw new AppError(
      'TOO_MANY_RECIPIENTS',
      `${total} recipients; at most ${limits.recipients} are allowed per message`,
    )
  }
  const recipients = collectRecipients(lists)

  checkHeaderValue(input.subject, 'subject')
  if (input.subject.length > limits.subjectChars) {
    throw new AppError(
      'SUBJECT_TOO_LONG',
      `the subject is longer than ${limits.subjectChars} characters`,
    )
  }
  if (input.text === undefined && input.html === undefined) {
    throw new AppError('MISSING_BODY', 'give text, html or both')
  }
  const bodyBytes = Buffer.byteLength(input.text ?? '') + Buffer.byteLength(input.html ?? '')
  if (bodyBytes > limits.bodyBytes) {
    throw new AppError('PAYLOAD_TOO_LARGE', `text and html exceed ${limits.bodyBytes} bytes`, {
      field: 'text/html',
      limitBytes: limits.bodyBytes,
    })
  }

  return {
    stream: input.stream ?? 'transactional',
    from,
    replyTo,
    ...lists,
    recipients,
    subject: input.subject,
    headers: validateHeaders(input.headers ?? {}),
    content: {
      text: input.text ?? null,
      html: input.html ?? null,
      attachments: validateAttachments(input.attachments ?? [], limits),
    },
    scheduledAt: validateScheduledAt(input.scheduledAt, now),
    companyId: input.companyId ?? null,
    serverId: input.serverId ?? null,
    reference: input.reference ?? null,
    tags: input.tags ?? [],
    metadata: input.metadata ?? {},
  }
}
