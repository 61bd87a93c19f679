export {
  /** Every Redis key under a base; the only place keys are built. */
  createKeys,
  type Keys,
  /** How many hash-tag shards message data is spread over. */
  MESSAGE_SHARDS,
} from './keys.js'
export {
  type ClaimedMessage,
  CorruptRecordError,
  type DkimOutcome,
  FINAL_STATUSES,
  type Handoff,
  MESSAGE_STATUSES,
  type MessageContent,
  type MessageEvent,
  type MessageRecord,
  type MessageRequest,
  type MessageStatus,
  /** What every webhook email event says of its message. */
  messageSummary,
  type NewMessage,
  type RateSlot,
  type Recipient,
  type Routing,
} from './message-record.js'
export {
  type CancelResult,
  type ClaimResult,
  /** The message store over one Redis connection, every key under a prefix (default `outbound`). */
  createMessageStore,
  IDEMPOTENCY_TTL_SECONDS,
  type IdempotencyEntry,
  MESSAGE_RETENTION_SECONDS,
  type MessageStore,
  type Outcome,
  type RetryResult,
} from './message-store.js'
export {
  /** Message search over the per-shard indexes: newest first, filtered, a keyset cursor. */
  createMessageSearch,
  type MessageFilter,
  type MessageRow,
  type MessageSearch,
  type SearchPage,
  type SearchPosition,
} from './message-search.js'
export {
  /** The form a raw source is stored in: brotli when it saves a tenth, else as it is. */
  packRawSource,
} from './raw-source.js'
export {
  type AliasDomainRecord,
  type Company,
  type ConfigSnapshot,
  type ConfigStamp,
  DEFAULT_SETTINGS,
  DKIM_ALGORITHMS,
  type DkimKey,
  type OutgoingServer,
  type Security,
  SECURITIES,
  type Settings,
  type WebhookEndpoint,
} from './config-records.js'
export {
  type ConfigStore,
  type Change,
  /** Servers, alias domains, companies and settings; every write is one atomic checked step. */
  createConfigStore,
  type DeleteResult,
  type PutResult,
  type WriteResult,
  type WriteStatus,
} from './config-store.js'
export {
  type ConfigCache,
  /** A per-process configuration copy that follows changes within a second. */
  createConfigCache,
} from './config-cache.js'
export {
  /** Daily quota counters: an atomic reservation and release per server and day. */
  createQuotaStore,
  type QuotaStore,
  type Reservation,
} from './quota-store.js'
export {
  type BounceQuery,
  type BounceRecord,
  type BounceStore,
  BOUNCE_RETENTION_DAYS,
  /** Bounce records, address histories, late-bounce updates and the suppression list. */
  createBounceStore,
  type Suppression,
} from './bounce-store.js'
export {
  /** Servers' health, rate clocks, probes and connection leases, shared by every worker. */
  createServerStateStore,
  type ServerStateStore,
} from './server-state-store.js'
export {
  /** One-click unsubscribes: the list suppression and its event, once. */
  createUnsubscribeStore,
  type Unsubscribe,
  type UnsubscribeStore,
} from './unsubscribe-store.js'
export {
  /** Every shard's webhook event stream as the dispatchers' consumer group reads it. */
  createEventStream,
  type EventStream,
  type StoredEvent,
  type StreamEntry,
} from './event-stream.js'
export {
  ATTEMPT_STATUSES,
  type AttemptStatus,
  /** Kept webhook events, endpoint attempt logs and failure streaks. */
  createWebhookStore,
  type WebhookAttempt,
  type WebhookStore,
} from './webhook-store.js'
export {
  type ComplaintQuery,
  type ComplaintRecord,
  type ComplaintStore,
  /** Complaints from feedback loops: each stored, counted and announced in one step, once. */
  createComplaintStore,
} from './complaint-store.js'
export {
  type ComplaintCounts,
  /** Time-bucketed delivery counters (summed over shards on read) and complaint-rate levels. */
  createStatsStore,
  /** The server id of sandbox mail: not a configured server, left out of complaint rates. */
  SANDBOX_SERVER_ID,
  STAT_METRICS,
  type StatCounts,
  type StatMetric,
  type StatsBucket,
  type StatsInterval,
  type StatsQuery,
  type StatsStore,
} from './stats-store.js'
