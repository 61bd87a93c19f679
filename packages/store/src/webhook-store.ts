import type { Cluster, Redis } from 'ioredis'
import { Type, type Static } from 'typebox'
import { Compile } from 'typebox/compile'
import { parseStoredEvent, type StoredEvent } from './event-stream.js'
import { createKeys } from './keys.js'

/** How long attempts are logged: 30 days. */
const WEBHOOK_RETENTION_SECONDS = 30 * 24 * 3600
/**
 * How long an event's body is kept for its deliveries and replays: 7 days (the retry schedule
 * spans 43 hours). Bodies are the bulk of webhook memory: one per event with a subscriber.
 */
const EVENT_RETENTION_SECONDS = 7 * 24 * 3600
// The newest attempts an endpoint keeps, whatever their age: a bound on a failing endpoint's log.
const MAX_ATTEMPTS_PER_ENDPOINT = 10_000
// Attempts read at a time while filtering the log by status.
const PAGE = 200

export const ATTEMPT_STATUSES = ['succeeded', 'failed', 'pending'] as const
/** succeeded: a 2xx; pending: failed, another attempt follows; failed: failed, none follows. */
export type AttemptStatus = (typeof ATTEMPT_STATUSES)[number]

const WebhookAttemptSchema = Type.Object({
  eventId: Type.String(),
  type: Type.String(),
  attempt: Type.Integer(),
  status: Type.Enum(ATTEMPT_STATUSES),
  /** The endpoint's HTTP status; null when it did not reply (refused URL, timeout, no connection). */
  statusCode: Type.Union([Type.Integer(), Type.Null()]),
  durationMs: Type.Integer(),
  /** The first 1 KiB of the reply body. */
  response: Type.Union([Type.String(), Type.Null()]),
  /** Why there was no reply. */
  error: Type.Union([Type.String(), Type.Null()]),
  at: Type.String(),
})
/** One attempt to deliver one event to one endpoint, as the attempt log shows it. */
export type WebhookAttempt = Static<typeof WebhookAttemptSchema>
const attemptValidator = Compile(WebhookAttemptSchema)

function parseAttempt(json: string): WebhookAttempt | null {
  try {
    const value: unknown = JSON.parse(json)
    return attemptValidator.Check(value) ? value : null
  } catch {
    // A member this version cannot read is left out of the log, not an error for the listing.
    return null
  }
}

/** The events kept for webhook deliveries, each endpoint's attempt log and failure streak. */
export function createWebhookStore(redis: Redis | Cluster, prefix = 'outbound') {
  const keys = createKeys(prefix)

  return {
    /** Keeps an event for its deliveries, retries and replays (7 days). */
    async saveEvent(event: StoredEvent): Promise<void> {
      await redis.set(
        keys.webhookEvent(event.id),
        JSON.stringify(event),
        'EX',
        EVENT_RETENTION_SECONDS,
      )
    },

    /** The event kept under this id; null when there is none (or it expired). */
    async readEvent(eventId: string): Promise<StoredEvent | null> {
      const json = await redis.get(keys.webhookEvent(eventId))
      return json === null ? null : parseStoredEvent(json)
    },

    /**
     * Logs an attempt and keeps the endpoint's failure streak in the same step: a success ends
     * it, a failure starts it if none runs. Returns since when every delivery has failed (null
     * after a success).
     */
    async recordAttempt(endpointId: string, attempt: WebhookAttempt): Promise<Date | null> {
      const at = Date.parse(attempt.at)
      const log = keys.webhookAttempts(endpointId)
      const streak = keys.webhookFailingSince(endpointId)
      const transaction = redis
        .multi()
        .zadd(log, at, JSON.stringify(attempt))
        .zremrangebyscore(log, '-inf', at - WEBHOOK_RETENTION_SECONDS * 1000)
        .zremrangebyrank(log, 0, -MAX_ATTEMPTS_PER_ENDPOINT - 1)
        .expire(log, WEBHOOK_RETENTION_SECONDS)
      if (attempt.status === 'succeeded') transaction.del(streak)
      else transaction.set(streak, String(at), 'EX', WEBHOOK_RETENTION_SECONDS, 'NX')
      transaction.get(streak)
      const replies = await transaction.exec()
      if (replies === null) throw new Error(`logging a webhook attempt of ${endpointId}: aborted`)
      for (const [err] of replies)
        if (err) throw new Error(`logging a webhook attempt of ${endpointId}`, { cause: err })
      const since = replies.at(-1)?.[1]
      return typeof since === 'string' ? new Date(Number(since)) : null
    },

    /** The endpoint's attempts, newest first, optionally of one status only. */
    async listAttempts(
      endpointId: string,
      options: { status?: AttemptStatus; limit: number },
    ): Promise<WebhookAttempt[]> {
      const found: WebhookAttempt[] = []
      for (let start = 0; found.length < options.limit; start += PAGE) {
        const page = await redis.zrevrange(
          keys.webhookAttempts(endpointId),
          start,
          start + PAGE - 1,
        )
        for (const json of page) {
          const attempt = parseAttempt(json)
          if (attempt === null) continue
          if (options.status !== undefined && attempt.status !== options.status) continue
          found.push(attempt)
          if (found.length === options.limit) break
        }
        if (page.length < PAGE) break
      }
      return found
    },

    /** Forgets an endpoint's attempt log and failure streak (it was deleted). */
    async forgetEndpoint(endpointId: string): Promise<void> {
      await redis.del(keys.webhookAttempts(endpointId), keys.webhookFailingSince(endpointId))
    },
  }
}

export type WebhookStore = ReturnType<typeof createWebhookStore>
