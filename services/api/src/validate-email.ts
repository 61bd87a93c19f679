import { type Mailbox, normalizeAddress, parseMailbox } from '@outbound/address'
import type { SendLimits } from '@outbound/config'
import type { Stream } from '@outbound/jobs'
import type { MessageContent, Recipient } from '@outbound/store'
import { AppError } from './errors.js'
import type { SendEmail } from './routes/v1/email-schemas.js'

/** A send request that passed every rule, ready to be stored. */
export type ValidatedEmail = {
  stream: Stream
  /** The mailing list of a mass message; null on transactional. */
  list: string | null
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
  /** Sent with a sandbox key (set by the route, not the request body): never handed to a server. */
  sandbox?: boolean
}

// CONTRACT.md, Bulk mail: a list name is a label, never free text (it reaches List-Id).
export const LIST_NAME = /^[A-Za-z0-9._-]{1,100}$/
export const DEFAULT_LIST = 'default'
// A caller's own List-Unsubscribe: the service then makes no token (and no one-click header).
const OWN_UNSUBSCRIBE = /^list-unsubscribe(-post)?$/i

const MAX_SCHEDULE_AHEAD_MS = 30 * 24 * 3600 * 1000
// RFC 7230 token: the characters a header field name may have.
const HEADER_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]{1,76}$/
// Headers the service writes itself (CONTRACT.md), and its own trace and signature headers.
const OWNED_HEADER =
  /^(from|to|cc|bcc|subject|reply-to|sender|return-path|date|message-id|mime-version|content-.*|x-outbound-.*|dkim-signature)$/i
// Characters refused in anything that reaches a header: C0 controls but TAB, DEL, C1 controls,
// the Unicode line and paragraph separators, and the bidi marks, embeddings, overrides and isolates
// that make `invoice\u202Egpj.exe` display as `invoiceexe.jpg` (Unicode TR #9, TR #36 §2.4).
const UNSAFE_CHARS =
  // eslint-disable-next-line no-control-regex -- control characters are exactly what is refused
  /[\u0000-\u0008\u000a-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/u
const CONTENT_TYPE = /^[a-z0-9!#$&^_.+-]{1,127}\/[a-z0-9!#$&^_.+-]{1,127}$/i
// ISO-8601 date-time with seconds optional, fraction optional, and a zone (Z or ±hh:mm).
const ISO_DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/

function asList(value: string | string[] | undefined): string[] {
  if (value === undefined) return []
  return typeof value === 'string' ? [value] : value
}

function mailbox(input: string, field: string): Mailbox {
  // parseMailbox refuses most of these too, but not all (the isolates, U+061C, U+2028/2029).
  if (UNSAFE_CHARS.test(input)) {
    throw new AppError(
      'INVALID_ADDRESS',
      `${field} contains a control character or a bidi mark, override or isolate`,
      { field },
    )
  }
  const parsed = parseMailbox(input)
  if (parsed === null) {
    throw new AppError('INVALID_ADDRESS', `${field} is not a valid email address`, { field })
  }
  return parsed
}

function checkHeaderValue(value: string, field: string): void {
  if (UNSAFE_CHARS.test(value)) {
    throw new AppError(
      'INVALID_HEADER',
      `${field} contains CR, LF, a control character or a bidi mark, override or isolate`,
      { field },
    )
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

const BASE64_ALPHABET = new Uint8Array(128)
for (const char of 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/') {
  BASE64_ALPHABET[char.charCodeAt(0)] = 1
}
const CR = 13
const LF = 10
const PAD = 61 // '='

/**
 * The decoded size of strict base64 (RFC 4648 §4: the alphabet, length a multiple of 4, at most two
 * `=` at the end); null when it is not. One pass, no regex: a regex over megabytes overflows the stack.
 */
function base64DecodedBytes(content: string): number | null {
  let chars = 0
  let padding = 0
  for (let i = 0; i < content.length; i++) {
    const code = content.charCodeAt(i)
    if (code === CR || code === LF) continue
    if (code === PAD) {
      padding++
    } else if (padding > 0 || code >= 128 || BASE64_ALPHABET[code] !== 1) {
      return null
    }
    chars++
  }
  if (chars % 4 !== 0 || padding > 2) return null
  return (chars / 4) * 3 - padding
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
    // Tabs too: a filename is a MIME parameter, and nothing in it should be invisible.
    if (UNSAFE_CHARS.test(attachment.filename) || attachment.filename.includes('\t')) {
      throw new AppError(
        'INVALID_ATTACHMENT',
        `${field}.filename contains a control character or a bidi mark, override or isolate`,
        { field: `${field}.filename` },
      )
    }
    const contentType = attachment.contentType ?? null
    if (contentType !== null && !CONTENT_TYPE.test(contentType)) {
      throw new AppError('INVALID_ATTACHMENT', `${field}.contentType is not a MIME type`, {
        field: `${field}.contentType`,
      })
    }
    // Line breaks are common in base64 from MIME tools; anything else makes it invalid.
    const sizeBytes = base64DecodedBytes(attachment.content)
    if (sizeBytes === null) {
      throw new AppError(
        'INVALID_ATTACHMENT',
        `${field}.content is not base64 (A-Z, a-z, 0-9, +, /, in groups of 4, = padding)`,
        { field: `${field}.content` },
      )
    }
    totalBytes += sizeBytes
    if (totalBytes > limits.attachmentBytes) {
      throw new AppError(
        'PAYLOAD_TOO_LARGE',
        `attachments exceed ${limits.attachmentBytes} bytes in all`,
        { field: 'attachments', limitBytes: limits.attachmentBytes },
      )
    }
    const content = /[\r\n]/.test(attachment.content)
      ? attachment.content.replace(/[\r\n]/g, '')
      : attachment.content
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
 * The list of a mass message (default `default`); null on transactional, whatever was given. A
 * mass message whose one-click unsubscribe the service makes goes to one recipient: the URL in
 * its List-Unsubscribe must unsubscribe whoever clicks it (RFC 8058), and one set of bytes
 * cannot carry a different URL for each of several recipients.
 */
function validateList(
  input: SendEmail,
  stream: Stream,
  recipients: number,
  headers: Record<string, string>,
  oneClickUnsubscribe: boolean,
): string | null {
  if (stream !== 'mass') return null
  const list = input.list ?? DEFAULT_LIST
  if (!LIST_NAME.test(list)) {
    throw new AppError(
      'INVALID_LIST',
      'list must be 1 to 100 characters of A-Z, a-z, 0-9, ".", "_" and "-"',
      { field: 'list' },
    )
  }
  const ownUnsubscribe = Object.keys(headers).some((name) => OWN_UNSUBSCRIBE.test(name))
  // Without PUBLIC_URL or the secret key no link is made (the record warns): nothing to refuse.
  if (recipients > 1 && !ownUnsubscribe && oneClickUnsubscribe) {
    throw new AppError(
      'TOO_MANY_MASS_RECIPIENTS',
      `a mass message goes to one recipient (it has ${recipients}): each gets its own one-click unsubscribe link. Send one message per recipient (POST /v1/emails/batch takes 1000), or give your own List-Unsubscribe header`,
      { field: 'to', recipients },
    )
  }
  return list
}

/**
 * Applies every rule of the send API beyond the schema: addresses, recipients, header safety,
 * sizes and schedule. Throws an AppError with the rule's code.
 */
export function validateEmail(
  input: SendEmail,
  limits: SendLimits,
  now: Date,
  /** Whether mass mail gets the service's one-click unsubscribe link (PUBLIC_URL and a key set). */
  oneClickUnsubscribe = true,
): ValidatedEmail {
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

  const stream = input.stream ?? 'transactional'
  const headers = validateHeaders(input.headers ?? {})
  return {
    stream,
    list: validateList(input, stream, recipients.length, headers, oneClickUnsubscribe),
    from,
    replyTo,
    ...lists,
    recipients,
    subject: input.subject,
    headers,
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
