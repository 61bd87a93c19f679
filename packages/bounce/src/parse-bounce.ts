import { simpleParser } from 'mailparser'
import { enhancedCodeOf } from './classify.js'

/** One recipient a bounce reports on. */
export type BouncedRecipient = {
  address: string
  /** RFC 3464 Action: failed, delayed (… or null for a text bounce, which means failed). */
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
const ORIGINAL_MARKERS = [
  /^-+ ?Below this line is a copy of the message/im,
  /^-+ ?This is a copy of the message/im,
  /^-+ ?Original message/im,
  /^-+ ?Undelivered message/im,
]
const SMTP_CODE = /(?:^|[\s;:(])([45]\d\d)(?=[ -]|$)/m
const ADDRESS = /<?([a-zA-Z0-9.!#$%&'*+/=?^_`{|}~-]+@[a-zA-Z0-9](?:[a-zA-Z0-9.-]*[a-zA-Z0-9])?)>?/g

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
    } else if (/^\s/.test(line) && lastName !== undefined) {
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

function reportRecipients(text: string): {
  recipients: BouncedRecipient[]
  reportingMta: string | null
} {
  const blocks = fieldBlocks(text)
  const reporting = blocks.find((block) => block.has('reporting-mta'))?.get('reporting-mta') ?? null
  const recipients = blocks
    .filter((block) => block.has('final-recipient') && block.has('action'))
    .map((block) => {
      const diagnostic = (block.get('diagnostic-code') ?? '').replace(/^[a-z-]+;\s*/i, '')
      const code = SMTP_CODE.exec(diagnostic)?.[1]
      return {
        address: addressOfField(block.get('final-recipient') ?? ''),
        action: (block.get('action') ?? '').trim().toLowerCase(),
        status: enhancedCodeOf(block.get('status') ?? '') ?? enhancedCodeOf(diagnostic),
        smtpCode: code === undefined ? null : Number(code),
        diagnostic,
      }
    })
  return { recipients, reportingMta: reporting === null ? null : addressOfField(reporting) }
}

/** A mailer-daemon's prose: every address in the report, with the reply that follows it. */
function textRecipients(report: string, own: ReadonlySet<string>): BouncedRecipient[] {
  const found: { address: string; index: number; end: number }[] = []
  for (const match of report.matchAll(ADDRESS)) {
    const address = (match[1] ?? '').toLowerCase()
    if (own.has(address) || found.some((f) => f.address === address)) continue
    found.push({ address, index: match.index, end: match.index + match[0].length })
  }
  return found.flatMap((entry, i) => {
    const window = report.slice(
      entry.end,
      Math.min(found[i + 1]?.index ?? report.length, entry.end + 600),
    )
    const code = SMTP_CODE.exec(window)?.[1]
    const status = enhancedCodeOf(window)
    if (code === undefined && status === null) return []
    return [
      {
        address: entry.address,
        action: null,
        status,
        smtpCode: code === undefined ? null : Number(code),
        diagnostic: window.replace(/\s+/g, ' ').trim().slice(0, 500),
      },
    ]
  })
}

function looksLikeBounce(from: string, subject: string): boolean {
  return (
    /mailer-daemon|postmaster|mail delivery/i.test(from) ||
    /undeliver|delivery (status notification|failure|failed)|returned mail|failure notice|mail delivery failed|could not be delivered/i.test(
      subject,
    )
  )
}

/**
 * Reads a bounce as received at the bounce address: an RFC 3464 delivery status notification, or
 * the plain-text report of a mailer-daemon. Null when the message is not a bounce.
 */
export async function parseBounce(raw: Buffer): Promise<ParsedBounce | null> {
  const parsed = await simpleParser(raw, { skipImageLinks: true, skipTextLinks: true })
  const contentType = parsed.headers.get('content-type')
  const params =
    typeof contentType === 'object' && 'params' in contentType ? contentType.params : {}
  const reportType = params['report-type'] ?? ''
  const text = parsed.text ?? ''
  const originals = parsed.attachments.map((attachment) => attachment.content.toString('utf8'))
  // The original message (or its headers): an attachment, or the text after a marker.
  const marker = ORIGINAL_MARKERS.map((re) => re.exec(text)?.index).find(
    (index) => index !== undefined,
  )
  const report = marker === undefined ? text : text.slice(0, marker)
  const originalText = [...originals, marker === undefined ? '' : text.slice(marker), text].join(
    '\n',
  )
  const messageId = OUR_ID.exec(originalText)?.[1] ?? OUR_MESSAGE_ID.exec(originalText)?.[1] ?? null

  const dsn = reportRecipients(text)
  if (dsn.recipients.length > 0 || reportType.toLowerCase() === 'delivery-status') {
    return {
      format: 'rfc3464',
      recipients: dsn.recipients,
      messageId,
      reportingMta: dsn.reportingMta,
    }
  }
  const from = parsed.from?.text ?? ''
  if (!looksLikeBounce(from, parsed.subject ?? '')) return null
  const own = new Set(
    [...(parsed.from?.value ?? []), ...[parsed.to ?? []].flat().flatMap((to) => to.value)]
      .map((entry) => entry.address?.toLowerCase() ?? '')
      .filter((address) => address !== ''),
  )
  const recipients = textRecipients(report, own)
  return recipients.length === 0
    ? null
    : { format: 'text', recipients, messageId, reportingMta: null }
}
