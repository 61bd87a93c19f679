import { normalizeAddressText } from '@outbound/address'
import { parseComplaint } from '@outbound/bounce'
import { recipientEvent, type ReputationWarning } from '@outbound/jobs'
import {
  type BounceStore,
  type ComplaintRecord,
  type ComplaintStore,
  type MessageStore,
  messageSummary,
} from '@outbound/store'
import { checkReputation, type ReputationDeps } from './check-reputation.js'

export type ComplaintDeps = ReputationDeps & {
  bounces: BounceStore
  store: MessageStore
  complaints: ComplaintStore
  /** A new complaint id (`cmp_…`). */
  newComplaintId: () => string
}

export type InboundComplaint =
  | { kind: 'recorded'; complaint: ComplaintRecord; warnings: ReputationWarning[] }
  /** A feedback report that names no recipient, about mail that is not ours or has several. */
  | { kind: 'no-recipient' }

/**
 * Reads a complaint from a feedback loop (RFC 5965, Microsoft JMRP) and acts on it (DOMAIN.md §9):
 * the recipient is suppressed for every mail, the complaint stored, counted and announced
 * (`email.complained`) in one step, once per original and recipient, and the sending server's
 * complaint rate checked. Null when the message is not a complaint.
 */
export async function recordInboundComplaint(
  deps: ComplaintDeps,
  raw: Buffer,
): Promise<InboundComplaint | null> {
  const parsed = await parseComplaint(raw)
  if (parsed === null) return null
  const at = deps.now()
  const message = parsed.messageId === null ? null : await deps.store.getMessage(parsed.messageId)
  // Some providers (AOL, Yahoo for some senders) redact the recipient: a message with one
  // recipient still names it.
  const onlyRecipient =
    message !== null && message.recipients.length === 1 ? message.recipients[0]?.address : null
  const address = parsed.recipient ?? onlyRecipient ?? null
  if (address === null) return { kind: 'no-recipient' }
  const recipient = normalizeAddressText(address)

  // First the suppression: a crash before the complaint is stored leaves the address suppressed,
  // and the provider's retry of the report records the complaint.
  await deps.bounces.addSuppression({
    address: recipient,
    reason: 'complaint',
    source: 'complaint',
    createdAt: at.toISOString(),
  })
  const record: ComplaintRecord = {
    id: deps.newComplaintId(),
    messageId: message?.id ?? null,
    recipient,
    feedbackType: parsed.feedbackType,
    serverId: message?.serverId ?? null,
    stream: message?.stream ?? null,
    originalMessageId: parsed.originalMessageIdHeader,
    reportingMta: parsed.reportingMta,
    userAgent: parsed.userAgent,
    sourceIp: parsed.sourceIp,
    arrivalDate: parsed.arrivalDate,
    at: at.toISOString(),
  }
  const event =
    message === null
      ? null
      : recipientEvent(
          deps.newEventId(),
          'email.complained',
          at,
          messageSummary(message, message.serverId),
          message.status,
          {
            recipient: address,
            kind: parsed.feedbackType,
            reason: 'complaint',
            smtpCode: null,
            enhancedCode: null,
            diagnostic: parsed.userAgent ?? parsed.reportingMta,
            source: 'feedback-loop',
          },
        )
  const stored = await deps.complaints.recordComplaint(record, event)
  const serverId = stored.record.serverId
  const { warnings } =
    stored.stored && serverId !== null ? await checkReputation(deps, serverId) : { warnings: [] }
  return { kind: 'recorded', complaint: stored.record, warnings }
}
