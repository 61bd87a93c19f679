import { DelayedError, type Job, UnrecoverableError } from 'bullmq'
import type { Logger } from 'pino'
import { parseMailbox } from '@outbound/address'
import { type DeliverJobData, isDeliverJobData, retryDelayMs, STREAMS } from '@outbound/jobs'
import type { QuotaWindow } from '@outbound/quota'
import type { BounceStore, MessageStore, Outcome, QuotaStore, Recipient } from '@outbound/store'
import { normalizeAddressText } from '@outbound/address'
import { retryHintSeconds } from '@outbound/bounce'
import { failureOfRecipient, recordBounces } from './record-bounces.js'
import { reserveDailyQuota } from './daily-quota.js'
import { renderMessage } from '../render-message.js'
import { planDelivery } from '@outbound/rewrite'
import type { DeliveryMetrics } from '../metrics.js'
import type { RoutingContext } from '../routing-context.js'
import type { Signer } from '../sign-message.js'
import type { DmarcPolicyOf } from '../dmarc-policies.js'
import type { DkimOutcome } from '@outbound/store'
import {
  AfterCommitError,
  HandoffRevokedError,
  type SendResult,
} from '../transports/message-transport.js'
import type { TransportRegistry } from '../transports/transport-registry.js'

export type DeliverDeps = {
  store: MessageStore
  /** The transport of each server, and of the built-in default server (SMTP_URL or the outbox). */
  transports: TransportRegistry
  /** The configuration the waterfall reads (a cached snapshot: no Redis read per message). */
  routing: () => RoutingContext
  quota: QuotaStore
  quotaWindow: (at: Date, timeZone: string) => QuotaWindow
  bounces: BounceStore
  /** DKIM signing with the alias domains' keys. */
  sign: Signer
  /** DMARC policies of sender domains, for the deliverability warnings. */
  dmarcPolicy: DmarcPolicyOf
  metrics: DeliveryMetrics
  now: () => Date
  log: Logger
}

/** What a job ended with, for logs and tests. */
export type DeliverResult =
  { kind: 'sent' | 'bounced' | 'failed' } | { kind: 'skipped'; reason: string }

/** The id of the built-in default server in records and metrics. */
export const DEFAULT_SERVER_ID = 'default'
/**
 * How long an attempt that reached the point of no return gets to record the server's reply. Past
 * that it is taken to have died, and the message counts as handed over (it is never sent again).
 */
export const COMMIT_GRACE_MS = 30_000

/**
 * The deliverability seed's warning: a sender at a domain with DMARC p=quarantine or p=reject
 * (yahoo.com, aol.com …) that goes out unrewritten will fail DMARC at receivers, since the mail is
 * neither signed by that domain nor sent from its servers.
 */
async function senderWarnings(
  deps: Pick<DeliverDeps, 'dmarcPolicy'>,
  headerFrom: string,
  aliasDomains: readonly { name: string }[],
  sender: { address: string; domain: string },
): Promise<string[]> {
  const from = parseMailbox(headerFrom)
  const domain = sender.domain.toLowerCase()
  const ours = aliasDomains.some((aliasDomain) => aliasDomain.name.toLowerCase() === domain)
  if (from === null || from.address.toLowerCase() !== sender.address.toLowerCase() || ours)
    return []
  const policy = await deps.dmarcPolicy(domain)
  if (policy !== 'quarantine' && policy !== 'reject') return []
  return [
    `${domain} publishes DMARC p=${policy} and this message goes out from ${sender.address} unrewritten: receivers will ${policy === 'reject' ? 'reject' : 'quarantine'} it. Send from an alias domain, or let the waterfall rewrite it (a server filtered for ${domain} keeps the sender).`,
  ]
}

/** The bare address of a From header the rewrite produced (`"Mary" <n@shop.example>` → `n@shop.example`). */
function addressOfHeader(header: string): string {
  return parseMailbox(header)?.address ?? header
}

/** BullMQ priority of a retried job: first attempts keep the default 0, which BullMQ takes first. */
export const RETRY_PRIORITY = 1

const ENHANCED_CODE = /\b([245]\.\d{1,3}\.\d{1,3})\b/

type SmtpFailure = {
  responseCode?: unknown
  response?: unknown
  permanent?: unknown
  command?: unknown
  message: string
}

function asSmtpFailure(err: unknown): SmtpFailure {
  return err instanceof Error ? err : { message: String(err) }
}

/**
 * A refusal of the message itself: 5xx (but 503, as nodemailer flags it) to MAIL FROM, RCPT or
 * DATA (DOMAIN.md §7). A 5xx elsewhere, such as 535 to AUTH, is the server's configuration, not
 * the recipients': it is retried, never bounced.
 */
function isPermanent(err: unknown): boolean {
  const failure = asSmtpFailure(err instanceof AfterCommitError ? err.cause : err)
  const command = typeof failure.command === 'string' ? failure.command.toUpperCase() : ''
  return failure.permanent === true && /^(MAIL|RCPT|DATA)/.test(command)
}

function describe(err: unknown): string {
  const failure = asSmtpFailure(err instanceof AfterCommitError ? err.cause : err)
  return typeof failure.response === 'string' ? failure.response : failure.message
}

function refusal(
  recipient: Recipient,
  code: number | null,
  response: string,
  status: Recipient['status'],
): Recipient {
  return {
    ...recipient,
    status,
    smtpCode: code,
    enhancedCode: ENHANCED_CODE.exec(response)?.[1] ?? null,
    diagnostic: response,
  }
}

/** Each pending recipient's fate after the server answered the message. */
function applyResult(recipients: readonly Recipient[], result: SendResult): Recipient[] {
  const accepted = new Set(result.accepted.map((address) => address.toLowerCase()))
  const refused = new Map(result.rejected.map((entry) => [entry.address.toLowerCase(), entry]))
  return recipients.map((recipient) => {
    if (recipient.status !== 'pending' && recipient.status !== 'deferred') return recipient
    const key = recipient.address.toLowerCase()
    const refusedEntry = refused.get(key)
    if (refusedEntry !== undefined) {
      const code = refusedEntry.responseCode
      const status = code !== null && code >= 500 && code !== 503 ? 'bounced' : 'deferred'
      return refusal(recipient, code, refusedEntry.response, status)
    }
    if (accepted.has(key)) {
      const code = Number(/^\d{3}/.exec(result.response)?.[0] ?? 250)
      return {
        ...recipient,
        status: 'sent',
        smtpCode: code,
        enhancedCode: ENHANCED_CODE.exec(result.response)?.[1] ?? null,
        diagnostic: result.response,
      }
    }
    return recipient
  })
}

function failRecipients(
  recipients: readonly Recipient[],
  err: unknown,
  status: Recipient['status'],
): Recipient[] {
  const failure = asSmtpFailure(err instanceof AfterCommitError ? err.cause : err)
  const code = typeof failure.responseCode === 'number' ? failure.responseCode : null
  return recipients.map((recipient) =>
    recipient.status === 'pending' || recipient.status === 'deferred'
      ? refusal(recipient, code, describe(err), status)
      : recipient,
  )
}

/**
 * Delivers one message. Exactly-once rests on the store: an attempt claims the message, and the
 * end of DATA is written only after the claim is committed; a redelivered job (crash, stall)
 * finds the message final, committing (never sent again), or still connecting (safe to retry).
 */
export async function deliver(
  job: Job<DeliverJobData>,
  token: string | undefined,
  deps: DeliverDeps,
): Promise<DeliverResult> {
  if (!isDeliverJobData(job.data))
    throw new UnrecoverableError('the job payload is not { messageId }')
  const { messageId } = job.data
  const log = deps.log.child({
    jobId: job.id,
    messageId,
    pool: job.queueName,
    attempt: job.attemptsMade + 1,
  })
  const claimToken = token ?? `${job.id ?? messageId}:${Date.now()}`
  const claim = await deps.store.claimMessage(messageId, claimToken, deps.now())

  switch (claim.kind) {
    case 'missing':
      log.error('no record for this job; nothing to send')
      return { kind: 'skipped', reason: 'missing' }
    case 'final':
      log.info({ status: claim.status }, 'message already final; not sent again')
      return { kind: 'skipped', reason: claim.status }
    case 'committing': {
      const waitedMs = deps.now().getTime() - claim.committedAt.getTime()
      if (waitedMs < COMMIT_GRACE_MS && token !== undefined) {
        log.warn('another attempt is handing this message over; checking again later')
        await job.moveToDelayed(claim.committedAt.getTime() + COMMIT_GRACE_MS, token)
        throw new DelayedError()
      }
      const detail =
        'the attempt that handed this message over stopped before it recorded the reply; it is not sent again (the server most likely has it, unless the attempt died in the instant between the commit and the end of data)'
      const interrupted = await deps.store.getMessage(messageId)
      await deps.store.recordOutcome(
        messageId,
        claim.token,
        {
          status: 'sent',
          sentAt: claim.committedAt,
          smtpResponse: null,
          recipients: (interrupted?.recipients ?? []).map((r) =>
            r.status === 'pending' || r.status === 'deferred'
              ? { ...r, status: 'sent', smtpCode: null, enhancedCode: null, diagnostic: detail }
              : r,
          ),
          event: { type: 'sent', detail },
        },
        deps.now(),
      )
      log.warn('interrupted after the hand-over; counted as sent, not sent again')
      return { kind: 'sent' }
    }
    case 'claimed':
      break
  }

  const [record, content] = await Promise.all([
    deps.store.getMessage(messageId),
    deps.store.getMessageContent(messageId),
  ])
  if (record === null || content === null)
    throw new Error(`message ${messageId} vanished while claimed`)
  const sender = parseMailbox(record.request.from)
  if (sender === null) {
    const err = new UnrecoverableError('the stored sender does not parse')
    return await recordFailure(job, deps, log, {
      messageId,
      claimToken,
      recipients: record.recipients,
      sending: {},
      err,
    })
  }

  const { snapshot, prepared } = deps.routing()
  const company = snapshot.companies.find((c) => c.id === record.request.companyId) ?? null
  const planned = planDelivery({
    sender,
    replyTo: record.request.replyTo,
    reference: record.request.reference,
    stream: record.stream,
    serverId: record.request.serverId,
    // A company deleted since acceptance: its mail uses the lowest-sequence alias domain.
    company,
    aliasDomains: snapshot.aliasDomains,
    settings: snapshot.settings,
    servers: snapshot.servers,
    prepared,
  })
  if (!planned.ok) {
    const err = new UnrecoverableError(
      planned.code === 'UNKNOWN_SERVER'
        ? `the requested server ${record.request.serverId ?? ''} no longer exists`
        : `the requested server ${record.request.serverId ?? ''} is not active`,
    )
    return await recordFailure(job, deps, log, {
      messageId,
      claimToken,
      recipients: record.recipients,
      sending: {},
      err,
    })
  }
  const { plan } = planned
  const sending = {
    serverId: plan.server?.id ?? DEFAULT_SERVER_ID,
    headerFrom: plan.headerFrom,
    envelopeFrom: plan.envelopeFrom,
    routing: plan.routing,
  }
  log.debug({ serverId: sending.serverId, step: plan.routing.step }, 'server chosen')
  // DOMAIN.md §7: a suppressed recipient is not mailed (checked again at send time).
  const waiting = record.recipients.filter((r) => r.status === 'pending' || r.status === 'deferred')
  const suppressed = await deps.bounces.suppressedAmong(
    waiting.map((r) => normalizeAddressText(r.address)),
  )
  const recipientsNow: Recipient[] = record.recipients.map((r) =>
    (r.status === 'pending' || r.status === 'deferred') &&
    suppressed.has(normalizeAddressText(r.address))
      ? {
          ...r,
          status: 'suppressed',
          smtpCode: null,
          enhancedCode: null,
          diagnostic: 'on the suppression list',
        }
      : r,
  )
  const pending = recipientsNow.filter((r) => r.status === 'pending' || r.status === 'deferred')
  if (pending.length === 0) {
    const detail = 'every recipient is on the suppression list'
    await deps.store.recordOutcome(
      messageId,
      claimToken,
      {
        status: 'suppressed',
        error: detail,
        recipients: recipientsNow,
        event: { type: 'suppressed', detail },
        ...sending,
      },
      deps.now(),
    )
    deps.metrics.outcome(record.stream, 'suppressed')
    log.info('every recipient is suppressed; not sent')
    return { kind: 'skipped', reason: 'suppressed' }
  }

  // DOMAIN.md §6: one unit per recipient handed over, reserved before the hand-over.
  const quota = await reserveDailyQuota(deps.quota, deps.quotaWindow, {
    serverId: sending.serverId,
    limit: plan.server === null ? snapshot.settings.defaultDailyLimit : plan.server.dailyLimit,
    stream: record.stream,
    reservePercent: snapshot.settings.transactionalReservePercent,
    timeZone: snapshot.settings.quotaTimezone,
    units: pending.length,
    now: deps.now(),
  })
  const serverName = plan.server?.name ?? 'the built-in default server'
  switch (quota.kind) {
    case 'too-large': {
      const err = new UnrecoverableError(
        `${quota.units} recipients exceed what this stream may send through ${serverName} in a day (${quota.cap})`,
      )
      return await recordFailure(job, deps, log, {
        messageId,
        claimToken,
        recipients: recipientsNow,
        sending,
        err,
      })
    }
    case 'over': {
      // Not a failure: the message waits for the window's reset and keeps its place.
      const detail = `the daily limit of ${serverName} is reached (${quota.used} of ${quota.limit}${
        quota.cap < quota.limit ? `, ${quota.cap} for mass mail` : ''
      }); it resets at ${quota.resetsAt.toISOString()}`
      await deps.store.recordOutcome(
        messageId,
        claimToken,
        {
          status: 'deferred',
          deferredUntil: quota.deferUntil,
          attempts: claim.attempts - 1,
          error: detail,
          event: { type: 'deferred', detail },
          ...sending,
        },
        deps.now(),
      )
      log.info(
        { serverId: sending.serverId, deferUntil: quota.deferUntil },
        'daily limit reached; deferred',
      )
      deps.metrics.outcome(record.stream, 'deferred')
      if (token === undefined) throw new Error('a job without a lock token cannot be delayed')
      await job.moveToDelayed(quota.deferUntil.getTime(), token)
      throw new DelayedError()
    }
    case 'reserved':
      if (quota.crossedWarning) {
        log.warn(
          { serverId: sending.serverId, used: quota.usedAfter, limit: quota.limit },
          '90 % of a daily limit used',
        )
        deps.metrics.quotaWarning(sending.serverId)
      }
      break
    case 'unlimited':
      break
  }
  // Units of recipients that were not handed over go back to the quota.
  const release = async (units: number) => {
    if (quota.kind === 'reserved') await deps.quota.releaseQuota(sending.serverId, quota.day, units)
  }

  let result: SendResult
  let dkim: DkimOutcome | undefined
  let warnings: string[] = []
  const started = process.hrtime.bigint()
  try {
    // Inside the try: whatever fails after the claim is recorded, never left as `sending`.
    const transport = deps.transports.forServer(plan.server)
    if (plan.server === null)
      sending.routing = {
        ...plan.routing,
        reason: `${plan.routing.reason} (${transport.description})`,
      }
    const rendered = await renderMessage({
      record,
      content,
      headerFrom: plan.headerFrom,
      replyTo: plan.replyTo,
      date: deps.now(),
    })
    warnings = await senderWarnings(deps, plan.headerFrom, snapshot.aliasDomains, sender)
    // Signed before the hand-over starts: the bytes are final before the commit gate.
    const signed = await deps.sign(
      rendered,
      addressOfHeader(plan.headerFrom),
      snapshot.aliasDomains,
      deps.now(),
    )
    const raw = signed.raw
    dkim = signed.dkim
    result = await transport.send({
      id: messageId,
      envelope: { from: sending.envelopeFrom, to: pending.map((r) => r.address) },
      raw,
      commit: () =>
        deps.store.commitHandoff(messageId, claimToken, deps.now(), {
          ...sending,
          dkim: signed.dkim,
        }),
    })
  } catch (err) {
    // Past the commit with no reply the server may have the message: its units stay counted.
    if (!(err instanceof AfterCommitError)) await release(pending.length)
    if (err instanceof HandoffRevokedError) {
      log.info('canceled or taken over before the hand-over; stopping')
      return { kind: 'skipped', reason: 'revoked' }
    }
    return await recordFailure(job, deps, log, {
      messageId,
      claimToken,
      recipients: recipientsNow,
      sending,
      err,
    })
  }

  deps.metrics.sendDuration(
    record.stream,
    sending.serverId,
    Number(process.hrtime.bigint() - started) / 1e9,
  )
  deps.metrics.smtpReply(sending.serverId, Number(/^\d{3}/.exec(result.response)?.[0] ?? 250))
  await release(pending.length - result.accepted.length)
  const recipients = applyResult(recipientsNow, result)
  const bouncedNow = recipients.filter(
    (r, i) => r.status === 'bounced' && recipientsNow[i]?.status !== 'bounced',
  )
  await recordBounces(
    deps.bounces,
    messageId,
    bouncedNow,
    failureOfRecipient,
    snapshot.settings,
    deps.now(),
  )
  const deferred = recipients.filter((r) => r.status === 'deferred')
  const anySent = recipients.some((r) => r.status === 'sent')
  if (deferred.length > 0) {
    // The accepted recipients are done; the next attempt goes only to the deferred ones.
    const err = new Error(`${deferred.length} recipient(s) temporarily refused`)
    return await recordFailure(job, deps, log, {
      messageId,
      claimToken,
      recipients,
      sending,
      err,
      smtpResponse: result.response,
      repliedPerRecipient: true,
    })
  }
  const outcome: Outcome = {
    status: anySent ? 'sent' : 'bounced',
    sentAt: deps.now(),
    deferredUntil: null,
    smtpResponse: result.response,
    error: anySent ? null : 'every recipient was refused',
    recipients,
    dkim,
    warnings,
    event: { type: anySent ? 'sent' : 'bounced', detail: result.response },
    ...sending,
  }
  if (!(await deps.store.recordOutcome(messageId, claimToken, outcome, deps.now()))) {
    log.warn('the outcome was not recorded: the claim changed after the hand-over')
  }
  deps.metrics.outcome(record.stream, outcome.status)
  log.info(
    { serverId: sending.serverId, status: outcome.status, recipients: pending.length },
    'message handed over',
  )
  return { kind: outcome.status === 'sent' ? 'sent' : 'bounced' }
}

/**
 * The wait before the next attempt: what the server asked for ("try again in 5 minutes"), else
 * the stream's retry schedule.
 */
export function nextRetryDelayMs(
  deps: Pick<DeliverDeps, 'routing'>,
  job: Pick<Job, 'queueName' | 'attemptsMade'>,
  err: unknown,
): number {
  const hint = retryHintSeconds(describe(err))
  if (hint !== null) return hint * 1000
  return retryDelayMs(retryScheduleOf(deps, job), job.attemptsMade + 1) ?? 0
}

/** The retry schedule (seconds) of the job's stream, from the settings. */
export function retryScheduleOf(
  deps: Pick<DeliverDeps, 'routing'>,
  job: Pick<Job, 'queueName'>,
): readonly number[] {
  const stream = STREAMS.find((name) => name === job.queueName) ?? 'transactional'
  return deps.routing().snapshot.settings.retrySchedule[stream]
}

type FailureContext = {
  messageId: string
  claimToken: string
  recipients: readonly Recipient[]
  sending: Partial<Pick<Outcome, 'serverId' | 'headerFrom' | 'envelopeFrom' | 'routing'>>
  err: unknown
  smtpResponse?: string
  /** The recipients already carry this attempt's replies (some were refused, none wholesale). */
  repliedPerRecipient?: boolean
}

/**
 * A failed attempt: permanent refusals bounce every pending recipient; temporary ones defer the
 * message and rethrow so BullMQ retries on the schedule; the last attempt fails the message.
 */
async function recordFailure(
  job: Job<DeliverJobData>,
  deps: DeliverDeps,
  log: Logger,
  {
    messageId,
    claimToken,
    recipients,
    sending,
    err,
    smtpResponse,
    repliedPerRecipient = false,
  }: FailureContext,
): Promise<never> {
  const reason = describe(err)
  const afterCommit =
    err instanceof AfterCommitError ? ' (the connection ended after the end of data)' : ''
  const maxAttempts = job.opts.attempts ?? 1
  const lastAttempt = job.attemptsMade + 1 >= maxAttempts
  // A server's permanent refusal bounces the recipients; our own unrecoverable error fails them.
  const refused = isPermanent(err)
  const unrecoverable = err instanceof UnrecoverableError
  const status = refused ? 'bounced' : lastAttempt || unrecoverable ? 'failed' : 'deferred'
  const recipientStatus = status
  const outcome: Outcome = {
    status,
    error: reason + afterCommit,
    recipients: repliedPerRecipient
      ? recipients.map((r) => (r.status === 'deferred' ? { ...r, status: recipientStatus } : r))
      : failRecipients(recipients, err, recipientStatus),
    event: { type: status, detail: reason + afterCommit },
    ...(smtpResponse === undefined ? {} : { smtpResponse }),
    ...sending,
  }
  // A refusal for good bounces the recipients; retries run out: they get a soft bounce (expired).
  if (status === 'bounced' || (status === 'failed' && !unrecoverable)) {
    const fresh = (outcome.recipients ?? []).filter(
      (r, i) =>
        (r.status === 'bounced' || r.status === 'failed') && recipients[i]?.status !== r.status,
    )
    const failureOf =
      status === 'bounced'
        ? failureOfRecipient
        : (r: Recipient) => ({
            smtpCode: r.smtpCode,
            enhancedCode: '4.4.7',
            text: r.diagnostic ?? reason,
            action: 'failed',
          })
    await recordBounces(
      deps.bounces,
      messageId,
      fresh,
      failureOf,
      deps.routing().snapshot.settings,
      deps.now(),
    )
  }
  if (status === 'deferred') {
    const delayMs = nextRetryDelayMs(deps, job, err)
    outcome.deferredUntil = new Date(deps.now().getTime() + delayMs)
    outcome.event.detail = `${reason}${afterCommit}; retry ${job.attemptsMade + 1} of ${maxAttempts - 1} at ${outcome.deferredUntil.toISOString()}`
  }
  await deps.store.recordOutcome(messageId, claimToken, outcome, deps.now())
  deps.metrics.outcome(job.queueName, status)
  if (sending.serverId !== undefined && !(err instanceof UnrecoverableError)) {
    const failure = asSmtpFailure(err instanceof AfterCommitError ? err.cause : err)
    deps.metrics.smtpReply(
      sending.serverId,
      typeof failure.responseCode === 'number' ? failure.responseCode : null,
    )
  }
  if (status === 'deferred') {
    // First attempts (priority 0) go before every retry (priority 1): retries never starve them.
    await job.changePriority({ priority: RETRY_PRIORITY })
    log.warn({ err: reason }, 'delivery failed temporarily; retry scheduled')
    throw err instanceof Error ? err : new Error(reason)
  }
  log.warn({ err: reason, status }, 'delivery failed for good')
  throw new UnrecoverableError(reason)
}
