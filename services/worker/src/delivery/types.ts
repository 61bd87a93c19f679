import type { Logger } from 'pino'
import type { AttemptOutcome } from '@outbound/bounce'
import type { WebhookEvent } from '@outbound/jobs'
import type { QuotaWindow } from '@outbound/quota'
import type {
  BounceStore,
  ClaimedMessage,
  ComplaintStore,
  MessageStore,
  OutgoingServer,
  QuotaStore,
  Recipient,
  Routing,
  ServerStateStore,
} from '@outbound/store'
import type { DeliveryMetrics } from '../metrics.js'
import type { ServerStates } from '../server-states.js'
import type { RoutingContext } from '../routing-context.js'
import type { Signer } from '../sign-message.js'
import type { ListUnsubscribeSettings } from '../list-headers.js'
import type { DmarcPolicyOf } from '../dmarc-policies.js'
import type { MessageTransport } from '../transports/message-transport.js'
import type { TransportRegistry } from '../transports/transport-registry.js'

export type DeliverDeps = {
  store: MessageStore
  /**
   * The store over the BullMQ worker's own connection, given when Redis is a single server: an
   * attempt's outcome then leaves just ahead of its job's move, in one round trip (settle.ts).
   */
  orderedStore?: Pick<MessageStore, 'recordOutcome'>
  /** The transport of each server, and of the built-in default server (SMTP_URL or the outbox). */
  transports: TransportRegistry
  /** The file outbox a sandbox key's mail is written to, whatever server the routing chose. */
  sandboxOutbox: MessageTransport
  /** The configuration the waterfall reads (a cached snapshot: no Redis read per message). */
  routing: () => RoutingContext
  quota: QuotaStore
  quotaWindow: (at: Date, timeZone: string) => QuotaWindow
  bounces: BounceStore
  /** Complaints (the sandbox's `complaint@simulator.test` records one). */
  complaints: ComplaintStore
  /** DKIM signing with the alias domains' keys. */
  sign: Signer
  /** PUBLIC_URL and the token key, for the one-click unsubscribe links of mass mail. */
  listUnsubscribe: ListUnsubscribeSettings
  /** DMARC policies of sender domains, for the deliverability warnings. */
  dmarcPolicy: DmarcPolicyOf
  metrics: DeliveryMetrics
  /** Every server's health, as all worker processes share it. */
  serverStates: ServerStates
  /** Servers' rate clocks and probes. */
  shaping: ServerStateStore
  now: () => Date
  /** A new webhook event id (`evt_…`). */
  newEventId: () => string
  /** Appends an event that reports no message outcome (quota warnings) to the event stream. */
  appendEvent: (event: WebhookEvent) => Promise<void>
  /** How long the bytes of a hand-over are kept for GET /v1/emails/:id/raw; 0 or absent: not kept. */
  rawRetentionMs?: number
  log: Logger
}

/** What a job ended with, for logs and tests. */
export type DeliverResult =
  { kind: 'sent' | 'bounced' | 'failed' | 'deferred' } | { kind: 'skipped'; reason: string }

/**
 * What the orchestrator does next when a stage has the last word: the job is done; it waits (a
 * quota window, a retry, another attempt's commit) without using an attempt; or it failed for good
 * (the record already says why).
 */
export type Verdict =
  | { kind: 'done'; result: DeliverResult }
  | { kind: 'wait'; until: Date; retry: boolean }
  | { kind: 'fail'; reason: string }

/** An attempt that ended before or during the hand-over: settle records it. */
export type Ended = {
  kind: 'ended'
  outcome: AttemptOutcome
  afterCommit: boolean
  /** The SMTP command a failed transaction failed at (`CONN`, `RCPT TO` …), when known. */
  command?: string | null
  /** The attempt failed here, before any talk with the server: it says nothing of its health. */
  local?: boolean
}

/** The message as this attempt holds it. */
export type Attempt = {
  message: ClaimedMessage
  /** The claim token: only its holder may commit or record an outcome. */
  token: string
  log: Logger
}

/** How the message is sent: the server (null: the built-in default) and what goes on the wire. */
export type Sending = {
  server: OutgoingServer | null
  serverId: string
  headerFrom: string
  envelopeFrom: string
  replyTo: string
  routing: Routing
  sender: { address: string; domain: string }
}

/** The recipients after the gate, and the daily-quota units it reserved for them. */
export type Gated = {
  recipients: Recipient[]
  /** The recipients this attempt hands over. */
  pending: Recipient[]
  /** Units reserved against the server's day (0 when unlimited), released by settle if unused. */
  reserved: { day: string; units: number } | null
}

/** The id of the built-in default server in records and metrics. */
export const DEFAULT_SERVER_ID = 'default'

/** BullMQ priority of a retried job: first attempts keep the default 0, which BullMQ takes first. */
export const RETRY_PRIORITY = 1

export const isWaiting = (recipient: Pick<Recipient, 'status'>) =>
  recipient.status === 'pending' || recipient.status === 'deferred'
