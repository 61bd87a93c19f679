import { nextRetryDelayMs, serverSignal, settleAttempt } from '@outbound/bounce'
import type { Outcome, Recipient } from '@outbound/store'
import { outcomeCounts } from './counts.js'
import { outcomeEvents } from './events.js'
import { releaseUnused, sendingFields } from './gate.js'
import { failureOfRecipient, recordBounces } from './record-bounces.js'
import type { Rendered } from './render.js'
import { SANDBOX_RETRY_SCHEDULE_SECONDS } from './sandbox.js'
import type { Attempt, DeliverDeps, Ended, Gated, Sending, Verdict } from './types.js'

/** The failure an expired recipient's soft bounce records (RFC 3463 4.4.7: delivery time expired). */
function expiredFailure(recipient: Recipient) {
  return {
    smtpCode: recipient.smtpCode,
    enhancedCode: '4.4.7',
    text: recipient.diagnostic ?? 'retries exhausted',
    action: 'failed',
  }
}

/** The reply text whose "try again in …" may set the wait before the next attempt. */
function hintText(ended: Ended): string {
  const { outcome } = ended
  return outcome.kind === 'failed'
    ? outcome.response
    : outcome.refused.map((entry) => entry.response).join(' ')
}

/**
 * Writes an attempt's outcome. With `deps.orderedStore` (the store over the BullMQ worker's own
 * connection to a single Redis) the write is sent and not waited for: Redis runs a connection's
 * commands in order, so the move of the job that follows (completed, delayed or failed) runs after
 * it and both take one round trip. Should that write fail, it is tried once more over the store's
 * connection; a lost connection fails the job's move too, and the job runs again.
 */
async function writeOutcome(
  deps: Pick<DeliverDeps, 'store' | 'orderedStore'>,
  { message, token, log }: Attempt,
  record: Outcome,
  now: Date,
): Promise<void> {
  const checked = (recorded: boolean) => {
    if (!recorded) log.warn('the outcome was not recorded: the claim changed after the hand-over')
  }
  const { orderedStore } = deps
  if (orderedStore === undefined) {
    checked(await deps.store.recordOutcome(message.id, token, record, now))
    return
  }
  void orderedStore
    .recordOutcome(message.id, token, record, now)
    .catch((err: unknown) => {
      log.warn({ err }, 'the outcome write failed; trying again')
      return deps.store.recordOutcome(message.id, token, record, now)
    })
    .then(checked, (err: unknown) =>
      log.error({ err }, 'the outcome of this attempt could not be recorded'),
    )
}

/**
 * Stage 6: every recipient's fate and the message's status (the rules live in @outbound/bounce),
 * written in one step with the attempt's record; bounces recorded; the quota units of recipients
 * not handed over given back; the wait before a retry computed once, for the record and the job.
 */
export async function settle(
  { message, token, log }: Attempt,
  ended: Ended,
  context: { sending: Sending | null; gated: Gated | null; rendered: Rendered | null },
  deps: Pick<
    DeliverDeps,
    | 'store'
    | 'orderedStore'
    | 'bounces'
    | 'quota'
    | 'routing'
    | 'metrics'
    | 'now'
    | 'newEventId'
    | 'serverStates'
  >,
): Promise<Verdict> {
  const { sending, gated, rendered } = context
  const { settings } = deps.routing().snapshot
  const { outcome } = ended
  const schedule = message.sandbox
    ? SANDBOX_RETRY_SCHEDULE_SECONDS
    : settings.retrySchedule[message.stream]
  const now = deps.now()
  // What the attempt told about the server (DOMAIN.md §8): a slow-down throttles it, and then the
  // message waits for the throttle to end without using an attempt.
  const signal = ended.local === true ? null : serverSignal(outcome, ended.command ?? null)
  const server = sending?.server ?? null
  if (server !== null && signal !== null)
    await deps.serverStates.report(server, { kind: signal, reason: hintText(ended) })
  const state = server === null ? null : deps.serverStates.current(server.id)
  const throttledUntil =
    signal === 'slow-down' && state?.status === 'throttled' && state.until !== null
      ? Date.parse(state.until)
      : null
  const retryDelayMs =
    throttledUntil !== null
      ? Math.max(0, throttledUntil - now.getTime())
      : outcome.kind === 'failed' && outcome.cause !== 'temporary'
        ? null
        : nextRetryDelayMs(schedule, message.attempts, hintText(ended))
  const settled = settleAttempt({
    recipients: gated?.recipients ?? message.recipients,
    outcome,
    retryDelayMs,
  })

  if (gated !== null && sending !== null) {
    // Past the commit with no reply the server may have the message: its units stay counted.
    const used =
      outcome.kind === 'replied'
        ? outcome.accepted.length
        : ended.afterCommit
          ? gated.pending.length
          : 0
    await releaseUnused(deps.quota, sending.serverId, gated, used)
  }
  await recordBounces(deps.bounces, message.id, settled.bounced, failureOfRecipient, settings, now)
  await recordBounces(deps.bounces, message.id, settled.expired, expiredFailure, settings, now)

  const deferredUntil =
    settled.retryDelayMs === null ? null : new Date(now.getTime() + settled.retryDelayMs)
  const final = settled.status === 'sent' || settled.status === 'bounced'
  const detail =
    deferredUntil === null
      ? settled.detail
      : `${settled.detail}; retry ${message.attempts} of ${schedule.length} at ${deferredUntil.toISOString()}`
  const record: Outcome = {
    status: settled.status,
    // A wait for a throttled server uses no attempt.
    ...(throttledUntil === null ? {} : { attempts: message.attempts - 1 }),
    recipients: settled.recipients,
    deferredUntil,
    error: settled.status === 'sent' ? null : outcome.kind === 'replied' ? settled.detail : detail,
    event: {
      type: settled.status,
      detail: outcome.kind === 'replied' && deferredUntil === null ? outcome.response : detail,
    },
    ...(settled.smtpResponse === null ? {} : { smtpResponse: settled.smtpResponse }),
    ...(outcome.kind === 'replied' && final ? { sentAt: now } : {}),
    ...(rendered === null ? {} : { dkim: rendered.dkim, warnings: rendered.warnings }),
    ...(sending === null ? {} : sendingFields(sending)),
    // Against the recipients as claimed: those the gate suppressed are counted here too.
    counts: outcomeCounts(message.recipients, settled.recipients, settled.deferred.length),
    webhookEvents: outcomeEvents({
      newId: deps.newEventId,
      at: now,
      message,
      serverId: sending?.serverId ?? null,
      status: settled.status,
      recipients: settled.recipients,
      bounced: settled.bounced,
      expired: settled.expired,
    }),
  }
  await writeOutcome(deps, { message, token, log }, record, now)
  deps.metrics.outcome(message.stream, settled.status)
  if (sending !== null && !(outcome.kind === 'failed' && outcome.cause === 'ours'))
    deps.metrics.smtpReply(
      sending.serverId,
      outcome.kind === 'replied'
        ? Number(/^\d{3}/.exec(outcome.response)?.[0] ?? 250)
        : outcome.code,
    )

  if (settled.status === 'deferred' && deferredUntil !== null) {
    log.warn({ err: settled.detail, deferredUntil }, 'delivery failed temporarily; retry scheduled')
    return { kind: 'wait', until: deferredUntil, retry: true }
  }
  if (settled.status === 'failed' || outcome.kind === 'failed') {
    log.warn({ err: settled.detail, status: settled.status }, 'delivery failed for good')
    return { kind: 'fail', reason: settled.detail }
  }
  log.info(
    { serverId: sending?.serverId, status: settled.status, recipients: gated?.pending.length },
    'message handed over',
  )
  return { kind: 'done', result: { kind: settled.status } }
}
