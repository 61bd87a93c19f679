import { simulatedOutcome } from '@outbound/bounce'
import type { MessageTransport } from '../transports/message-transport.js'
import { createSandboxOutbox } from '../transports/sandbox-outbox.js'
import type { Attempt, DeliverDeps, Ended, Sending } from './types.js'

/** The server id in the records and metrics of sandbox mail: never a configured server's. */
export const SANDBOX_SERVER_ID = 'sandbox'

/**
 * Retry delays (seconds) of sandbox mail, instead of the stream's schedule: `defer@simulator.test`
 * is sent on its retry a few seconds later, so a CI run does not wait minutes.
 */
export const SANDBOX_RETRY_SCHEDULE_SECONDS: readonly number[] = [2, 2, 2, 2, 2]

/**
 * How a sandbox message is sent: everything routing and the rewrite rules decided (From,
 * envelope, Reply-To, DKIM by its alias domain), but no server. The record's routing keeps the
 * server the waterfall chose and says that it was not used; no server's quota, rate, connections
 * or health is touched.
 */
export function sandboxSending(sending: Sending): Sending {
  const chosen = sending.server === null ? 'the built-in default server' : sending.server.name
  return {
    ...sending,
    server: null,
    serverId: SANDBOX_SERVER_ID,
    routing: {
      ...sending.routing,
      reason: `${sending.routing.reason}; sandbox key: not handed to ${chosen}`,
    },
  }
}

/**
 * The transport of an attempt. The one place a sandbox message's transport is chosen: it can only
 * be the sandbox outbox, whatever server the routing chose.
 */
export function transportOf(
  { message }: Attempt,
  sending: Sending,
  deps: Pick<DeliverDeps, 'transports' | 'sandboxOutbox'>,
): MessageTransport {
  if (!message.sandbox) return deps.transports.forServer(sending.server)
  const deferredBefore = new Set(
    message.recipients.filter((r) => r.status === 'deferred').map((r) => r.address),
  )
  return createSandboxOutbox(deps.sandboxOutbox, deferredBefore)
}

/**
 * The suppression list as a sandbox message sees it: `suppressed@simulator.test` is on it, the
 * other simulator addresses never are (they act out their outcome on every run, even after
 * `bounce@` was suppressed by its hard bounce), other addresses as listed.
 */
export function sandboxSuppressions(
  addresses: readonly string[],
  listed: ReadonlySet<string>,
): Set<string> {
  const seen = new Set<string>()
  for (const address of addresses) {
    const outcome = simulatedOutcome(address)
    if (outcome === 'suppressed' || (outcome === null && listed.has(address))) seen.add(address)
  }
  return seen
}

/**
 * `complaint@simulator.test` is sent, then complained about. The sent part is the attempt itself;
 * this hook records the complaint once the attempt's outcome is written.
 */
export async function actOutComplaints(
  { message, log }: Attempt,
  ended: Ended | { kind: 'revoked' },
  deps: Pick<DeliverDeps, 'now'>,
): Promise<void> {
  if (!message.sandbox || ended.kind !== 'ended' || ended.outcome.kind !== 'replied') return
  for (const recipient of ended.outcome.accepted) {
    if (simulatedOutcome(recipient) === 'complaint')
      await recordSimulatedComplaint({ messageId: message.id, recipient, at: deps.now() }, log)
  }
}

/** Records the complaint a `complaint@simulator.test` recipient acts out. */
function recordSimulatedComplaint(
  complaint: { messageId: string; recipient: string; at: Date },
  log: Attempt['log'],
): Promise<void> {
  // merge: call the complaints module's "record a complaint" function here (the one that
  // `POST /v1/bounces/inbound` uses for an RFC 5965 report): a complaint record for
  // `GET /v1/complaints`, the recipient suppressed with reason `complaint` (the sandbox gate
  // ignores that for simulator addresses), the `email.complained` event with the message's
  // summary (`sandbox: true`), and the stats counter. Until then only the sent part is acted out.
  log.info(complaint, 'sandbox: complaint acted out (not recorded: complaints are not merged yet)')
  return Promise.resolve()
}
