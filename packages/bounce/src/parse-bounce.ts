import { convert as htmlToText } from 'html-to-text'
import { simpleParser, type ParsedMail } from 'mailparser'
import { enhancedCodeOf } from './classify.js'

/** One recipient a bounce reports on. */
export type BouncedRecipient = {
  address: string
  /**
   * RFC 3464 Action: failed, delayed, … A text bounce says `failed`, or `delayed` when it is a
   * warning that the mailer still retries; null only when a report gave no Action.
   */
  action: string | null
  /** The enhanced status code (Status, or one found in the text). */
  status: string | null
  smtpCode: number | null
  diagnostic: string
}

export type ParsedBounce = {
  /** `rfc3464`: a multipart/report delivery-status; `text`: a mailer-daemon's prose. */
  format: 'rfc3464' | 'text'
  recipients: BouncedRecipient[]
  /** The X-Outbound-Message-Id, or our id found in the original's Message-ID. */
  messageId: string | null
  reportingMta: string | null
}

// Our message ids (msg_ + ULID), as X-Outbound-Message-Id or as the local part of Message-ID.
const OUR_ID = /^X-Outbound-Message-Id:[ \t]*(msg_[0-9A-Za-z_-]{4,60})\s*$/im
const OUR_MESSAGE_ID = /<(msg_[0-9A-Za-z_-]{4,60})@[^>\s]+>/
// Where a mailer-daemon's prose ends and its copy of the original (or of its headers) begins.
const ORIGINAL_MARKERS = [
  /^-+ ?Below this line is a copy of the message/im,
  /^\s*Below is a copy of the original message/im, // OpenSMTPD
  /^-+ ?This is a copy of (the|your) message/im, // Exim
  /^-+ ?Original message/im, // Gmail
  /^-+ ?Undelivered message/im,
  /^\s*-+ ?Unsent message follows/im, // Sendmail 5
  /^Original message follows/im, // IMail
  /^-+ ?The header of the original message/im, // GMX
  /^-+ ?Returned Message/im, // Lotus Notes
  /^Original message headers:/im, // Exchange 2007 and later, Office 365
  /^Original Message:/im, // Verizon MMS gateway
  /^Included is a copy of the message header/im, // MXLogic
]
const SMTP_CODE = /(?:^|[\s;:(#'"])([45]\d\d)(?=[ -]|$)/m
const ADDRESS = /<?([a-zA-Z0-9.!#$%&'*+/=?^_`{|}~-]+@[a-zA-Z0-9](?:[a-zA-Z0-9.-]*[a-zA-Z0-9])?)>?/g
// A line that quotes a header of the original (Exchange's "To: …", Domino's "Subject: …"), or
// a message id that looks like an address; an HTML report indents it with no-break spaces.
const QUOTED_HEADER_LINE =
  /^[ \t\u00a0]*(?:To|From|Cc|Sent|Date|Subject|Reply-To|Return-Path|Message-Id|In-Reply-To|References):/i
// An address that is our own sender, as quoted in the dialogue ("after MAIL FROM:<…>").
const SENDER_CONTEXT = /(?:MAIL FROM:|envelope-from|X-Postfix-Sender:[^<]*?|rfc822;)\s*<?$/i
// Prose that introduces the failed recipients: an address near it may carry no SMTP code.
// HotPOP: "Undeliverable Address: ann@x".
const RECIPIENT_HEADING =
  /following (recipients?|address(es)?)|these recipients|did not reach|RCPT TO:\s*<?$|not delivered to|could not be delivered to|delivery to the following|has not yet been delivered|address(es)? failed|delivery problems|failed recipient|undeliverable address/i
// qmail's recipient line, "<ann@x>:" alone on its line, its reason on the next (Sina gives none).
const QMAIL_RECIPIENT_LINE = /^<[^<>\s]+@[^<>\s]+>:[ \t]*$/
// Exchange 5.5 names a recipient in X.400 form: "c=US;a= ;p=IKON;o=Nexus2;dda:SMTP=ann@x;".
const X400_SMTP_PREFIX = /^smtp=/i
// A warning that the mailer keeps trying (Exim "delayed 24 hours", Gmail "Delay").
const DELAY_REPORT =
  /has not yet been delivered|has been delayed|will be retried|delivery attempts will continue|THIS IS A WARNING MESSAGE ONLY/i

/** RFC 3464 field blocks: lines "Name: value", continuation lines folded in, blocks split by blank lines. */
function fieldBlocks(text: string): Map<string, string>[] {
  const blocks: Map<string, string>[] = []
  let current = new Map<string, string>()
  let lastName: string | undefined
  for (const line of text.split(/\r?\n/)) {
    if (line.trim() === '') {
      if (current.size > 0) blocks.push(current)
      current = new Map()
      lastName = undefined
      continue
    }
    const field = /^([A-Za-z][A-Za-z0-9-]*):\s*(.*)$/.exec(line)
    if (field !== null) {
      lastName = (field[1] ?? '').toLowerCase()
      current.set(lastName, field[2] ?? '')
    } else if (lastName !== undefined) {
      // A folded line; MessageLabs folds a multi-line reply without the leading white space.
      current.set(lastName, `${current.get(lastName) ?? ''} ${line.trim()}`)
    }
  }
  if (current.size > 0) blocks.push(current)
  return blocks
}

/** `rfc822; ann@x.example` → `ann@x.example` */
function addressOfField(value: string): string {
  return (value.includes(';') ? value.slice(value.indexOf(';') + 1) : value)
    .trim()
    .replace(/^<|>$/g, '')
}

function recipientOf(block: ReadonlyMap<string, string>): string {
  const original = addressOfField(block.get('original-recipient') ?? '')
  return original.includes('@') ? original : addressOfField(block.get('final-recipient') ?? '')
}

/** 5.0.0 says least, 5.1.0 more, 5.1.1 most. */
function specificity(code: string): number {
  const [, subject, detail] = code.split('.')
  return (subject === '0' ? 0 : 1) + (detail === '0' ? 0 : 1)
}

/**
 * The most specific enhanced code among the texts, the first text winning ties: a Status of
 * 5.0.0 says less than the 5.2.2 the remote server gave in the Diagnostic-Code.
 */
function mostSpecificCode(...texts: string[]): string | null {
  let best: string | null = null
  for (const text of texts) {
    for (const match of text.matchAll(/\b([245])\.(\d{1,3})\.(\d{1,3})\b/g)) {
      const code = `${match[1] ?? ''}.${match[2] ?? ''}.${match[3] ?? ''}`
      if (best === null || specificity(code) > specificity(best)) best = code
    }
  }
  return best
}

function smtpCodeOf(text: string): number | null {
  const code = SMTP_CODE.exec(text)?.[1]
  return code === undefined ? null : Number(code)
}

function reportRecipients(text: string): {
  recipients: BouncedRecipient[]
  reportingMta: string | null
} {
  const blocks = fieldBlocks(text)
  const reporting = blocks.find((block) => block.has('reporting-mta'))?.get('reporting-mta') ?? null
  const recipients = blocks
    // Some gateways (McAfee) give only Original-Recipient.
    .filter(
      (block) =>
        (block.has('final-recipient') || block.has('original-recipient')) && block.has('action'),
    )
    .map((block) => {
      const diagnostic = (block.get('diagnostic-code') ?? '').replace(/^[a-z-]+;\s*/i, '')
      const status = block.get('status') ?? ''
      return {
        // The address we sent to: Original-Recipient when the MTA kept it (an alias expanded to
        // a local mailbox changes Final-Recipient), else Final-Recipient.
        address: recipientOf(block),
        action: (block.get('action') ?? '').trim().toLowerCase(),
        status: mostSpecificCode(status, diagnostic) ?? enhancedCodeOf(status),
        smtpCode: smtpCodeOf(diagnostic),
        diagnostic,
      }
    })
    .filter((recipient) => recipient.address.includes('@'))
  return { recipients, reportingMta: reporting === null ? null : addressOfField(reporting) }
}

type Occurrence = { address: string; index: number; end: number }

/** Every address in the report that is not our own nor quoted from the original's headers. */
function candidateOccurrences(report: string, own: ReadonlySet<string>): Occurrence[] {
  const occurrences: Occurrence[] = []
  for (const match of report.matchAll(ADDRESS)) {
    const address = (match[1] ?? '').toLowerCase().replace(X400_SMTP_PREFIX, '')
    if (own.has(address)) continue
    const lineStart = report.lastIndexOf('\n', match.index) + 1
    if (QUOTED_HEADER_LINE.test(report.slice(lineStart, match.index))) continue
    if (SENDER_CONTEXT.test(report.slice(Math.max(0, match.index - 40), match.index))) continue
    occurrences.push({ address, index: match.index, end: match.index + match[0].length })
  }
  return occurrences
}

function windowAfter(report: string, occurrence: Occurrence, all: Occurrence[]): string {
  const next = all.find((o) => o.index >= occurrence.end && o.address !== occurrence.address)
  return report.slice(occurrence.end, Math.min(next?.index ?? report.length, occurrence.end + 600))
}

/** The prose that follows an address in a report, up to the next address. */
function proseAbout(report: string, address: string): string {
  const occurrences = candidateOccurrences(report, new Set())
  const first = occurrences.find((o) => o.address === address.toLowerCase())
  return first === undefined
    ? ''
    : windowAfter(report, first, occurrences).replace(/\s+/g, ' ').trim().slice(0, 500)
}

function textRecipient(address: string, window: string, action: string): BouncedRecipient {
  return {
    address,
    action,
    status: enhancedCodeOf(window),
    smtpCode: smtpCodeOf(window),
    diagnostic: window.replace(/\s+/g, ' ').trim().slice(0, 500),
  }
}

function withoutQuotedHeaders(report: string): string {
  return report
    .split('\n')
    .filter((line) => !QUOTED_HEADER_LINE.test(line))
    .join('\n')
}

/** The whole line of the report that holds the character at `index`. */
function lineAround(report: string, index: number): string {
  const end = report.indexOf('\n', index)
  return report.slice(report.lastIndexOf('\n', index) + 1, end === -1 ? report.length : end)
}

/**
 * A mailer-daemon's prose: every address in the report, with the reply that follows it. An
 * address with no reply code counts when the prose introduces it as a failed recipient
 * (Exchange's "did not reach the following recipient(s)", Domino's "was not delivered to").
 */
function textRecipients(
  report: string,
  own: ReadonlySet<string>,
  failedHeader: readonly string[],
  action: string,
): BouncedRecipient[] {
  const occurrences = candidateOccurrences(report, own)
  const addresses = [...new Set(occurrences.map((o) => o.address))]
  return addresses.flatMap((address) => {
    const mine = occurrences.filter((o) => o.address === address)
    const windows = mine.map((o) => windowAfter(report, o, occurrences))
    const coded = windows.find((w) => smtpCodeOf(w) !== null || enhancedCodeOf(w) !== null)
    if (coded !== undefined) return [textRecipient(address, coded, action)]
    const introduced = mine.some(
      (o) =>
        RECIPIENT_HEADING.test(report.slice(Math.max(0, o.index - 200), o.index)) ||
        QMAIL_RECIPIENT_LINE.test(lineAround(report, o.index)),
    )
    const first = windows[0]
    // The only address in a mailer-daemon's report (EZweb's "account is disabled. <ann@x>").
    const only = addresses.length === 1
    if (!(introduced || only || failedHeader.includes(address)) || first === undefined) return []
    // The only recipient of a report whose reason stands before the address (Apache James:
    // "550 - … no such user here" … "RCPT TO: ann@x"; IMail: "Unknown user: ann@x"): the whole
    // report is its diagnostic, less the header lines it quotes from the original (Exchange
    // 5.5's "Subject: … Mailman 2.0.12" is no status code).
    return [textRecipient(address, only ? withoutQuotedHeaders(report) : first, action)]
  })
}

/**
 * X-Failed-Recipients (Exim, Gmail) names recipients whose prose may show only a local part:
 * take the reply after that local part.
 */
function headerRecipients(
  report: string,
  failedHeader: readonly string[],
  found: ReadonlySet<string>,
  action: string,
): BouncedRecipient[] {
  return failedHeader
    .filter((address) => !found.has(address))
    .map((address) => {
      const local = address.slice(0, address.indexOf('@'))
      const at = new RegExp(`^\\s*${local.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\s*$`, 'im').exec(
        report,
      )
      const window = at === null ? report : report.slice(at.index + at[0].length, at.index + 600)
      return textRecipient(address, window, action)
    })
}

function rawBody(raw: Buffer): string {
  const message = raw.toString('utf8')
  const start = /\r?\n\r?\n/.exec(message)
  return start === null ? '' : message.slice(start.index + start[0].length)
}

function headerText(parsed: ParsedMail, name: string): string {
  const value = parsed.headers.get(name)
  return typeof value === 'string' ? value : ''
}

function looksLikeBounce(from: string, subject: string): boolean {
  return (
    /mailer-daemon|post_?master|mail delivery|ndr administrator/i.test(from) ||
    /undeliver|delivery (status notification|failure|failed|status|report)|returned mail|failure notice|mail delivery failed|could not be delivered|delivery notification|warning: message .* delayed|недоставленное|メールエラー/i.test(
      subject,
    )
  )
}

function isFeedbackReport(parsed: ParsedMail, reportType: string): boolean {
  return (
    reportType === 'feedback-report' ||
    parsed.attachments.some((a) => a.contentType.toLowerCase() === 'message/feedback-report')
  )
}

/**
 * Reads a bounce as received at the bounce address: an RFC 3464 delivery status notification, or
 * the plain-text report of a mailer-daemon. Null when the message is not a bounce (an automatic
 * reply, a feedback report of a complaint).
 */
export async function parseBounce(raw: Buffer): Promise<ParsedBounce | null> {
  const parsed = await simpleParser(raw, { skipImageLinks: true, skipTextLinks: true })
  const contentType = parsed.headers.get('content-type')
  const params =
    typeof contentType === 'object' && 'params' in contentType ? contentType.params : {}
  const reportType = (params['report-type'] ?? '').toLowerCase()
  if (isFeedbackReport(parsed, reportType)) return null
  // An HTML-only report (Exchange 5.5's "did not reach the following recipient(s):<BR>") is read
  // as its text, so that quoted header lines ("&nbsp; Cc: …") stay recognisable. A broken MIME
  // structure (Apache James folds a boundary parameter without white space) leaves mailparser
  // no text at all: read the raw body then.
  const html = typeof parsed.html === 'string' ? parsed.html : ''
  const text =
    (parsed.text ?? '').trim() !== ''
      ? (parsed.text ?? '')
      : html.trim() !== ''
        ? htmlToText(html, { wordwrap: false })
        : rawBody(raw)
  const originals = parsed.attachments.map((attachment) => attachment.content.toString('utf8'))
  // The original message (or its headers): an attachment, or the text after a marker.
  const marker = ORIGINAL_MARKERS.map((re) => re.exec(text)?.index)
    .filter((index) => index !== undefined)
    .sort((a, b) => a - b)[0]
  const report = marker === undefined ? text : text.slice(0, marker)
  // Last, the raw message: an inline message/rfc822 part is merged into the body by mailparser,
  // its headers (our X-Outbound-Message-Id) lost from `text`.
  const originalText = [
    ...originals,
    marker === undefined ? '' : text.slice(marker),
    text,
    raw.toString('utf8'),
  ].join('\n')
  const messageId = OUR_ID.exec(originalText)?.[1] ?? OUR_MESSAGE_ID.exec(originalText)?.[1] ?? null

  const dsn = reportRecipients(text)
  if (dsn.recipients.length > 0) {
    return {
      format: 'rfc3464',
      // A status block without Diagnostic-Code (Gmail's): the prose about the address says why.
      recipients: dsn.recipients.map((recipient) =>
        recipient.diagnostic === ''
          ? { ...recipient, diagnostic: proseAbout(report, recipient.address) }
          : recipient,
      ),
      messageId,
      reportingMta: dsn.reportingMta,
    }
  }
  // A delivery-status report with no usable status part (Office 365's, Google Workspace's) is
  // read as prose like a mailer-daemon's.
  const from = parsed.from?.text ?? ''
  if (reportType !== 'delivery-status' && !looksLikeBounce(from, parsed.subject ?? '')) return null
  const own = new Set(
    [...(parsed.from?.value ?? []), ...[parsed.to ?? []].flat().flatMap((to) => to.value)]
      .map((entry) => entry.address?.toLowerCase() ?? '')
      .filter((address) => address !== ''),
  )
  const failedHeader = headerText(parsed, 'x-failed-recipients')
    .split(',')
    .map((address) => address.trim().toLowerCase())
    .filter((address) => address.includes('@'))
  const action =
    DELAY_REPORT.test(report) || /delay/i.test(parsed.subject ?? '') ? 'delayed' : 'failed'
  const fromProse = textRecipients(report, own, failedHeader, action)
  const recipients = [
    ...fromProse,
    ...headerRecipients(report, failedHeader, new Set(fromProse.map((r) => r.address)), action),
  ]
  // Last resort (Verizon's MMS gateway): the report names no address, the quoted original has
  // exactly one recipient.
  const quotedTo = [
    ...(marker === undefined ? '' : text.slice(marker)).matchAll(/^To:(.*)$/gim),
  ].flatMap((line) => [...(line[1] ?? '').matchAll(ADDRESS)].map((m) => (m[1] ?? '').toLowerCase()))
  if (recipients.length === 0 && new Set(quotedTo).size === 1 && quotedTo[0] !== undefined) {
    recipients.push(textRecipient(quotedTo[0], report, action))
  }
  return recipients.length === 0
    ? null
    : { format: 'text', recipients, messageId, reportingMta: null }
}
