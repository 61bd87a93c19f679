import { DelayedError, type Job, UnrecoverableError } from 'bullmq'
import { type DeliverJobData, isDeliverJobData } from '@outbound/jobs'
import { claim } from './claim.js'
import { gate, releaseUnused } from './gate.js'
import { failedOutcome, handOver } from './hand-over.js'
import { plan } from './plan.js'
import { render } from './render.js'
import { settle } from './settle.js'
import {
  type DeliverDeps,
  type DeliverResult,
  type Ended,
  RETRY_PRIORITY,
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

  const claimed = await claim(messageId, claimToken, deps, log)
  if (claimed.kind !== 'claimed') return await act(job, token, claimed)
  const attempt = {
    ...claimed.attempt,
    log: log.child({ attempt: claimed.attempt.message.attempts }),
  }

  const context = deps.routing()
  const planned = plan(attempt, context)
  if (planned.kind !== 'planned')
    return await act(job, token, await settle(attempt, planned, noContext, deps))
  const { sending } = planned

  const gated = await gate(attempt, sending, deps)
  if (gated.kind === 'ended')
    return await act(job, token, await settle(attempt, gated, { ...noContext, sending }, deps))
  if (gated.kind !== 'gated') return await act(job, token, gated)

  const started = process.hrtime.bigint()
  let ended: Ended | { kind: 'revoked' }
  let rendered = null
  try {
    const transport = deps.transports.forServer(sending.server)
    if (sending.server === null)
      sending.routing = {
        ...sending.routing,
        reason: `${sending.routing.reason} (${transport.description})`,
      }
    rendered = await render(attempt, sending, context.snapshot.aliasDomains, deps)
    ended = await handOver(attempt, sending, gated.gated, rendered, transport, deps)
  } catch (err) {
    // Whatever fails after the claim is recorded (a password that does not open, a signing
    // error), never left as `sending`; it is temporary: the configuration can be mended.
    ended = failedOutcome(err)
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
  return await act(
    job,
    token,
    await settle(attempt, ended, { sending, gated: gated.gated, rendered }, deps),
  )
}

const noContext = { sending: null, gated: null, rendered: null }
