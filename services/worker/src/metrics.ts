import { createServer, type Server } from 'node:http'
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client'

/** What a worker counts as it delivers. */
export type DeliveryMetrics = {
  /** A recorded outcome: sent, bounced, failed or deferred. */
  outcome(stream: string, status: string): void
  /** The server's reply to a transaction (null: no reply, e.g. a refused connection). */
  smtpReply(serverId: string, code: number | null): void
  sendDuration(stream: string, serverId: string, seconds: number): void
  quotaWarning(serverId: string): void
  /** A message whose job was missing and was added again by the sweeper. */
  sweeperRepair(stream: string): void
  /** A server's current state (1 for it, 0 for the others). */
  serverState(serverId: string, status: 'ok' | 'throttled' | 'down'): void
  /** A change of a server's state. */
  serverStateChange(serverId: string, status: string): void
}

/** The worker's Prometheus metrics in `registry` (with Node's process metrics). */
export function createDeliveryMetrics(registry: Registry): DeliveryMetrics {
  collectDefaultMetrics({ register: registry, prefix: 'outbound_worker_' })
  const messages = new Counter({
    name: 'outbound_messages_total',
    help: 'Message outcomes recorded, by stream and status (sent, bounced, failed, deferred)',
    labelNames: ['stream', 'status'],
    registers: [registry],
  })
  const replies = new Counter({
    name: 'outbound_smtp_replies_total',
    help: 'Replies of servers to a delivery, by server and class (2xx, 4xx, 5xx, none)',
    labelNames: ['server', 'class'],
    registers: [registry],
  })
  const duration = new Histogram({
    name: 'outbound_send_duration_seconds',
    help: 'Time from the start of a hand-over to the server reply',
    labelNames: ['stream', 'server'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    registers: [registry],
  })
  const warnings = new Counter({
    name: 'outbound_quota_warnings_total',
    help: 'Reservations that crossed 90 % of a daily limit',
    labelNames: ['server'],
    registers: [registry],
  })
  const repairs = new Counter({
    name: 'outbound_sweeper_repairs_total',
    help: 'Messages waiting for an attempt whose job was missing, added again by the sweeper',
    labelNames: ['stream'],
    registers: [registry],
  })
  const states = new Gauge({
    name: 'outbound_server_state',
    help: "A server's state: 1 for the state it is in (ok, throttled, down), 0 for the others",
    labelNames: ['server', 'state'],
    registers: [registry],
  })
  const stateChanges = new Counter({
    name: 'outbound_server_state_changes_total',
    help: "Changes of a server's state seen by this process, by the state entered",
    labelNames: ['server', 'state'],
    registers: [registry],
  })
  return {
    serverState: (server, status) => {
      for (const state of ['ok', 'throttled', 'down'] as const)
        states.set({ server, state }, state === status ? 1 : 0)
    },
    serverStateChange: (server, state) => stateChanges.inc({ server, state }),
    sweeperRepair: (stream) => repairs.inc({ stream }),
    outcome: (stream, status) => messages.inc({ stream, status }),
    smtpReply: (server, code) =>
      replies.inc({ server, class: code === null ? 'none' : `${Math.floor(code / 100)}xx` }),
    sendDuration: (stream, server, seconds) => duration.observe({ stream, server }, seconds),
    quotaWarning: (server) => warnings.inc({ server }),
  }
}

/** What a worker counts of webhook deliveries. */
export type WebhookMetrics = {
  /** One attempt to an endpoint: succeeded, pending (to be retried) or failed (no retry left). */
  attempted(endpointId: string, status: string): void
  /** How long the oldest event not yet turned into deliveries has waited. */
  oldestEventAge(seconds: number): void
}

/** The webhook metrics in `registry`. */
export function createWebhookMetrics(registry: Registry): WebhookMetrics {
  const attempts = new Counter({
    name: 'outbound_webhook_deliveries_total',
    help: 'Webhook delivery attempts, by endpoint and result (succeeded, pending: retried, failed)',
    labelNames: ['endpoint', 'result'],
    registers: [registry],
  })
  const age = new Gauge({
    name: 'outbound_webhook_oldest_pending_event_age_seconds',
    help: 'Age of the oldest event in the event streams not yet turned into deliveries',
    registers: [registry],
  })
  return {
    attempted: (endpoint, result) => attempts.inc({ endpoint, result }),
    oldestEventAge: (seconds) => age.set(seconds),
  }
}

/** A listener that serves `GET /metrics` from `registry` (METRICS_PORT). */
export async function serveMetrics(
  registry: Registry,
  port: number,
  host: string,
): Promise<Server> {
  const server = createServer((request, response) => {
    if (request.method !== 'GET' || request.url?.split('?')[0] !== '/metrics') {
      response.writeHead(404).end()
      return
    }
    registry.metrics().then(
      (body) => response.writeHead(200, { 'content-type': registry.contentType }).end(body),
      () => response.writeHead(500).end(),
    )
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, host, () => resolve())
  })
  return server
}
