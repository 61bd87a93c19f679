/**
 * The events this service reports to webhook endpoints (CONTRACT.md, Webhooks). An event is
 * written in the same atomic step as the outcome it reports, to its message's shard of the event
 * stream; the dispatcher turns it into one delivery per matching endpoint.
 */
export const EVENT_TYPES = [
  'email.sent',
  'email.deferred',
  'email.bounced',
  'email.failed',
  'email.suppressed',
  'email.canceled',
  'email.complained',
  'email.unsubscribed',
  'server.state_changed',
  'quota.warning',
  'reputation.warning',
] as const
export type EventType = (typeof EVENT_TYPES)[number]

/** An event as endpoints receive it (the body of the request); `id` is the `webhook-id`. */
export type WebhookEvent = {
  id: string
  type: EventType
  /** ISO-8601: when it happened. Order across events is not guaranteed: use this. */
  timestamp: string
  data: Record<string, unknown>
}

/** What every email event says of its message. */
export type MessageSummary = {
  messageId: string
  stream: string
  serverId: string | null
  reference: string | null
  tags: readonly string[]
  metadata: Readonly<Record<string, string>>
  subject: string
  to: readonly string[]
  /**
   * Present on sandbox mail only (never handed to a server); absent otherwise, so that the bodies
   * of ordinary mail are unchanged.
   */
  sandbox?: true
}

type RecipientFacts = {
  address: string
  status: string
  smtpCode: number | null
  enhancedCode: string | null
  diagnostic: string | null
}

/** A message event (sent, deferred, failed, suppressed, canceled) with every recipient's state. */
export function messageEvent(
  id: string,
  type: Extract<
    EventType,
    'email.sent' | 'email.deferred' | 'email.failed' | 'email.suppressed' | 'email.canceled'
  >,
  at: Date,
  message: MessageSummary,
  status: string,
  recipients: readonly RecipientFacts[],
): WebhookEvent {
  return {
    id,
    type,
    timestamp: at.toISOString(),
    data: {
      ...message,
      status,
      recipients: recipients.map(({ address, status, smtpCode, enhancedCode, diagnostic }) => ({
        address,
        status,
        smtpCode,
        enhancedCode,
        diagnostic,
      })),
    },
  }
}

/** What a recipient event says of its recipient: a bounce, a complaint or an unsubscribe. */
export type RecipientFact = {
  recipient: string
  kind: string | null
  reason: string | null
  smtpCode: number | null
  enhancedCode: string | null
  diagnostic: string | null
  source: string
}

/** A recipient event (bounced, complained, unsubscribed): one per recipient. */
export function recipientEvent(
  id: string,
  type: Extract<EventType, 'email.bounced' | 'email.complained' | 'email.unsubscribed'>,
  at: Date,
  message: MessageSummary,
  status: string,
  fact: RecipientFact,
): WebhookEvent {
  return { id, type, timestamp: at.toISOString(), data: { ...message, status, ...fact } }
}

/** What a quota warning reports: 90 % of a server's daily limit is used. */
export type QuotaWarning = { serverId: string; day: string; used: number; limit: number }

/** A `quota.warning` event (not tied to a message). */
export function quotaWarningEvent(id: string, at: Date, warning: QuotaWarning): WebhookEvent {
  return {
    id,
    type: 'quota.warning',
    timestamp: at.toISOString(),
    data: {
      ...warning,
      percentUsed: Math.floor((warning.used * 100) / Math.max(1, warning.limit)),
    },
  }
}

/**
 * What a reputation warning reports: a server's complaint rate over the last 24 h reached a
 * threshold (0.001: Gmail's recommended ceiling, 0.003: its limit).
 */
export type ReputationWarning = {
  serverId: string
  threshold: number
  rate: number
  complained: number
  delivered: number
}

/** A `reputation.warning` event (not tied to a message). */
export function reputationWarningEvent(
  id: string,
  at: Date,
  warning: ReputationWarning,
): WebhookEvent {
  return {
    id,
    type: 'reputation.warning',
    timestamp: at.toISOString(),
    data: { ...warning, window: '24h' },
  }
}
