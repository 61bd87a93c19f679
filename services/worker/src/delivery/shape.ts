import { parseRateLimit, rateParameters, serverAvailability } from '@outbound/quota'
import type { RateSlot } from '@outbound/store'
import { sendingFields } from './gate.js'
import type { Attempt, DeliverDeps, Sending, Verdict } from './types.js'

/** How long the first message to reach a down server's end of wait may probe it. */
const PROBE_LEASE_MS = 60_000
/** The longest a job woken before its booked slot sleeps for it (else it waits as a delayed job). */
const MAX_SLOT_SLEEP_MS = 1000
/** A booked slot this close is as good as now. */
const SLOT_SLACK_MS = 5

/** What shaping decided for this attempt on the chosen server. */
export type Shaped =
  | { kind: 'go' }
  /** The server is down (or another message probes it): fail over when the message may. */
  | { kind: 'unavailable'; why: string; until: Date }
  | { kind: 'wait'; until: Date; why: string; rateSlot?: RateSlot }

/** Whether mail for this server may leave through another while it is down (DOMAIN.md §8). */
export function mayFailOver(sending: Sending): boolean {
  const forced =
    sending.routing.step === 'forced-server' || sending.routing.step === 'mass-dedicated-server'
  return !forced && sending.server?.failover !== false
}

/**
 * Part of stage 3 (gate): the server's health and its rate limit, shared by every worker process
 * (DOMAIN.md §8). A throttled server's mail waits; a down server's mail fails over or waits, and
 * one message probes it once its wait is over; over the rate a message books its slot and waits
 * for it. Waiting is no attempt and holds no worker slot: the job is delayed.
 */
export async function shape(
  { message, token }: Attempt,
  sending: Sending,
  deps: Pick<DeliverDeps, 'serverStates' | 'shaping' | 'now'>,
): Promise<Shaped> {
  const { server } = sending
  if (server === null) return { kind: 'go' }
  const now = deps.now()
  const state = deps.serverStates.current(server.id)
  if (state !== null) {
    const availability = serverAvailability(state, now)
    const why = `${state.status} (${state.reason ?? 'no reason given'})`
    if (availability.kind === 'wait')
      return state.status === 'down'
        ? { kind: 'unavailable', why, until: availability.until }
        : { kind: 'wait', until: availability.until, why: `${server.name} is ${why}` }
    if (
      availability.kind === 'probe' &&
      !(await deps.shaping.takeProbe(server.id, token, PROBE_LEASE_MS))
    ) {
      // Another message took the probe, or it already brought the server back (this process's
      // copy of the state is up to a second old): ask Redis before failing over.
      const fresh = (await deps.shaping.readServerStates([server.id])).get(server.id)
      if (fresh !== undefined && fresh.status !== 'ok')
        return {
          kind: 'unavailable',
          why: `${why}, being probed`,
          until: new Date(now.getTime() + 5000),
        }
    }
  }
  const rate = server.rateLimit == null ? null : parseRateLimit(server.rateLimit)
  if (rate === null || server.rateLimit == null) return { kind: 'go' }
  const epoch = server.rateLimit
  const booked = message.rateSlot
  if (booked !== null && booked.serverId === server.id && booked.epoch === epoch) {
    // A delayed job may be promoted a little early (BullMQ promotes what is due in batches):
    // keep to the booked slot, so that the mail stays spread evenly.
    const early = booked.at - now.getTime()
    if (early > 0)
      await new Promise((resolve) => setTimeout(resolve, Math.min(early, MAX_SLOT_SLEEP_MS)))
    return { kind: 'go' }
  }
  const units = message.recipients.filter(
    (r) => r.status === 'pending' || r.status === 'deferred',
  ).length
  const { intervalMs, toleranceMs } = rateParameters(rate)
  const slot = await deps.shaping.bookRate(server.id, {
    units: Math.max(1, units),
    intervalMs,
    toleranceMs,
    epoch,
  })
  const waitMs = slot.sendAt - slot.now
  if (waitMs <= SLOT_SLACK_MS) return { kind: 'go' }
  return {
    kind: 'wait',
    until: new Date(now.getTime() + waitMs),
    why: `the rate limit of ${server.name} (${epoch})`,
    rateSlot: { serverId: server.id, at: now.getTime() + waitMs, epoch },
  }
}

/** Records a wait for the server (status `queued`, no attempt used) and says how to wait. */
export async function recordWait(
  { message, token, log }: Attempt,
  sending: Sending | null,
  wait: { until: Date; why: string; rateSlot?: RateSlot },
  deps: Pick<DeliverDeps, 'store' | 'now'>,
): Promise<Verdict> {
  const detail = `waiting for ${wait.why} until ${wait.until.toISOString()}`
  await deps.store.recordOutcome(
    message.id,
    token,
    {
      status: 'queued',
      deferredUntil: wait.until,
      attempts: message.attempts - 1,
      event: { type: 'waiting', detail },
      ...(wait.rateSlot === undefined ? {} : { rateSlot: wait.rateSlot }),
      ...(sending === null ? {} : sendingFields(sending)),
    },
    deps.now(),
  )
  log.debug({ until: wait.until, why: wait.why }, 'waiting for the server')
  return { kind: 'wait', until: wait.until, retry: false }
}

/**
 * The pacing of a rate-limited server at the wire: once a connection is in hand, the message books
 * the server's wire clock and sleeps until its slot (never longer than a second), so that mail
 * delayed on its way (a connection that came free late) does not leave in a bunch.
 */
export function wirePacing(
  sending: Sending,
  deps: Pick<DeliverDeps, 'shaping'>,
  units: number,
): (() => Promise<void>) | undefined {
  const { server } = sending
  const rate = server?.rateLimit == null ? null : parseRateLimit(server.rateLimit)
  if (server === null || rate === null || server.rateLimit == null) return undefined
  const epoch = server.rateLimit
  return async () => {
    // At the wire a message may catch up one slot, not a whole burst: the gate's clock gives the
    // burst, so that no second sees more than the rate plus its burst.
    const { intervalMs } = rateParameters(rate)
    const slot = await deps.shaping.bookRate(
      server.id,
      { units: Math.max(1, units), intervalMs, toleranceMs: intervalMs, epoch },
      'wire',
    )
    const waitMs = Math.min(slot.sendAt - slot.now, MAX_SLOT_SLEEP_MS)
    if (waitMs > 0) await new Promise((resolve) => setTimeout(resolve, waitMs))
  }
}
