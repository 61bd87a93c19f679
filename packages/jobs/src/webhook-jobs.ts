/** The queue of webhook deliveries: one job per event and endpoint, apart from mail. */
export const WEBHOOKS_QUEUE = 'webhooks'

/** The BullMQ backoff type whose delays are the webhook retry schedule. */
export const WEBHOOK_BACKOFF = 'webhook-schedule'

/** Delays before the 2nd, 3rd, … attempt (seconds): 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h. */
export const DEFAULT_WEBHOOK_RETRY_SCHEDULE_SECONDS: readonly number[] = [
  5, 300, 1800, 7200, 18_000, 36_000, 36_000,
]

export type WebhookJobData = { eventId: string; endpointId: string }

export function isWebhookJobData(value: unknown): value is WebhookJobData {
  return (
    typeof value === 'object' &&
    value !== null &&
    'eventId' in value &&
    typeof value.eventId === 'string' &&
    'endpointId' in value &&
    typeof value.endpointId === 'string'
  )
}

export type WebhookJobOptions = {
  jobId: string
  attempts: number
  backoff: { type: typeof WEBHOOK_BACKOFF }
  removeOnComplete: { age: number }
  removeOnFail: { age: number }
}

/**
 * The options of one delivery of an event to an endpoint. The job id is `<eventId>.<endpointId>`
 * (BullMQ refuses `:` in ids), so dispatching an event twice adds its delivery once; a replay
 * passes a `replay` suffix of its own.
 */
export function webhookJobOptions(
  eventId: string,
  endpointId: string,
  retrySchedule: readonly number[],
  replay?: string,
): WebhookJobOptions {
  return {
    jobId: `${eventId}.${endpointId}${replay === undefined ? '' : `.${replay}`}`,
    attempts: retrySchedule.length + 1,
    backoff: { type: WEBHOOK_BACKOFF },
    // Kept a day: a dispatcher that re-reads an event within that finds the job and adds nothing.
    removeOnComplete: { age: 24 * 3600 },
    removeOnFail: { age: 7 * 24 * 3600 },
  }
}

/** The delay (ms) before the attempt after `attemptsMade` failed ones; -1 when none is left. */
export function webhookRetryDelayMs(
  attemptsMade: number,
  retrySchedule: readonly number[],
): number {
  const seconds = retrySchedule[attemptsMade - 1]
  return seconds === undefined ? -1 : seconds * 1000
}
