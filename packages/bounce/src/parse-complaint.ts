import { simpleParser } from 'mailparser'
import { firstField, headerFields } from './header-fields.js'

/** A complaint about one of our messages, from a feedback loop. */
export type ParsedComplaint = {
  /** RFC 5965 Feedback-Type: abuse, fraud, virus, auth-failure, not-spam, other, … */
  feedbackType: string
  /** The complained-about recipient: Original-Rcpt-To, else the original message's To. */
  recipient: string | null
  /** Our id: the original's X-Outbound-Message-Id, else our Message-ID `<msg_…@…>`. */
  messageId: string | null
  /** The original's Message-ID header as it was. */
  originalMessageIdHeader: string | null
  reportingMta: string | null
  userAgent: string | null
  arrivalDate: string | null
  sourceIp: string | null
}

const OUR_ID = /^msg_[0-9A-Za-z_-]{4,60}$/
const OUR_MESSAGE_ID = /<(msg_[0-9A-Za-z_-]{4,60})@[^>\s]+>/
const ADDRESS = /[a-zA-Z0-9.!#$%&'*+/=?^_`{|}~-]+@[a-zA-Z0-9](?:[a-zA-Z0-9.-]*[a-zA-Z0-9])?/
// The part that carries the original: its headers start after the part's own header block.
const ORIGINAL_PART =
  /^Content-Type:[ \t]*(?:message\/rfc822|text\/rfc822-headers)\b[^\n]*\n(?:[ \t][^\n]*\n|[A-Za-z][A-Za-z0-9-]*:[^\n]*\n)*\r?\n/im
// Microsoft's JMRP: "complaint about message from 192.0.2.1", the original as message/rfc822.
const JMRP_SUBJECT = /complaint about message from ([0-9a-f.:]+)/i

function addressIn(value: string | null): string | null {
  return value === null ? null : (ADDRESS.exec(value)?.[0]?.toLowerCase() ?? null)
}

/** `dns; mail.example.com` → `mail.example.com` */
function typedValue(value: string | null): string | null {
  return value === null ? null : value.replace(/^[a-z0-9-]+;\s*/i, '').trim() || null
}

/**
 * The header block of the original (or of its headers). mailparser gives it as an attachment
 * unless the part is inline, when it merges it into the body: then read it from the raw message.
 */
function originalHeaders(attachments: { contentType: string; content: Buffer }[], raw: string) {
  const part = attachments.find((a) =>
    ['message/rfc822', 'text/rfc822-headers'].includes(a.contentType.toLowerCase()),
  )
  if (part !== undefined) return headerFields(part.content.toString('utf8'))
  const match = ORIGINAL_PART.exec(raw)
  return match === null
    ? new Map<string, string[]>()
    : headerFields(raw.slice(match.index + match[0].length))
}

/**
 * Reads a complaint received from a feedback loop: an RFC 5965 feedback report
 * (multipart/report; report-type=feedback-report, the original as message/rfc822 or
 * text/rfc822-headers), or Microsoft's JMRP report. Null when the message is not a complaint.
 */
export async function parseComplaint(raw: Buffer): Promise<ParsedComplaint | null> {
  const parsed = await simpleParser(raw, { skipImageLinks: true, skipTextLinks: true })
  const contentType = parsed.headers.get('content-type')
  const params =
    typeof contentType === 'object' && 'params' in contentType ? contentType.params : {}
  const reportPart = parsed.attachments.find(
    (a) => a.contentType.toLowerCase() === 'message/feedback-report',
  )
  const rawText = raw.toString('utf8')
  const original = originalHeaders(parsed.attachments, rawText)
  const jmrp = JMRP_SUBJECT.exec(parsed.subject ?? '')
  const isReport = (params['report-type'] ?? '').toLowerCase() === 'feedback-report'
  const isJmrp = jmrp !== null && original.has('x-hmxmroriginalrecipient')
  if (reportPart === undefined && !isJmrp) return null
  if (reportPart === undefined && isReport) return null

  const report = headerFields(reportPart?.content.toString('utf8') ?? '')
  const ourId = firstField(original, 'x-outbound-message-id')
  const originalMessageId = firstField(original, 'message-id')
  return {
    feedbackType: (
      firstField(report, 'feedback-type') ?? (isJmrp ? 'abuse' : 'other')
    ).toLowerCase(),
    // AOL-style reports redact the recipient (RFC 6590 Redacted-Address) in the original too:
    // its To then names a placeholder, not the person who complained.
    recipient:
      addressIn(firstField(report, 'original-rcpt-to')) ??
      (report.has('redacted-address')
        ? null
        : (addressIn(firstField(original, 'x-hmxmroriginalrecipient')) ??
          addressIn(firstField(original, 'to')))),
    messageId:
      ourId !== null && OUR_ID.test(ourId)
        ? ourId
        : (OUR_MESSAGE_ID.exec(originalMessageId ?? '')?.[1] ?? null),
    originalMessageIdHeader: originalMessageId,
    reportingMta: typedValue(firstField(report, 'reporting-mta')),
    userAgent: firstField(report, 'user-agent'),
    arrivalDate: firstField(report, 'arrival-date') ?? firstField(report, 'received-date'),
    sourceIp: firstField(report, 'source-ip') ?? jmrp?.[1] ?? null,
  }
}
