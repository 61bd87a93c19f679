import { normalizeAddressText } from '@outbound/address'
import { limitInForce } from '@outbound/quota'
import { type DeliverJobData, quotaWarningEvent } from '@outbound/jobs'
import type { BounceStore, Outcome, Recipient, Suppression } from '@outbound/store'
import { reserveDailyQuota } from './daily-quota.js'
import { outcomeCounts } from './counts.js'
import { outcomeEvents } from './events.js'
import { sandboxSuppressions } from './sandbox.js'
import {
  type Attempt,
  type DeliverDeps,
  type Ended,
  type Gated,
  isWaiting,
  type Sending,
  type Verdict,
} from './types.js'

/** A recipient's diagnostic when a list unsubscribe stops it (the API writes the same words). */
const unsubscribedFrom = (list: string) => `unsubscribed from the list ${list}`

/** The record fields that say how a message is (to be) sent. */
export function sendingFields(sending: Sending) {
  return {
    serverId: sending.serverId,
    headerFrom: sending.headerFrom,
    envelopeFrom: sending.envelopeFrom,
    replyTo: sending.replyTo,
    routing: sending.routing,
  } satisfies Partial<Outcome>
}

/**
 * Gives back the daily-quota units of recipients that were not handed over. The one place units
 * return: settle after an attempt, the orchestrator when an attempt was revoked.
 */
export async function releaseUnused(
  quota: DeliverDeps['quota'],
  serverId: string,
  gated: Gated,
  used: number,
): Promise<void> {
  if (gated.reserved === null) return
  const unused = gated.reserved.units - used
  if (unused > 0) await quota.releaseQuota(serverId, gated.reserved.day, unused)
}

/** The suppressions looked up with the claim, from the job's hint (DeliverJobData). */
export type EarlySuppressions = {
  list: string | null
  found: Promise<ReadonlyMap<string, Suppression | null>>
}

/**
 * Starts the look-up of the suppressions of the addresses a job names; called in the same tick as
 * the claim, so that both leave in one write (one round trip). Null for a job without the hint.
 */
export function lookUpEarly(
  data: DeliverJobData,
  bounces: Pick<BounceStore, 'matchSuppressions'>,
): EarlySuppressions | null {
  const { addresses } = data
  if (addresses === undefined || addresses.length === 0) return null
  const list = data.list ?? null
  const found = bounces
    .matchSuppressions(addresses.map((address) => ({ address, list })))
    .then((matches) => new Map(addresses.map((address, i) => [address, matches[i] ?? null])))
  // Awaited by the gate; an attempt that ends before the gate leaves it unread.
  found.catch(() => undefined)
  return { list, found }
}

/**
 * The suppression of each address: from the early look-up when it covered them all for the same
 * list (it is a hint; the record decides who waits), else looked up now.
 */
async function suppressionsOf(
  addresses: readonly string[],
  list: string | null,
  early: EarlySuppressions | null,
  bounces: Pick<BounceStore, 'matchSuppressions'>,
): Promise<(Suppression | null)[]> {
  if (early !== null && early.list === list) {
    const known = await early.found
    if (addresses.every((address) => known.has(address)))
      return addresses.map((address) => known.get(address) ?? null)
  }
  return await bounces.matchSuppressions(addresses.map((address) => ({ address, list })))
}

/**
 * Stage 3: what may go out now. Suppressed recipients are dropped (DOMAIN.md §7: checked again at
 * send time); the daily quota is reserved, one unit per recipient (§6). Every recipient
 * suppressed ends the message; a full day makes it wait for the next window, as no attempt.
 */
export async function gate(
  { message, token, log }: Attempt,
  sending: Sending,
  deps: Pick<
    DeliverDeps,
    | 'store'
    | 'bounces'
    | 'quota'
    | 'quotaWindow'
    | 'routing'
    | 'metrics'
    | 'now'
    | 'newEventId'
    | 'appendEvent'
  >,
  early: EarlySuppressions | null = null,
): Promise<{ kind: 'gated'; gated: Gated } | Verdict | Ended> {
  const waiting = message.recipients.filter(isWaiting)
  const { settings } = deps.routing().snapshot
  // Mass mail of a list is stopped by that list's unsubscribes too (DOMAIN.md §9).
  const list = message.stream === 'mass' ? (message.request.list ?? null) : null
  const addresses = waiting.map((r) => normalizeAddressText(r.address))
  const [found, quota] = await Promise.all([
    suppressionsOf(addresses, list, early, deps.bounces),
    reserveDailyQuota(deps.quota, deps.quotaWindow, {
      serverId: sending.serverId,
      // A warm-up schedule's limit for today, else the server's daily limit (DOMAIN.md §8).
      limit: message.sandbox
        ? null
        : sending.server === null
          ? settings.defaultDailyLimit
          : limitInForce(sending.server, deps.now(), settings.quotaTimezone),
      stream: message.stream,
      reservePercent: settings.transactionalReservePercent,
      timeZone: settings.quotaTimezone,
      // Reserved for every waiting recipient; the suppressed ones are given back below.
      units: waiting.length,
      now: deps.now(),
      waitingMember: `${message.stream}:${message.id}`,
    }),
  ])
  // A sandbox message's simulator addresses act out their outcome whatever the list says.
  const matches: ({ list?: string | null } | null)[] = message.sandbox
    ? sandboxSuppressions<{ list?: string | null }>(addresses, found, { list: null })
    : found
  const suppressed = new Map(waiting.map((r, i) => [r, matches[i] ?? null]))
  const recipients: Recipient[] = message.recipients.map((r) => {
    const entry = suppressed.get(r) ?? null
    return entry === null
      ? r
      : {
          ...r,
          status: 'suppressed',
          smtpCode: null,
          enhancedCode: null,
          diagnostic:
            (entry.list ?? null) === null
              ? 'on the suppression list'
              : unsubscribedFrom(entry.list ?? ''),
        }
  })
  const pending = recipients.filter(isWaiting)
  const serverName = sending.server?.name ?? 'the built-in default server'
  const giveBack = async (units: number) => {
    if (quota.kind === 'reserved' && units > 0)
      await deps.quota.releaseQuota(sending.serverId, quota.day, units)
  }

  if (pending.length === 0) {
    await giveBack(waiting.length)
    // Suppressed here or at the door (the API marks recipients it already knows are suppressed).
    const unsubscribed =
      list !== null &&
      recipients.some((r) => r.diagnostic === unsubscribedFrom(list)) &&
      recipients.every((r) => r.status !== 'suppressed' || r.diagnostic === unsubscribedFrom(list))
    const detail = unsubscribed
      ? `unsubscribed: every recipient left the list ${list}`
      : 'every recipient is on the suppression list'
    await deps.store.recordOutcome(
      message.id,
      token,
      {
        status: 'suppressed',
        error: detail,
        recipients,
        event: { type: 'suppressed', detail },
        ...sendingFields(sending),
        counts: outcomeCounts(message.recipients, recipients),
        webhookEvents: outcomeEvents({
          newId: deps.newEventId,
          at: deps.now(),
          message,
          serverId: sending.serverId,
          status: 'suppressed',
          recipients,
        }),
      },
      deps.now(),
    )
    deps.metrics.outcome(message.stream, 'suppressed')
    log.info('every recipient is suppressed; not sent')
    return { kind: 'done', result: { kind: 'skipped', reason: 'suppressed' } }
  }

  switch (quota.kind) {
    case 'too-large':
      return {
        kind: 'ended',
        outcome: {
          kind: 'failed',
          cause: 'ours',
          code: null,
          response: `${quota.units} recipients exceed what this stream may send through ${serverName} in a day (${quota.cap})`,
        },
        afterCommit: false,
      }
    case 'over': {
      // Not a failure: the message waits for the window's reset and keeps its place.
      const detail = `the daily limit of ${serverName} is reached (${quota.used} of ${quota.limit}${
        quota.cap < quota.limit ? `, ${quota.cap} for mass mail` : ''
      }); it resets at ${quota.resetsAt.toISOString()}`
      await deps.store.recordOutcome(
        message.id,
        token,
        {
          status: 'deferred',
          deferredUntil: quota.deferUntil,
          // The claim counted an attempt; a quota wait is none.
          attempts: message.attempts - 1,
          error: detail,
          event: { type: 'deferred', detail },
          ...sendingFields(sending),
          webhookEvents: outcomeEvents({
            newId: deps.newEventId,
            at: deps.now(),
            message,
            serverId: sending.serverId,
            status: 'deferred',
            recipients: message.recipients,
          }),
        },
        deps.now(),
      )
      log.info(
        { serverId: sending.serverId, deferUntil: quota.deferUntil },
        'daily limit reached; deferred',
      )
      deps.metrics.outcome(message.stream, 'deferred')
      return { kind: 'wait', until: quota.deferUntil, retry: false }
    }
    case 'reserved':
      if (quota.crossedWarning) {
        log.warn(
          { serverId: sending.serverId, used: quota.usedAfter, limit: quota.limit },
          '90 % of a daily limit used',
        )
        deps.metrics.quotaWarning(sending.serverId)
        // Not part of the reservation's step: a warning lost to a crash here is acceptable.
        await deps
          .appendEvent(
            quotaWarningEvent(deps.newEventId(), deps.now(), {
              serverId: sending.serverId,
              day: quota.day,
              used: quota.usedAfter,
              limit: quota.limit,
            }),
          )
          .catch((err: unknown) => log.warn({ err }, 'quota warning event not written'))
      }
      await giveBack(waiting.length - pending.length)
      return {
        kind: 'gated',
        gated: { recipients, pending, reserved: { day: quota.day, units: pending.length } },
      }
    case 'unlimited':
      return { kind: 'gated', gated: { recipients, pending, reserved: null } }
  }
}
