import { DelayedError, type Job, UnrecoverableError } from 'bullmq'
import { type DeliverJobData, isDeliverJobData } from '@outbound/jobs'
import { claim } from './claim.js'
import { gate, lookUpEarly, releaseUnused } from './gate.js'
import { failedOutcome, handOver } from './hand-over.js'
import { plan } from './plan.js'
import { render } from './render.js'
import { actOutComplaints, sandboxSending, transportOf } from './sandbox.js'
import { settle } from './settle.js'
import { mayFailOver, recordWait, shape, wirePacing } from './shape.js'
import {
  type DeliverDeps,
  type DeliverResult,
  type Ended,
  RETRY_PRIORITY,
  type Sending,
  type Verdict,
} from './types.js'

/** Carries out a verdict on the job: done, wait (no attempt used), or failed for good. */
async function act(
  job: Job<DeliverJobData>,
  token: string | undefined,
  verdict: Verdict,
): Promise<DeliverResult> {
  switch (verdict.kind) {
    case 'done':
      return verdict.result
    case 'wait':
      if (token === undefined) throw new Error('a job without a lock token cannot wait')
      // First attempts (priority 0) go before every retry (priority 1): retries never starve them.
      if (verdict.retry && job.priority !== RETRY_PRIORITY)
        await job.changePriority({ priority: RETRY_PRIORITY })
      await job.moveToDelayed(verdict.until.getTime(), token)
      throw new DelayedError()
    case 'fail':
      throw new UnrecoverableError(verdict.reason)
  }
}

/**
 * Delivers one message: claim → plan → gate → render and sign → hand over → settle (each a stage
 * of its own file). Exactly-once rests on the store: an attempt claims the message, and the end of
 * DATA is written only after the claim is committed; a redelivered job (crash, stall) finds the
 * message final, committing (never sent again), or still connecting (safe to retry).
 */
export async function deliver(
  job: Job<DeliverJobData>,
  token: string | undefined,
  deps: DeliverDeps,
): Promise<DeliverResult> {
  if (!isDeliverJobData(job.data))
    throw new UnrecoverableError('the job payload is not { messageId }')
  const { messageId } = job.data
  const log = deps.log.child({ jobId: job.id, messageId, pool: job.queueName })
  const claimToken = token ?? `${job.id ?? messageId}:${Date.now()}`

  // The job names its recipients: their suppressions are read in the claim's round trip.
  const early = lookUpEarly(job.data, deps.bounces)
  const claimed = await claim(messageId, claimToken, deps, log)
  if (claimed.kind !== 'claimed') return await act(job, token, claimed)
  const attempt = {
    ...claimed.attempt,
    log: log.child({ attempt: claimed.attempt.message.attempts }),
  }

  const context = deps.routing()
  const now = deps.now()
  // Failover (DOMAIN.md §8): down servers that allow it are left out of the waterfall.
  const excluded = new Map<string, string>()
  let earliest: Date | null = null
  for (const server of context.snapshot.servers) {
    // Sandbox mail is never handed to a server: no server's health matters to it.
    if (attempt.message.sandbox) break
    const state = deps.serverStates.current(server.id)
    if (state?.status !== 'down' || server.failover === false) continue
    const until = new Date(state.until ?? 0)
    if (until <= now) continue
    excluded.set(server.id, `down (${state.reason ?? 'unreachable'}) until ${until.toISOString()}`)
    if (earliest === null || until < earliest) earliest = until
  }
  let sending: Sending
  for (;;) {
    const planned = plan(attempt, context, excluded, now)
    if (planned.kind === 'no-server') {
      const until = earliest ?? new Date(now.getTime() + 30_000)
      const wait = { until, why: 'a server: every server is down' }
      return await act(job, token, await recordWait(attempt, null, wait, deps))
    }
    if (planned.kind !== 'planned')
      return await act(job, token, await settle(attempt, planned, noContext, deps))
    if (attempt.message.sandbox) {
      sending = sandboxSending(planned.sending)
      break
    }
    const shaped = await shape(attempt, planned.sending, deps)
    if (shaped.kind === 'go') {
      sending = planned.sending
      break
    }
    const server = planned.sending.server
    if (shaped.kind === 'unavailable' && server !== null && mayFailOver(planned.sending)) {
      excluded.set(server.id, shaped.why)
      if (earliest === null || shaped.until < earliest) earliest = shaped.until
      continue
    }
    const wait =
      shaped.kind === 'wait'
        ? shaped
        : { until: shaped.until, why: `${server?.name ?? 'the server'}, ${shaped.why}` }
    return await act(job, token, await recordWait(attempt, planned.sending, wait, deps))
  }

  const gated = await gate(attempt, sending, deps, early)
  if (gated.kind === 'ended')
    return await act(job, token, await settle(attempt, gated, { ...noContext, sending }, deps))
  if (gated.kind !== 'gated') return await act(job, token, gated)

  const started = process.hrtime.bigint()
  let ended: Ended | { kind: 'revoked' }
  let rendered = null
  try {
    const transport = transportOf(attempt, sending, deps)
    if (sending.server === null)
      sending.routing = {
        ...sending.routing,
        reason: `${sending.routing.reason} (${transport.description})`,
      }
    rendered = await render(attempt, sending, context.snapshot.aliasDomains, deps)
    ended = await handOver(
      attempt,
      sending,
      gated.gated,
      rendered,
      transport,
      deps,
      wirePacing(sending, deps, gated.gated.pending.length),
    )
  } catch (err) {
    // Whatever fails after the claim is recorded (a password that does not open, a signing
    // error), never left as `sending`; it is temporary: the configuration can be mended.
    ended = { ...failedOutcome(err), local: true }
  }
  if (ended.kind === 'revoked') {
    log.info('canceled or taken over before the hand-over; stopping')
    await releaseUnused(deps.quota, sending.serverId, gated.gated, 0)
    return { kind: 'skipped', reason: 'revoked' }
  }
  deps.metrics.sendDuration(
    attempt.message.stream,
    sending.serverId,
    Number(process.hrtime.bigint() - started) / 1e9,
  )
  const verdict = await settle(attempt, ended, { sending, gated: gated.gated, rendered }, deps)
  await actOutComplaints(attempt, ended, deps)
  return await act(job, token, verdict)
}

const noContext = { sending: null, gated: null, rendered: null }
