import { retryHintSeconds } from './classify.js'

/** What a server's reply means for the message or the recipient it answered. */
export type ReplyClass = 'accepted' | 'permanent' | 'temporary'

/**
 * The class of an SMTP reply code (DOMAIN.md §7): 2xx and 3xx accept; 5xx refuses for good, except
 * 503 (bad sequence of commands: a fault of the session, which nodemailer reports as such, not a
 * verdict on the message); 4xx and no reply at all (a refused or dropped connection, a timeout) are
 * temporary.
 */
export function replyClass(code: number | null): ReplyClass {
  if (code === null) return 'temporary'
  if (code >= 200 && code < 400) return 'accepted'
  if (code >= 500 && code < 600 && code !== 503) return 'permanent'
  return 'temporary'
}

/**
 * Whether a failed transaction refuses the message itself: a permanent reply to MAIL FROM, RCPT
 * TO or DATA. A permanent reply elsewhere (535 to AUTH, a 554 greeting) is the server's
 * configuration or state, not the recipients': it is retried, never bounced.
 */
export function refusesMessage(failure: { code: number | null; command: string | null }): boolean {
  const command = (failure.command ?? '').toUpperCase()
  return replyClass(failure.code) === 'permanent' && /^(MAIL|RCPT|DATA)/.test(command)
}

/**
 * The wait before the next attempt, in ms: what the server asked for ("try again in 5 minutes"),
 * else the schedule's delay after attempt number `attempt` (1-based). Null once the schedule is
 * used up: the message is then failed.
 */
export function nextRetryDelayMs(
  schedule: readonly number[],
  attempt: number,
  replyText: string,
): number | null {
  const scheduled = schedule[attempt - 1]
  if (scheduled === undefined) return null
  const hint = retryHintSeconds(replyText)
  return (hint ?? scheduled) * 1000
}

/** The statuses a recipient of a message can have. */
export type RecipientStatus =
  'pending' | 'sent' | 'deferred' | 'bounced' | 'failed' | 'suppressed' | 'canceled'

/** What settling needs of a recipient; callers' own recipient types carry more. */
export type SettledRecipient = {
  address: string
  status: RecipientStatus
  smtpCode: number | null
  enhancedCode: string | null
  diagnostic: string | null
}

/** How an attempt ended. */
export type AttemptOutcome =
  /** The server answered the message: some recipients accepted, some refused one by one. */
  | {
      kind: 'replied'
      response: string
      accepted: readonly string[]
      refused: readonly { address: string; code: number | null; response: string }[]
    }
  /**
   * The transaction failed as a whole: `refused` (the server refused the message for good),
   * `temporary` (a 4xx, no reply, a connection or AUTH failure), `expired` (not handed over
   * within maxQueueHours: failed, a soft `expired` bounce each), or `ours` (this service cannot
   * send it: the stored sender no longer parses, a forced server was removed; nobody's bounce).
   */
  | {
      kind: 'failed'
      cause: 'refused' | 'temporary' | 'ours' | 'expired'
      code: number | null
      response: string
    }

export type Settlement<R extends SettledRecipient> = {
  status: 'sent' | 'bounced' | 'deferred' | 'failed'
  recipients: R[]
  /** Recipients refused for good by this attempt: each gets a bounce record from its reply. */
  bounced: R[]
  /** Recipients whose retries ran out with this attempt: each gets a soft bounce (expired). */
  expired: R[]
  /** Recipients this attempt deferred (temporarily refused, another attempt to come). */
  deferred: R[]
  /** The wait before the next attempt when the status is deferred. */
  retryDelayMs: number | null
  /** The server's reply to the message, when it answered one. */
  smtpResponse: string | null
  /** One line for the record's error and event. */
  detail: string
}

const ENHANCED_CODE = /\b([245]\.\d{1,3}\.\d{1,3})\b/

function withReply<R extends SettledRecipient>(
  recipient: R,
  status: RecipientStatus,
  code: number | null,
  response: string,
): R {
  return {
    ...recipient,
    status,
    smtpCode: code,
    enhancedCode: ENHANCED_CODE.exec(response)?.[1] ?? null,
    diagnostic: response,
  }
}

const isWaiting = (recipient: SettledRecipient) =>
  recipient.status === 'pending' || recipient.status === 'deferred'

/**
 * Every recipient's fate after one attempt, and the message's status (DOMAIN.md §7): accepted
 * recipients are sent; a permanent refusal bounces (a recipient, or all of them when the message
 * itself is refused); a temporary one defers them while `retryDelayMs` allows another attempt,
 * and fails them (a soft `expired` bounce each) once it does not.
 */
export function settleAttempt<R extends SettledRecipient>(input: {
  recipients: readonly R[]
  outcome: AttemptOutcome
  /** The wait before another attempt; null when this was the last one. */
  retryDelayMs: number | null
}): Settlement<R> {
  const { outcome, retryDelayMs } = input
  const retry = retryDelayMs !== null
  if (outcome.kind === 'failed') {
    const status =
      outcome.cause === 'refused'
        ? 'bounced'
        : outcome.cause === 'temporary' && retry
          ? 'deferred'
          : 'failed'
    const recipientStatus = status === 'deferred' ? 'deferred' : status
    const recipients = input.recipients.map((r) =>
      isWaiting(r) ? withReply(r, recipientStatus, outcome.code, outcome.response) : r,
    )
    const changed = recipients.filter((r, i) => isWaiting(input.recipients[i] ?? r))
    return {
      status,
      recipients,
      bounced: status === 'bounced' ? changed : [],
      expired:
        status === 'failed' && (outcome.cause === 'temporary' || outcome.cause === 'expired')
          ? changed
          : [],
      deferred: status === 'deferred' ? changed : [],
      retryDelayMs: status === 'deferred' ? retryDelayMs : null,
      smtpResponse: null,
      detail: outcome.response,
    }
  }

  const accepted = new Set(outcome.accepted.map((address) => address.toLowerCase()))
  const refused = new Map(outcome.refused.map((entry) => [entry.address.toLowerCase(), entry]))
  const acceptedCode = Number(/^\d{3}/.exec(outcome.response)?.[0] ?? 250)
  const bounced: R[] = []
  const expired: R[] = []
  const deferred: R[] = []
  const recipients = input.recipients.map((recipient) => {
    if (!isWaiting(recipient)) return recipient
    const key = recipient.address.toLowerCase()
    const refusal = refused.get(key)
    if (refusal !== undefined) {
      if (replyClass(refusal.code) === 'permanent') {
        const next = withReply(recipient, 'bounced', refusal.code, refusal.response)
        bounced.push(next)
        return next
      }
      if (retry) {
        const next = withReply(recipient, 'deferred', refusal.code, refusal.response)
        deferred.push(next)
        return next
      }
      const next = withReply(recipient, 'failed', refusal.code, refusal.response)
      expired.push(next)
      return next
    }
    if (accepted.has(key)) return withReply(recipient, 'sent', acceptedCode, outcome.response)
    return recipient
  })
  const anySent = recipients.some((r) => r.status === 'sent')
  const temporary = deferred.length + expired.length
  const status = temporary > 0 ? (retry ? 'deferred' : 'failed') : anySent ? 'sent' : 'bounced'
  const detail =
    temporary > 0
      ? `${temporary} recipient(s) temporarily refused`
      : anySent
        ? outcome.response
        : 'every recipient was refused'
  return {
    status,
    recipients,
    bounced,
    expired,
    deferred,
    retryDelayMs: status === 'deferred' ? retryDelayMs : null,
    smtpResponse: outcome.response,
    detail,
  }
}

// DOMAIN.md §8: a reply that asks the sender to slow down.
const SLOW_DOWN_TEXT = /rate|throttl|too many (messages|connections|recipients|mails?)|slow down/i

/** Whether a temporary reply asks the sender to slow down: 421, 4.7.x, 4.3.2, or words to that effect. */
export function isSlowDown(reply: { code: number | null; text: string }): boolean {
  const { code, text } = reply
  if (code === null || code < 400 || code >= 500) return false
  if (code === 421) return true
  const enhanced = ENHANCED_CODE.exec(text)?.[1] ?? ''
  return /^4\.7\.\d+$/.test(enhanced) || enhanced === '4.3.2' || SLOW_DOWN_TEXT.test(text)
}

/**
 * What an attempt tells about the server (DOMAIN.md §8): `slow-down` (it asked to), `unreachable`
 * (a refused or timed-out connection, a TLS failure, a 421/554 greeting, a 535 AUTH failure), or
 * `success` (it answered the message, whatever it said). Null when nothing was learnt.
 */
export function serverSignal(outcome: AttemptOutcome, command: string | null): ServerSignalKind {
  if (outcome.kind === 'replied') {
    const asked = outcome.refused.find((entry) =>
      isSlowDown({ code: entry.code, text: entry.response }),
    )
    return asked === undefined ? 'success' : 'slow-down'
  }
  if (outcome.cause === 'ours' || outcome.cause === 'expired') return null
  const stage = (command ?? '').toUpperCase()
  const greeting = stage === 'CONN' || stage === ''
  if (greeting && (outcome.code === 421 || outcome.code === 554))
    return SLOW_DOWN_TEXT.test(outcome.response) ? 'slow-down' : 'unreachable'
  if (isSlowDown({ code: outcome.code, text: outcome.response })) return 'slow-down'
  if (outcome.code === 535 || outcome.code === null) return 'unreachable'
  return 'success'
}

export type ServerSignalKind = 'success' | 'slow-down' | 'unreachable' | null
