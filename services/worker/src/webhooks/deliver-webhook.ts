import type { Job } from 'bullmq'
import type { Logger } from 'pino'
import { type WebhookJobData, webhookRetryDelayMs } from '@outbound/jobs'
import { openSecretWithAny } from '@outbound/secrets'
import type { AttemptStatus, ConfigStore, WebhookEndpoint, WebhookStore } from '@outbound/store'
import { activeSecrets, type SendResult, sendWebhook } from '@outbound/webhooks'

/** Success is a 2xx within this (CONTRACT.md, Webhooks). */
const WEBHOOK_TIMEOUT_MS = 10_000
/** An endpoint whose every delivery failed this long is turned off. */
const DISABLE_AFTER_FAILING_MS = 5 * 24 * 3600 * 1000

export type WebhookDeliveryDeps = {
  webhooks: WebhookStore
  configStore: ConfigStore
  /** The endpoints as configured now (the configuration cache). */
  endpoints: () => readonly WebhookEndpoint[]
  /** OUTBOUND_SECRET_KEY first, then the previous keys: they open the endpoint secrets. */
  secretKeys: readonly Buffer[]
  allowPrivateUrls: boolean
  /** WEBHOOK_RETRY_SCHEDULE: the delays between attempts (seconds). */
  retrySchedule: readonly number[]
  /** Counts an attempt by endpoint and result. */
  attempted: (endpointId: string, status: AttemptStatus) => void
  now: () => Date
  log: Logger
}

/** The secrets that sign a request now, opened: the current one, and rotated-out ones not expired. */
function signingSecrets(endpoint: WebhookEndpoint, keys: readonly Buffer[], at: Date): string[] {
  return activeSecrets(endpoint.secrets, at).map(({ sealed }) => openSecretWithAny(sealed, keys))
}

function describe(result: SendResult): string {
  return result.kind === 'replied' ? `HTTP ${result.statusCode}` : result.error
}

/**
 * One attempt to deliver one event to one endpoint: sent, logged, and on failure thrown so that
 * BullMQ retries it on the webhook schedule. A 410 Gone, or every delivery failing for 5 days,
 * turns the endpoint off instead. An endpoint deleted or turned off meanwhile gets nothing.
 */
export async function deliverWebhook(job: Job<WebhookJobData>, deps: WebhookDeliveryDeps) {
  const { eventId, endpointId } = job.data
  const log = deps.log.child({ jobId: job.id, eventId, endpointId, attempt: job.attemptsMade + 1 })
  const endpoint = deps.endpoints().find(({ id }) => id === endpointId)
  if (endpoint === undefined || !endpoint.active) {
    log.info('webhook endpoint deleted or inactive; delivery dropped')
    return
  }
  const event = await deps.webhooks.readEvent(eventId)
  if (event === null) {
    log.warn('webhook event no longer kept; delivery dropped')
    return
  }
  const at = deps.now()
  const result = await sendWebhook(endpoint.url, event, {
    secrets: signingSecrets(endpoint, deps.secretKeys, at),
    at,
    allowPrivate: deps.allowPrivateUrls,
    timeoutMs: WEBHOOK_TIMEOUT_MS,
  })
  const ok = result.kind === 'replied' && result.statusCode >= 200 && result.statusCode < 300
  const gone = result.kind === 'replied' && result.statusCode === 410
  const last =
    job.attemptsMade + 1 >= (job.opts.attempts ?? 1) ||
    webhookRetryDelayMs(job.attemptsMade + 1, deps.retrySchedule) < 0
  const status: AttemptStatus = ok ? 'succeeded' : gone || last ? 'failed' : 'pending'
  const failingSince = await deps.webhooks.recordAttempt(endpointId, {
    eventId,
    type: event.type,
    attempt: job.attemptsMade + 1,
    status,
    statusCode: result.kind === 'replied' ? result.statusCode : null,
    durationMs: result.durationMs,
    response: result.kind === 'replied' ? result.body : null,
    error: result.kind === 'replied' ? null : result.error,
    at: at.toISOString(),
  })
  deps.attempted(endpointId, status)
  if (ok) {
    log.info({ statusCode: result.statusCode, durationMs: result.durationMs }, 'webhook delivered')
    return
  }
  if (gone) return await disable(endpoint.id, 'the endpoint answered 410 Gone', at, deps, log)
  if (failingSince !== null && at.getTime() - failingSince.getTime() >= DISABLE_AFTER_FAILING_MS) {
    return await disable(endpoint.id, 'every delivery failed for 5 days', at, deps, log)
  }
  log.warn({ result: describe(result), last }, 'webhook delivery failed')
  throw new Error(`webhook delivery failed: ${describe(result)}`)
}

async function disable(
  id: string,
  reason: string,
  at: Date,
  deps: WebhookDeliveryDeps,
  log: Logger,
): Promise<void> {
  await deps.configStore.updateWebhook(id, (current) => ({
    ...current,
    active: false,
    disabledReason: reason,
    updatedAt: at.toISOString(),
  }))
  log.warn({ reason }, 'webhook endpoint disabled')
}
