export {
  /** Retry delays in seconds used when no schedule is configured. */
  DEFAULT_RETRY_SCHEDULE_SECONDS,
  DELIVER_JOB,
  type DeliverJobData,
  DeliverJobDataSchema,
  type DeliverJobOptions,
  /** The options of a message's deliver job; job id = message id. */
  deliverJobOptions,
  /** True when a job payload is a well-formed deliver payload. */
  isDeliverJobData,
  /** At most this many addresses travel in a deliver job's suppression hint. */
  JOB_ADDRESSES_MAX,
  /** The hash-tagged BullMQ prefix for a key base (default `outbound`). */
  queuePrefix,
  type Stream,
  STREAMS,
} from './queues.js'
export {
  /** Every event type a webhook endpoint can subscribe to. */
  EVENT_TYPES,
  type EventType,
  type MessageSummary,
  type QuotaWarning,
  /** A `quota.warning` event: 90 % of a server's daily limit used. */
  quotaWarningEvent,
  /** A message event (sent, deferred, failed, suppressed, canceled) with its recipients. */
  messageEvent,
  type RecipientFact,
  /** A recipient event (bounced, complained, unsubscribed). */
  recipientEvent,
  type ReputationWarning,
  /** A `reputation.warning` event: a server's 24 h complaint rate reached 0.1 % or 0.3 %. */
  reputationWarningEvent,
  type WebhookEvent,
} from './events.js'
export {
  /** Retry delays (seconds) of webhook deliveries when none are configured. */
  DEFAULT_WEBHOOK_RETRY_SCHEDULE_SECONDS,
  /** True when a job payload names an event and an endpoint. */
  isWebhookJobData,
  WEBHOOK_BACKOFF,
  type WebhookJobData,
  type WebhookJobOptions,
  /** The options of one delivery of an event to an endpoint (job id `<eventId>.<endpointId>`). */
  webhookJobOptions,
  /** The delay before the next webhook attempt, from the schedule; -1 when none is left. */
  webhookRetryDelayMs,
  WEBHOOKS_QUEUE,
} from './webhook-jobs.js'
