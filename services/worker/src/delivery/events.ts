import { classifyFailure } from '@outbound/bounce'
import { messageEvent, recipientEvent, type WebhookEvent } from '@outbound/jobs'
import { type ClaimedMessage, messageSummary, type Recipient } from '@outbound/store'
import { failureOfRecipient } from './record-bounces.js'

/**
 * The webhook events of an outcome: the message event of its status (a bounced message has only
 * its recipients' events), and one `email.bounced` per recipient bounced or expired by it.
 */
export function outcomeEvents(input: {
  newId: () => string
  at: Date
  message: ClaimedMessage
  serverId: string | null
  status: 'sent' | 'deferred' | 'failed' | 'bounced' | 'suppressed'
  recipients: readonly Recipient[]
  bounced?: readonly Recipient[]
  expired?: readonly Recipient[]
}): WebhookEvent[] {
  const { newId, at, message, status, recipients } = input
  const summary = messageSummary(message, input.serverId)
  const events: WebhookEvent[] =
    status === 'bounced'
      ? []
      : [messageEvent(newId(), `email.${status}`, at, summary, status, recipients)]
  const bounceEvent = (recipient: Recipient, expired: boolean) => {
    const failure = failureOfRecipient(recipient)
    const classification = expired
      ? { kind: 'soft', reason: 'expired' }
      : classifyFailure({ ...failure, action: null })
    return recipientEvent(newId(), 'email.bounced', at, summary, status, {
      recipient: recipient.address,
      kind: classification.kind,
      reason: classification.reason,
      smtpCode: recipient.smtpCode,
      enhancedCode: recipient.enhancedCode,
      diagnostic: recipient.diagnostic,
      source: 'smtp',
    })
  }
  for (const recipient of input.bounced ?? []) events.push(bounceEvent(recipient, false))
  for (const recipient of input.expired ?? []) events.push(bounceEvent(recipient, true))
  return events
}
