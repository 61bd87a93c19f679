import { randomUUID } from 'node:crypto'
import { normalizeAddressText } from '@outbound/address'
import { bounceDecision, parseBounce } from '@outbound/bounce'
import { recipientEvent, type WebhookEvent } from '@outbound/jobs'
import {
  type BounceRecord,
  type BounceStore,
  type ConfigCache,
  type MessageStore,
  messageSummary,
  type Recipient,
  type StatCounts,
} from '@outbound/store'

export type InboundDeps = {
  bounces: BounceStore
  store: MessageStore
  configCache: ConfigCache
  now: () => Date
  /** A new webhook event id (`evt_…`). */
  newEventId: () => string
}

// Actions that report success, not a bounce (RFC 3464 §2.3.3).
const NOT_FAILURES = new Set(['delivered', 'relayed', 'expanded'])

/**
 * Reads a bounce received at the bounce address and records one bounce per failed recipient,
 * tied to the message when it can be found. A permanent failure of a recipient of that message
 * overrides its earlier status (a late bounce). Null when the message is not a bounce.
 */
export async function recordInboundBounce(
  deps: InboundDeps,
  raw: Buffer,
): Promise<BounceRecord[] | null> {
  const parsed = await parseBounce(raw)
  if (parsed === null) return null
  const at = deps.now()
  const message = parsed.messageId === null ? null : await deps.store.getMessage(parsed.messageId)
  const messageId = message?.id ?? null
  const hardAfter = deps.configCache.current().settings.bounceSuppressAfter
  const records: BounceRecord[] = []
  const updates: Record<string, Partial<Recipient>> = {}
  const webhookEvents: WebhookEvent[] = []
  // The stats count each bounce reported about a known message, as its event does.
  const counts: StatCounts = {}
  for (const recipient of parsed.recipients) {
    if (recipient.action !== null && NOT_FAILURES.has(recipient.action)) continue
    const address = normalizeAddressText(recipient.address)
    const failure = {
      smtpCode: recipient.smtpCode,
      enhancedCode: recipient.status,
      text: recipient.diagnostic,
      action: recipient.action ?? 'failed',
    }
    const decision = bounceDecision({
      id: `bnc_${randomUUID()}`,
      messageId,
      address,
      failure,
      source: 'dsn',
      at,
      history: await deps.bounces.bounceHistory(address),
      hardAfter,
    })
    await deps.bounces.recordBounce(decision.record)
    if (decision.suppression !== null) await deps.bounces.addSuppression(decision.suppression)
    records.push(decision.record)
    if (message !== null) {
      const metric = decision.record.kind === 'hard' ? 'bounced.hard' : 'bounced.soft'
      counts[metric] = (counts[metric] ?? 0) + 1
      webhookEvents.push(
        recipientEvent(
          deps.newEventId(),
          'email.bounced',
          at,
          messageSummary(message, message.serverId),
          message.status,
          {
            recipient: recipient.address,
            kind: decision.record.kind,
            reason: decision.record.reason,
            smtpCode: decision.record.smtpCode,
            enhancedCode: decision.record.enhancedCode,
            diagnostic: decision.record.diagnostic,
            source: 'dsn',
          },
        ),
      )
    }
    if (decision.record.permanent) {
      updates[address] = {
        status: 'bounced',
        smtpCode: recipient.smtpCode,
        enhancedCode: recipient.status,
        diagnostic: recipient.diagnostic,
      }
    }
  }
  if (messageId !== null && (Object.keys(updates).length > 0 || webhookEvents.length > 0)) {
    const from = parsed.reportingMta === null ? '' : ` from ${parsed.reportingMta}`
    await deps.bounces.updateRecipients(
      messageId,
      updates,
      {
        type: 'bounced',
        detail: `a delivery status notification${from}: ${Object.keys(updates).join(', ')}`,
      },
      at,
      webhookEvents,
      counts,
    )
  }
  return records
}
