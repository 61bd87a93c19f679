import { Type, type Static } from 'typebox'
import { Compile } from 'typebox/compile'

/** The two streams a message can travel on; each is one BullMQ queue of the same name. */
export const STREAMS = ['transactional', 'mass'] as const
export type Stream = (typeof STREAMS)[number]

export const DELIVER_JOB = 'deliver'

/** At most this many recipients' addresses travel in a deliver job (see `suppressionHint`). */
export const JOB_ADDRESSES_MAX = 100

export const DeliverJobDataSchema = Type.Object(
  {
    messageId: Type.String({ minLength: 1, maxLength: 64 }),
    /**
     * The recipients' addresses in comparison form and the list of list mail, when the message
     * has at most JOB_ADDRESSES_MAX recipients: the worker looks up their suppressions in the same
     * round trip as its claim. A hint only: the worker checks it against the record it claims, and
     * a job without it (added again by the sweeper, an older job) looks them up after the claim.
     */
    addresses: Type.Optional(
      Type.Array(Type.String({ minLength: 1, maxLength: 320 }), { maxItems: JOB_ADDRESSES_MAX }),
    ),
    list: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
  },
  // Fields it does not know are ignored, so a newer API's jobs still reach an older worker.
  { additionalProperties: true },
)
export type DeliverJobData = Static<typeof DeliverJobDataSchema>

const deliverJobDataValidator = Compile(DeliverJobDataSchema)

export function isDeliverJobData(value: unknown): value is DeliverJobData {
  return deliverJobDataValidator.Check(value)
}

/**
 * The BullMQ key prefix. The `{…}` hash tag puts every queue key in one Redis Cluster slot, which
 * BullMQ's Lua scripts require.
 */
export function queuePrefix(base = 'outbound'): string {
  return `${base}:{queues}`
}

// Retries follow a schedule of delays (seconds): about 24 hours in all, as MTAs do.
export const DEFAULT_RETRY_SCHEDULE_SECONDS: readonly number[] = [
  60, 300, 900, 3600, 10_800, 21_600, 43_200,
]

/**
 * Runs of a job that end in an unexpected error (Redis lost mid-attempt, a bug) before BullMQ gives
 * up on it. Delivery retries are not these: the worker records a deferred message and delays its
 * job itself, on the stream's schedule (the settings), without using them.
 */
const UNEXPECTED_ERROR_ATTEMPTS = 10

export type DeliverJobOptions = {
  jobId: string
  delay?: number
  attempts: number
  backoff: { type: 'exponential'; delay: number }
  removeOnComplete: { age: number; count: number }
  removeOnFail: { age: number }
}

/** Job options for a message: job id = message id, so adding it twice adds it once. */
export function deliverJobOptions(messageId: string, delayMs: number): DeliverJobOptions {
  return {
    jobId: messageId,
    ...(delayMs > 0 ? { delay: delayMs } : {}),
    attempts: UNEXPECTED_ERROR_ATTEMPTS,
    backoff: { type: 'exponential', delay: 5000 },
    // The message record is the history; finished jobs are kept a day for the dashboard.
    removeOnComplete: { age: 24 * 3600, count: 50_000 },
    removeOnFail: { age: 7 * 24 * 3600 },
  }
}
